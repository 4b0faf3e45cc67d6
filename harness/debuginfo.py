"""debug_info: what a code-regeneration loop needs to fix the code.

Built after the user code has finished, from its globals, its AST and the
exception it raised. Every step that touches user objects goes through
describe.CallGuard, so a hostile __repr__ can neither crash nor hang it.
"""

import ast
import functools
import inspect
import sys
import types

from . import describe, errors
from .program import is_code_file

MAX_VARIABLES = 200
LOCALS_FRAMES = 5  # innermost function frames of the failure whose locals are shown
MAX_FRAME_LOCALS = 20  # locals shown per frame
_WRAPPER_TYPES = (types.FunctionType, functools._lru_cache_wrapper)
_NOT_VARIABLES = (types.ModuleType, type, types.FunctionType, types.BuiltinFunctionType,
                  functools._lru_cache_wrapper)


class SourceFacts:
    """What the AST says about imports and classes, from one walk.

    `imports`: top-level module names in order of first import;
    `import_bindings`: names bound by import statements (`np`, `sqrt`...),
    which are not variables; `class_lines`: class name -> first def line.
    The walk is skipped when the source cannot contain either.
    """

    def __init__(self, prog):
        self.imports = []
        self.import_bindings = set()
        self.class_lines = {}
        if prog is not None and ("import" in prog.source or "class" in prog.source):
            for node in ast.walk(prog.tree):
                self._visit(node)

    def _visit(self, node):
        if isinstance(node, ast.ClassDef):
            self.class_lines.setdefault(node.name, node.lineno)
            return
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module] if node.level == 0 and node.module else []
        else:
            return
        for alias in node.names:
            self.import_bindings.add(alias.asname or alias.name.partition(".")[0])
        for name in modules:
            root = name.partition(".")[0]
            if root not in self.imports:
                self.imports.append(root)


def _user_function(value):
    """The innermost function from the submitted code that `value` is or
    wraps (through functools.wraps / lru_cache), else None."""
    found = None
    for _ in range(8):
        if isinstance(value, types.FunctionType) and is_code_file(value.__code__.co_filename):
            found = value
        if not isinstance(value, _WRAPPER_TYPES):
            break
        value = vars(value).get("__wrapped__")
    return found


def _signature(fn):
    try:
        return str(inspect.signature(fn))
    except (TypeError, ValueError):
        return None


def functions_defined(namespace):
    """[{name, lineno, signature}] for global names bound to user functions."""
    found = []
    for name, value in namespace.items():
        fn = _user_function(value)
        if fn is not None:
            found.append({"name": name, "lineno": fn.__code__.co_firstlineno,
                          "signature": _signature(fn)})
    return found


def _is_user_class(value):
    return isinstance(value, type) and value.__dict__.get("__module__") == "__main__"


def classes_defined(namespace, class_lines):
    """[{name, lineno, bases, methods}] for classes defined by the code
    (plus `fields` for dataclasses)."""
    found = []
    for name, value in namespace.items():
        if not _is_user_class(value):
            continue
        own = value.__dict__
        entry = {
            "name": name,
            "lineno": class_lines.get(value.__name__),
            "bases": [b.__qualname__ for b in value.__bases__ if b is not object],
            "methods": sorted(k for k, v in own.items()
                              if isinstance(v, (types.FunctionType, classmethod, staticmethod,
                                                property))),
        }
        fields = own.get("__dataclass_fields__")
        if isinstance(fields, dict):
            entry["fields"] = [str(f) for f in fields]
        found.append(entry)
    return found


def variables_after(namespace, hidden, repr_limit, guard, limit=MAX_VARIABLES):
    """({name: description}, truncated) for the user's data globals (or a frame's locals),
    at most `limit` of them.

    Left out: dunders, modules, functions and classes (reported in their own
    lists), names bound by import statements, and `hidden` (the harness's own
    bindings, e.g. input_data while the user has not rebound it).
    """
    found = {}
    for name, value in namespace.items():
        if name.startswith("__") or name in hidden or isinstance(value, _NOT_VARIABLES):
            continue
        if len(found) == limit:
            return found, True
        try:
            found[name] = describe.describe(value, repr_limit, guard)
        except describe.Expired:
            found[name] = {"type": describe.type_name(value), "repr": "<repr timed out>"}
    return found, False


def add_frame_locals(entry, exc, repr_limit, guard):
    """Give the innermost LOCALS_FRAMES function frames of `entry["traceback"]` (the record
    of `exc`) their `locals`, described as variables are (`locals_truncated` past
    MAX_FRAME_LOCALS). Module-level frames are left out: their locals are the globals."""
    frames = errors.user_frames(exc.__traceback__)
    shown = 0
    for item, (frame, _) in zip(reversed(entry["traceback"]), reversed(frames)):
        if shown == LOCALS_FRAMES:
            break
        if frame.f_code.co_name == "<module>":
            continue
        shown += 1
        try:
            item["locals"], truncated = variables_after(frame.f_locals, (), repr_limit, guard,
                                                        MAX_FRAME_LOCALS)
        except describe.Expired:
            break
        if truncated:
            item["locals_truncated"] = True


def _hidden_names(namespace, facts, bound_input):
    hidden = set(facts.import_bindings)
    if bound_input is not None and namespace.get("input_data", None) is bound_input[0]:
        hidden.add("input_data")
    return hidden


def build(namespace, prog, exc, hints, resources, repr_limit, bound_input=None, tracer=None):
    """Assemble debug_info.

    `namespace` is the user's globals after the run (a snapshot dict), `prog`
    the Program (None when the code did not compile), `exc` the exception
    that ended the run or None, `bound_input` a 1-tuple holding the
    input_data object the harness bound (None when none was).
    """
    facts = SourceFacts(prog)
    with describe.CallGuard() as guard:
        variables, truncated = variables_after(
            namespace, _hidden_names(namespace, facts, bound_input), repr_limit, guard)
    info = {
        "variables_after": variables,
        "functions_defined": functions_defined(namespace),
        "classes_defined": classes_defined(namespace, facts.class_lines),
        "imports": [n for n in facts.imports if n in sys.modules],
        "exceptions": errors.exception_entries(exc) if exc is not None else [],
        "hints": hints,
        "resources": resources,
    }
    if truncated:
        info["variables_truncated"] = True
    if info["exceptions"] and info["exceptions"][0]["traceback"]:
        with describe.CallGuard(budget=2.0) as guard:
            add_frame_locals(info["exceptions"][0], exc, repr_limit, guard)
    if tracer is not None:
        info.update(tracer.report())
    return info
