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
import inspect
import os
import pkgutil
import re
import sys

from . import describe, policy
from .errors import message, user_frames

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
             "yaml": "PyYAML", "bs4": "beautifulsoup4", "skimage": "scikit-image"}

_MAX_HINTS = 3


def _close(word, candidates, n=3):
    return difflib.get_close_matches(word, [c for c in candidates if isinstance(c, str)], n, 0.6)


def _quoted(names):
    return ", ".join("`%s`" % n for n in names)


def _failure_site(exc, namespace):
    """(scope, lineno): user globals overlaid with the locals of the innermost
    user frame, and the line that frame was running (None if no user frame)."""
    scope = dict(namespace)
    frames = user_frames(exc.__traceback__)
    if not frames:
        return scope, None
    frame, lineno = frames[-1]
    if frame.f_locals is not namespace:
        scope.update(frame.f_locals)
    return scope, lineno


def _is_dataframe(value):
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(value, pandas.DataFrame)


def _name_error(exc, scope, lineno, source_tree, allowed_imports):
    name = getattr(exc, "name", None)
    if isinstance(exc, UnboundLocalError):  # 3.11 does not set .name for these
        match = re.search(r"local variable '(\w+)'", message(exc))
        name = match.group(1) if match else None
    if not isinstance(name, str):
        return []
    if isinstance(exc, UnboundLocalError):
        return ["`%s` is assigned inside the function, so it is local there: assign it before "
                "reading it, or declare `global %s` to use the module-level one" % (name, name)]
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
    found = []
    bound_at = _first_binding(source_tree, name)
    if bound_at and lineno and bound_at > lineno:
        found.append("`%s` is assigned on line %d, after it is first used: move the assignment "
                     "above the use" % (name, bound_at))
    elif bound_at:
        found.append("`%s` is assigned on line %d, but that line did not run before the use "
                     "(a branch not taken, or a `del`)" % (name, bound_at))
    close = _close(name, list(scope) + dir(builtins))
    if close:
        found.append("`%s` is not defined; did you mean %s?" % (name, _quoted(close)))
    return found or ["`%s` is not defined anywhere in the code: define it or import it" % name]


def _first_binding(tree, name):
    """First line where `name` is bound (assignment, def, import...), if any."""
    if tree is None:
        return None
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            lines.append(node.lineno)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and node.name == name:
            lines.append(node.lineno)
        elif isinstance(node, ast.alias) and (node.asname or node.name.partition(".")[0]) == name:
            lines.append(node.lineno)
    return min(lines) if lines else None


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
    return [text]


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


def _key_error(exc, scope):
    if not exc.args or not isinstance(exc.args[0], str):
        return ["the key is missing: test with `key in mapping` or use `mapping.get(key)`"]
    key = exc.args[0]
    for name, value in scope.items():
        try:
            if _is_dataframe(value):
                keys, what = [str(c) for c in value.columns], "columns"
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


def _attribute_error(exc):
    obj, name = getattr(exc, "obj", None), getattr(exc, "name", None)
    text = message(exc)
    if "'NoneType' object has no attribute" in text:
        return ["the object is None: a function without `return`, or an in-place method "
                "(list.sort, list.append, dict.update...) returned None"]
    if not isinstance(name, str):
        return []
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


def _type_error(exc, scope):
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
    scope, lineno = _failure_site(exc, namespace)
    if isinstance(exc, NameError):
        return _name_error(exc, scope, lineno, source_tree, allowed_imports)
    if isinstance(exc, ModuleNotFoundError):
        return _module_not_found(exc)
    if isinstance(exc, ImportError):
        return _import_error(exc)
    if isinstance(exc, KeyError):
        return _key_error(exc, scope)
    if isinstance(exc, AttributeError):
        return _attribute_error(exc)
    if isinstance(exc, TypeError):
        return _type_error(exc, scope)
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


def for_syntax_error(exc, source):
    """Hints for a SyntaxError/IndentationError found while compiling."""
    text = exc.msg or ""
    line = exc.text or ""
    if "```" in line or source.lstrip().startswith("```"):
        return ["the code contains markdown fences (```): send only the Python code"]
    if isinstance(exc, (IndentationError, TabError)):
        return ["indent consistently (4 spaces per level, no tabs mixed with spaces); every "
                "block after `:` needs at least one indented line (use `pass` for an empty one)"]
    for pattern, hint in _SYNTAX_HINTS:
        if pattern in text:
            return [hint]
    return ["fix the syntax on line %s: check brackets, quotes, colons and commas" % exc.lineno]
