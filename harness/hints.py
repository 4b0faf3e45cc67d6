"""Short, actionable hints for the failures generated code hits most.

A code-regeneration loop reads these next to the traceback, so each hint
says what to change, names the real alternatives present in the process
(close variable names, DataFrame columns, installed modules), and stays on
one line. Only called after a failure: the slow look-ups (pkgutil scan,
dir() of objects) cost nothing on the success path.
"""

import ast
import builtins
import difflib
import importlib.util
import inspect
import os
import pkgutil
import re
import sys

from . import describe, policy
from .errors import message, user_frames
from .program import source_line

# name -> the import that defines it, for NameErrors on well-known aliases.
COMMON_IMPORTS = {
    "np": "import numpy as np", "numpy": "import numpy as np",
    "pd": "import pandas as pd", "pandas": "import pandas as pd",
    "plt": "import matplotlib.pyplot as plt", "matplotlib": "import matplotlib",
    "scipy": "import scipy", "stats": "from scipy import stats",
    "math": "import math", "os": "import os", "sys": "import sys", "json": "import json",
    "re": "import re", "random": "import random", "time": "import time",
    "datetime": "import datetime  (or: from datetime import datetime)",
    "date": "from datetime import date", "timedelta": "from datetime import timedelta",
    "collections": "import collections", "Counter": "from collections import Counter",
    "defaultdict": "from collections import defaultdict", "deque": "from collections import deque",
    "namedtuple": "from collections import namedtuple",
    "OrderedDict": "from collections import OrderedDict",
    "itertools": "import itertools", "functools": "import functools",
    "reduce": "from functools import reduce", "partial": "from functools import partial",
    "lru_cache": "from functools import lru_cache", "statistics": "import statistics",
    "string": "import string", "csv": "import csv", "io": "import io",
    "Path": "from pathlib import Path", "pathlib": "import pathlib",
    "dataclass": "from dataclasses import dataclass",
    "field": "from dataclasses import field", "Enum": "from enum import Enum",
    "List": "from typing import List", "Dict": "from typing import Dict",
    "Optional": "from typing import Optional", "Any": "from typing import Any",
    "Tuple": "from typing import Tuple", "Union": "from typing import Union",
    "Decimal": "from decimal import Decimal", "Fraction": "from fractions import Fraction",
    "sqrt": "from math import sqrt", "pi": "from math import pi",
    "heapq": "import heapq", "bisect": "import bisect", "copy": "import copy",
    "deepcopy": "from copy import deepcopy", "pprint": "from pprint import pprint",
    "textwrap": "import textwrap", "subprocess": "import subprocess",
    "asyncio": "import asyncio", "threading": "import threading", "uuid": "import uuid",
    "hashlib": "import hashlib", "base64": "import base64", "glob": "import glob",
    "shutil": "import shutil", "tempfile": "import tempfile", "pickle": "import pickle",
    "sqlite3": "import sqlite3", "operator": "import operator",
}

# Installable name -> the distribution that provides it, for ModuleNotFoundError.
PIP_NAMES = {"sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "Pillow",
             "yaml": "PyYAML", "bs4": "beautifulsoup4", "skimage": "scikit-image",
             "dateutil": "python-dateutil", "attr": "attrs"}

# Missing module -> (module that may be installed here, what to use it for). A hint names only
# the ones importable in the execution (checked with find_spec when it is written).
ALTERNATIVES = {
    "sklearn": (("numpy", "numpy.linalg.lstsq / numpy.polyfit for regression"),
                ("scipy", "scipy.cluster.vq.kmeans2, scipy.spatial.distance, scipy.stats"),
                ("pandas", "pandas for preprocessing")),
    "statsmodels": (("scipy", "scipy.stats (linregress, ttest_ind...)"),
                    ("numpy", "numpy.polyfit / numpy.linalg.lstsq")),
    "torch": (("numpy", "numpy arrays and numpy.linalg"),),
    "tensorflow": (("numpy", "numpy arrays and numpy.linalg"),),
    "keras": (("numpy", "numpy arrays and numpy.linalg"),),
    "jax": (("numpy", "numpy"), ("scipy", "scipy.optimize")),
    "seaborn": (("matplotlib", "matplotlib.pyplot"), ("plotly", "plotly.express")),
    "polars": (("pandas", "pandas"),),
    "pyarrow": (("pandas", "pandas"), ("csv", "csv")),
    "networkx": (("scipy", "scipy.sparse.csgraph (shortest_path, connected_components)"),),
    "cv2": (("PIL", "PIL.Image"), ("numpy", "numpy arrays"), ("scipy", "scipy.ndimage")),
    "skimage": (("PIL", "PIL.Image"), ("scipy", "scipy.ndimage")),
    "tqdm": (("builtins", "a plain loop (print progress yourself)"),),
    "tabulate": (("pandas", "pandas.DataFrame.to_string() / to_markdown()"),),
    "openpyxl": (("csv", "csv"), ("pandas", "pandas.read_csv / to_csv")),
    "xlrd": (("csv", "csv"), ("pandas", "pandas.read_csv / to_csv")),
    "bs4": (("lxml", "lxml.html"), ("html", "html.parser")),
    "requests": (("urllib", "urllib.request (when the execution has network)"),),
    "simplejson": (("json", "json"),), "ujson": (("json", "json"),), "orjson": (("json", "json"),),
    "sympy": (("fractions", "fractions"),), "pydantic": (("dataclasses", "dataclasses"),),
    "xgboost": (("numpy", "numpy"), ("scipy", "scipy.optimize")),
    "lightgbm": (("numpy", "numpy"), ("scipy", "scipy.optimize")),
    "nltk": (("re", "re and str.split for tokenising"),
             ("collections", "collections.Counter for frequencies")),
}

# Attribute -> hint, for habits from other languages (JavaScript, Java, C++, Ruby, C#...).
# Keyed by the attribute alone, or (type name, attribute) where the right spelling depends on it.
_HABIT_ATTRIBUTES = {
    "push": "Python lists use `lst.append(x)` (JavaScript's push)",
    "push_back": "Python lists use `lst.append(x)` (C++'s push_back)",
    "length": "use `len(x)` for the length (there is no `.length`)",
    "size": "use `len(x)` for the number of items (there is no `.size()`)",
    "count": "use `len(x)` for the number of items",
    "len": "use `len(x)`: length is a builtin function, not a method",
    "contains": "use `item in container` (`sub in text` for strings)",
    "includes": "use `item in container` (`sub in text` for strings)",
    "has": "use `item in container`",
    "containsKey": "use `key in mapping`",
    "forEach": "use a `for item in items:` loop",
    "each": "use a `for item in items:` loop",
    "map": "use a list comprehension `[f(x) for x in items]` or `list(map(f, items))`",
    "filter": "use a list comprehension `[x for x in items if cond(x)]`",
    "reduce": "use `functools.reduce(f, items)`, or `sum()` / a loop",
    "toUpperCase": "use `text.upper()`", "toLowerCase": "use `text.lower()`",
    "toString": "use `str(x)`", "trim": "use `text.strip()`",
    "indexOf": "use `seq.index(x)` (raises ValueError when missing) or `text.find(sub)`",
    "charAt": "use indexing `text[i]`",
    "substring": "use slicing `text[start:end]`", "substr": "use slicing `text[start:end]`",
    "equals": "use `a == b`", "isEmpty": "use `not x` (or `len(x) == 0`)",
    "addAll": "use `lst.extend(other)`", "put": "use `mapping[key] = value`",
    "get": "use indexing `seq[i]` (lists have no .get)",
    "first": "use `seq[0]`", "last": "use `seq[-1]`",
    "toFixed": "use `round(x, n)` or `f\"{x:.2f}\"`",
    "startsWith": "use `text.startswith(prefix)`", "endsWith": "use `text.endswith(suffix)`",
    "replaceAll": "use `text.replace(old, new)` (it replaces every occurrence)",
    "splice": "use `del lst[i]`, `lst.pop(i)` or slice assignment",
    "remove_at": "use `lst.pop(i)`", "removeAt": "use `lst.pop(i)`",
    "keys": "lists have no keys: use `range(len(lst))` or `enumerate(lst)`",
    ("list", "join"): "join is a str method: `\", \".join(items)` (items must be str)",
    ("list", "add"): "Python lists use `lst.append(x)`",
    ("str", "append"): "strings are immutable: `text += more`, or collect parts in a list "
                       "and `\"\".join(parts)`",
    ("str", "reverse"): "use `text[::-1]`",
    ("tuple", "append"): "tuples are immutable: use a list, or `t + (x,)`",
    ("dict", "append"): "set a key: `mapping[key] = value`",
    ("dict", "add"): "set a key: `mapping[key] = value`",
    ("set", "append"): "sets use `s.add(x)`",
    ("ndarray", "append"): "numpy arrays are fixed size: `numpy.append(arr, x)` returns a new "
                           "one; better, collect in a list and call numpy.array once",
    ("DataFrame", "append"): "DataFrame.append was removed in pandas 2: use "
                             "`pandas.concat([df, new_rows])`",
}

# Names from other languages that raise NameError -> their Python spelling.
_HABIT_NAMES = {
    "true": "use `True` (capitalised)", "false": "use `False` (capitalised)",
    "null": "use `None`", "nil": "use `None`", "undefined": "use `None`", "NULL": "use `None`",
    "console": "use `print(...)` (there is no console.log)", "println": "use `print(...)`",
    "puts": "use `print(...)`", "echo": "use `print(...)`", "System": "use `print(...)`",
    "printf": "use `print(f\"...\")` or `print(\"%d\" % x)`",
    "parseInt": "use `int(text)`", "parseFloat": "use `float(text)`",
    "Math": "use the `math` module (`import math`; `math.floor`, `max`, `abs` are builtins)",
    "length": "use `len(x)`", "this": "use `self` (the first parameter of a method)",
    "string": "the type is `str`", "String": "the type is `str`", "Integer": "the type is `int`",
    "boolean": "the type is `bool`", "Boolean": "the type is `bool`", "Array": "use a list `[]`",
    "HashMap": "use a dict `{}`", "ArrayList": "use a list `[]`",
}

_MAX_HINTS = 3
_CALLER_FRAMES = 10  # innermost user frames whose locals are searched for close names


def _close(word, candidates, n=3):
    return difflib.get_close_matches(word, [c for c in candidates if isinstance(c, str)], n, 0.6)


def _quoted(names):
    return ", ".join("`%s`" % n for n in names)


def _failure_site(exc, namespace):
    """(scope, lineno, module_line): user globals overlaid with the locals of the user frames,
    callers first so the innermost frame's win; the line the innermost frame was running and
    the one the module was (None when there is no such frame)."""
    scope = dict(namespace)
    frames = user_frames(exc.__traceback__)
    for frame, _ in frames[-_CALLER_FRAMES:]:
        if frame.f_locals is not namespace:
            scope.update(frame.f_locals)
    module_line = frames[0][1] if frames and frames[0][0].f_code.co_name == "<module>" else None
    return scope, (frames[-1][1] if frames else None), module_line


def _is_dataframe(value):
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _name_error(exc, scope, site, source_tree, allowed_imports, namespace):
    lineno, module_line = site
    name = getattr(exc, "name", None)
    if isinstance(exc, UnboundLocalError):  # 3.11 does not set .name for these
        match = re.search(r"local variable '(\w+)'", message(exc))
        name = match.group(1) if match else None
    if not isinstance(name, str):
        return []
    if isinstance(exc, UnboundLocalError):
        return _unbound_local(name, scope, namespace)
    if name == "input_data":
        return ["`input_data` is only defined when the request carries input_data: send it, "
                "or check `'input_data' in dir()` first"]
    if name in COMMON_IMPORTS:
        statement = COMMON_IMPORTS[name]
        module = statement.split()[1]
        if allowed_imports is not None and not policy.module_allowed(module, allowed_imports):
            return ["`%s` is not defined, and `%s` cannot be imported under the restricted "
                    "policy; %s" % (name, module, policy.import_hint(allowed_imports))]
        return ["`%s` is not defined: add `%s` at the top of the code" % (name, statement)]
    found = ["`%s` is not Python: %s" % (name, _HABIT_NAMES[name])] if name in _HABIT_NAMES else []
    placed = _binding_hints(name, _bindings(source_tree, name), module_line or lineno)
    close = _close(name, list(scope) + dir(builtins))
    suggested = ["`%s` is not defined; did you mean %s?" % (name, _quoted(close))] if close else []
    # Read by the very statement that binds it (`totl += x`): most likely a typo, close names first.
    typo = bool(placed) and placed[0].startswith("`%s` is read on" % name)
    found += suggested + placed if typo else placed + suggested
    return found or ["`%s` is not defined anywhere in the code: define it or import it" % name]


def _unbound_local(name, scope, namespace):
    """A function reads its local `name` before giving it a value: a typo of a name it has
    (`totl += x` for `total`), or a module-level variable it means to update."""
    found = []
    close = _close(name, [n for n in scope if n != name])
    if name in namespace:
        found.append("`%s` is assigned inside the function, so it is local there: declare "
                     "`global %s` to update the module-level one, or assign it before reading "
                     "it" % (name, name))
    if close:
        found.append("`%s` has no value yet in this function; did you mean %s?"
                     % (name, _quoted(close)))
    if name not in namespace:
        found.append("`%s` is assigned inside the function, so it is local there: give it a "
                     "value (e.g. `%s = 0`) before reading it" % (name, name))
    return found


def _binding_hints(name, bindings, running):
    """Hints from where the module binds `name` ((lineno, scope, augmented) triples) relative
    to `running`, the module-level line that was running."""
    module = [line for line, scope, augmented in bindings if scope is None and not augmented]
    later = [line for line in module if running and line > running]
    earlier = [line for line in module if running and line < running]
    if later and not earlier:
        return ["`%s` is assigned on line %d, after it is first used: move the assignment "
                "above the use" % (name, min(later))]
    if earlier:
        return ["`%s` is assigned on line %d, but that line did not run before the use "
                "(a branch not taken, or a `del`)" % (name, min(earlier))]
    if any(scope is None and line == running for line, scope, _ in bindings):
        return ["`%s` is read on line %d by the statement that assigns it, before it has a "
                "value: give it a starting value above (e.g. `%s = 0`)" % (name, running, name)]
    inner = [(line, scope) for line, scope, _ in bindings if scope is not None]
    if inner:
        return ["`%s` is assigned on line %d inside `%s`, where it is local: return it from "
                "there and assign the result, or declare `global %s` in it"
                % (name, inner[0][0], inner[0][1], name)]
    return []


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.GeneratorExp)


def _bindings(tree, name):
    """[(lineno, scope, augmented)] for each place the code binds `name`: scope is None at module
    level (or under `global name`), else the def/class (or `lambda`, `comprehension`) whose
    scope the binding is in; augmented for `name += ...`, which reads before it binds."""
    found, pending = [], [(tree, None)] if tree is not None else []
    while pending:
        node, scope = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name == name:
                found.append((node.lineno, scope, False))
            if not any(isinstance(n, ast.Global) and name in n.names for n in ast.walk(node)):
                scope = node.name
        elif isinstance(node, _SCOPES):
            scope = "lambda" if isinstance(node, ast.Lambda) else "comprehension"
        elif isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            found.append((node.lineno, scope, False))
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) \
                and node.target.id == name:
            found.append((node.lineno, scope, True))
            pending.append((node.value, scope))
            continue
        elif isinstance(node, ast.alias) and (node.asname or node.name.partition(".")[0]) == name:
            found.append((node.lineno, scope, False))
        elif isinstance(node, ast.arg) and node.arg == name:
            found.append((node.lineno, scope, False))
        pending.extend((child, scope) for child in ast.iter_child_nodes(node))
    return sorted(found)


def _available_modules():
    names = {m.partition(".")[0] for m in sys.modules}
    try:
        names.update(m.name for m in pkgutil.iter_modules())
    except Exception:
        pass
    return {n for n in names if not n.startswith("_")}


def _module_not_found(exc):
    name = getattr(exc, "name", None)
    if not isinstance(name, str):
        return []
    root = name.partition(".")[0]
    available = _available_modules()
    if root in available and root != name:
        return ["`%s` is installed but has no submodule `%s`" % (root, name)]
    text = "module `%s` is not installed here and cannot be installed from inside the " \
           "execution; use the installed modules" % root
    if root in PIP_NAMES:
        text += " (`%s` is the `%s` package)" % (root, PIP_NAMES[root])
    close = _close(root, available)
    if close:
        text += "; available similar: " + _quoted(close)
    found = [text]
    instead = [use for module, use in ALTERNATIVES.get(root, ()) if _importable(module)]
    if instead:
        found.append("installed here and doing the job of `%s`: %s" % (root, "; ".join(instead)))
    return found


def _importable(module):
    if module in sys.modules or module == "builtins":
        return True
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _import_error(exc):
    match = re.search(r"cannot import name '([^']+)' from '([^']+)'", message(exc))
    if not match:
        return []
    name, module_name = match.groups()
    module = sys.modules.get(module_name)
    if module is None:
        return []
    close = _close(name, [n for n in dir(module) if not n.startswith("_")])
    text = "`%s` has no `%s`" % (module_name, name)
    return [text + "; close names: " + _quoted(close) if close else text]


# pandas wraps the missing column(s) in a sentence; the key is what the quotes hold.
_PANDAS_KEY_TEXT = re.compile(
    r"^(?:Columns? not found: |Column\(s\) |None of |)(\[.*?\]|'.*?'|\S+?)"
    r"(?: do not exist| are in the \w+| not in index| not found in axis|)$")
_QUOTED = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _missing_key(text):
    """The key a KeyError's text names: `revenu` for 'Column not found: revenu', for
    "Column(s) ['revenu'] do not exist", "['revenu'] not in index"...; else the text."""
    match = _PANDAS_KEY_TEXT.match(text)
    if match is None or match.group(1) == text:
        return text
    quoted = _QUOTED.findall(match.group(1))
    return quoted[0] if quoted else match.group(1)


def _columns(value):
    """The column names of a DataFrame, or of the frame a GroupBy groups; else None."""
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return None
    if isinstance(value, pandas.core.groupby.GroupBy):
        value = value.obj
    if isinstance(value, pandas.DataFrame):
        return [str(c) for c in value.columns]
    return None


def _key_error(exc, scope):
    if not exc.args or not isinstance(exc.args[0], str):
        return ["the key is missing: test with `key in mapping` or use `mapping.get(key)`"]
    key = _missing_key(exc.args[0])
    for name, value in reversed(list(scope.items())):  # innermost frame's names first
        try:
            columns = _columns(value)
            if columns is not None:
                keys, what = columns, "columns"
            elif type(value) is dict:
                keys, what = list(value)[:1000], "keys"
            else:
                continue
        except Exception:
            continue
        close = _close(key, keys)
        if close and key not in keys:
            return ["%r is not among the %s of `%s`; closest: %s"
                    % (key, what, name, _quoted(close))]
    return ["key %r is missing: test with `key in mapping`, use `mapping.get(key)`, or print "
            "the available keys/columns first" % key]


def _habit(obj, name):
    """A hint for `obj.name` written as in another language, or None."""
    kind = type(obj).__name__
    hint = _HABIT_ATTRIBUTES.get((kind, name)) or _HABIT_ATTRIBUTES.get(name)
    if hint is None:
        return None
    return "`%s` objects have no `.%s`: %s" % (kind, name, hint)


def _attribute_error(exc):
    obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    text = message(exc)
    if "'NoneType' object has no attribute" in text:
        return ["the object is None: a function without `return`, or an in-place method "
                "(list.sort, list.append, dict.update...) returned None"]
    if not isinstance(name, str):
        return []
    habit = _habit(obj, name)
    if habit is not None:
        return [habit]
    try:
        candidates = [n for n in dir(obj) if not n.startswith("_")]
        if _is_dataframe(obj):
            candidates += [str(c) for c in obj.columns]
    except Exception:
        return []
    close = _close(name, candidates)
    return ["no attribute `%s`; close names: %s" % (name, _quoted(close))] if close else []


def _shadowed_builtins(scope):
    return [n for n, v in scope.items()
            if n in builtins.__dict__ and not n.startswith("_") and v is not builtins.__dict__[n]]


def _innermost_line(exc):
    """The text of the line the innermost user frame of `exc` was running (its own cell's)."""
    frames = user_frames(exc.__traceback__)
    return source_line(frames[-1][1], frames[-1][0].f_code.co_filename) if frames else ""


def _type_error(exc, scope, lineno):
    text = message(exc)
    found = []
    if "NoneType" in text:
        found.append("a value is None here: a function without `return`, or an in-place method "
                     "(list.sort, list.append, dict.update...) returned None")
    if "can only concatenate str" in text or ("unsupported operand" in text and "'str'" in text):
        found.append("mixing str and numbers: convert explicitly (str(x), int(s), float(s)) "
                     "or use an f-string")
    missing = re.match(r"([\w.]+)\(\) (missing \d+ required|takes \d+ positional)", text)
    if missing:
        found.append("the call does not match the definition of `%s`%s" % (
            missing.group(1), _signature_text(_resolve(scope, missing.group(1)))))
        if "takes" in text and "given" in text and "." in missing.group(1):
            found.append("for a method, the first parameter must be `self`")
    called = re.match(r"'(\w+)' object is not callable", text)
    if called and called.group(1) in ("int", "tuple") and lineno:
        attribute = re.search(r"\.(size|shape|length|ndim|dtype|T)\(\)", _innermost_line(exc))
        if attribute:
            found.append("`.%s` is an attribute, not a method: drop the `()`"
                         % attribute.group(1))
    if "object is not callable" in text or "object is not subscriptable" in text:
        shadowed = _shadowed_builtins(scope)
        if shadowed:
            found.append("these variables hide builtins of the same name: %s; rename them"
                         % _quoted(shadowed))
    return found


def _resolve(scope, dotted):
    """scope['A'].go for 'A.go' (None when it does not resolve)."""
    first, *rest = dotted.split(".")
    value = scope.get(first)
    for part in rest:
        value = getattr(value, part, None)
    return value


def _signature_text(fn):
    try:
        return ": %s%s" % (fn.__name__, inspect.signature(fn))
    except Exception:
        return ""


def _value_error(exc):
    text = message(exc)
    if "truth value of a" in text and "ambiguous" in text:
        return ["use .any() / .all() for a whole array or Series, and `&` / `|` with "
                "parentheses instead of `and` / `or` for element-wise conditions"]
    if "could not convert string to" in text or "invalid literal for int()" in text:
        return ["the text is not a number: strip spaces and thousands separators first, or "
                "guard the conversion with try/except ValueError"]
    if "values to unpack" in text:
        return ["the number of names on the left must equal the number of items on the right"]
    return []


def _file_not_found(exc):
    try:
        present = sorted(os.listdir("."))[:10]
    except OSError:
        present = []
    listing = ("files present: " + _quoted(present)) if present else "it is empty"
    return ["the working directory is a fresh private directory and only holds files the code "
            "writes itself (%s); create the file first or use input_data" % listing]


_STATIC_HINTS = (
    (ZeroDivisionError, "a divisor is zero: guard it (`x / d if d else 0`); an empty collection "
                        "(len 0) or a zero count is the usual cause"),
    (IndexError, "the index is past the end: valid indices are 0..len(seq)-1 and an empty "
                 "sequence has none; check len() before indexing"),
    (RecursionError, "recursion went deeper than sys.getrecursionlimit(): check that the base "
                     "case is reached, or rewrite the recursion as a loop"),
    (MemoryError, "the execution ran out of memory: process the data in chunks, use generators, "
                  "or smaller dtypes"),
    (PermissionError, "only the working directory is writable: write files with relative paths"),
    (UnicodeDecodeError, "the file is not UTF-8: open it with the right encoding=..., "
                         "errors='replace', or read bytes"),
    (StopIteration, "next() reached the end of the iterator: pass a default, next(it, None)"),
)


def for_exception(exc, namespace, source_tree=None, allowed_imports=None):
    """Hints for an exception raised while the user code ran.

    `allowed_imports` is the restricted policy's import allow-list (None
    under the standard policy), so suggested imports are ones that work.
    Looking for close names may run user code (a __dir__, a property), so
    the search is time-bounded; no hints rather than a stuck report.
    """
    try:
        with describe.CallGuard(per_call=1.0, budget=1.0) as guard:
            found = guard.call(_for_exception, exc, namespace, source_tree, allowed_imports)
    except BaseException:
        return []
    return found[:_MAX_HINTS]


def _for_exception(exc, namespace, source_tree, allowed_imports):
    if isinstance(exc, policy.PolicyViolation):
        return [policy.hint(exc)]
    scope, lineno, module_line = _failure_site(exc, namespace)
    if isinstance(exc, NameError):
        return _name_error(exc, scope, (lineno, module_line), source_tree, allowed_imports,
                           namespace)
    if isinstance(exc, ModuleNotFoundError):
        return _module_not_found(exc)
    if isinstance(exc, ImportError):
        return _import_error(exc)
    if isinstance(exc, KeyError):
        return _key_error(exc, scope)
    if isinstance(exc, AttributeError):
        return _attribute_error(exc)
    if isinstance(exc, TypeError):
        return _type_error(exc, scope, lineno)
    if isinstance(exc, FileNotFoundError):
        return _file_not_found(exc)
    if (isinstance(exc, SystemError) and any(text in message(exc) for text in _NULL_RESULT)
            and len(user_frames(exc.__traceback__)) >= 500):
        return [_RUNAWAY_RECURSION]  # deep: not some C extension's bug
    found = _value_error(exc) if isinstance(exc, ValueError) else []
    found += [text for kind, text in _STATIC_HINTS if isinstance(exc, kind)]
    return found


_NULL_RESULT = ("without setting an exception", "error return without exception set")
# CPython 3.11 reports a frame it could not allocate (memory exhausted by a recursion whose
# limit was raised) as a SystemError about a NULL result, not as MemoryError.
_RUNAWAY_RECURSION = ("the recursion ran out of memory (CPython reports that as this "
                      "SystemError): check that the base case is reached, rewrite the recursion "
                      "as a loop, and keep sys.setrecursionlimit() near its default")


# (pattern in the SyntaxError message, hint) — first match wins.
_SYNTAX_HINTS = (
    ("was never closed", "an opening bracket, parenthesis or brace is never closed: "
                         "add the closing one"),
    ("unmatched", "there is a closing bracket without its opening one: remove it or add "
                  "the opening one"),
    ("does not match opening parenthesis", "the closing bracket does not match the opening "
                                           "one: pair (), [] and {} correctly"),
    ("unterminated string", "a string is not closed: end it with the same quote it starts with"),
    ("unterminated triple-quoted", "a triple-quoted string is not closed: add the closing quotes"),
    ("expected ':'", "add a colon at the end of the def/if/elif/else/for/while/class/with line"),
    ("Missing parentheses in call to 'print'", "this is Python 3: call print(...) with "
                                               "parentheses"),
    ("Perhaps you forgot a comma", "items in a list, tuple, dict or call must be separated by "
                                   "commas"),
    ("'return' outside function", "`return` only works inside a def: print the value, or put "
                                  "it as the last line (a trailing expression is returned as "
                                  "result)"),
    ("outside async function", "wrap the code in `async def main(): ...` and run it with "
                               "`asyncio.run(main())`"),
    ("'await' outside function", "wrap the code in `async def main(): ...` and run it with "
                                 "`asyncio.run(main())`"),
    ("invalid character", "replace typographic characters (curly quotes, long dashes) with "
                          "their ASCII equivalents"),
    ("invalid non-printable character", "remove the invisible character (often a "
                                        "non-breaking space) from the line"),
    ("cannot assign to", "the left side of `=` must be a name, attribute or subscript; "
                         "use `==` to compare"),
)


# (regex on the offending line, hint) for syntax from other languages; checked before the
# message table, whose advice ("expected ':'") would be wrong for them.
_SYNTAX_HABITS = tuple((re.compile(pattern), hint) for pattern, hint in (
    (r"&&|\|\|", "use `and` / `or` instead of `&&` / `||`"),
    (r"===|!==", "use `==` / `!=` (there is no `===`)"),
    (r"(^|[\s(=])!(?!=)\w", "use `not x` instead of `!x`"),
    (r"\w(\+\+|--)\s*;?\s*$|^\s*(\+\+|--)\w", "use `x += 1` / `x -= 1` (there is no ++ / --)"),
    (r"^\s*\}?\s*else if\b", "use `elif` instead of `else if`"),
    (r"^\s*//", "comments start with `#` (`//` is floor division)"),
    (r"^\s*(function|func|fn)\s+\w+\s*\(", "define functions with `def name(args):`"),
    (r"^\s*(const|let|var|auto|int|String|double|float)\s+\w+\s*=",
     "assign without a declaration keyword or type: `name = value`"),
    (r"^\s*\}?\s*catch\b", "use `except SomeError as e:` instead of `catch`"),
    (r"^\s*throw\b", "use `raise SomeError(...)` instead of `throw`"),
    (r"\?[^:]*:", "use `a if condition else b` instead of `condition ? a : b`"),
    (r"^\s*(if|elif|else|for|while|def|class|try|with)\b.*\{\s*$|^\s*\}\s*$",
     "blocks are made by `:` and indentation, not braces"),
))


def _syntax_habit(line):
    for pattern, hint in _SYNTAX_HABITS:
        if pattern.search(line):
            return hint
    return None


def for_syntax_error(exc, source):
    """Hints for a SyntaxError/IndentationError found while compiling."""
    text = exc.msg or ""
    line = exc.text or ""
    if "```" in line or source.lstrip().startswith("```"):
        return ["the code contains markdown fences (```): send only the Python code"]
    if isinstance(exc, (IndentationError, TabError)):
        return ["indent consistently (4 spaces per level, no tabs mixed with spaces); every "
                "block after `:` needs at least one indented line (use `pass` for an empty one)"]
    habit = _syntax_habit(line.rstrip("\n"))
    if habit is not None:
        return [habit]
    for pattern, hint in _SYNTAX_HINTS:
        if pattern in text:
            return [hint]
    return ["fix the syntax on line %s: check brackets, quotes, colons and commas" % exc.lineno]
