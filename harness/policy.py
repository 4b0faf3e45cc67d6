"""The restricted policy ("policy": "restricted"), RestrictedPython-style.

Debian's python3-restrictedpython does not work on Python 3.11, so this is
our own. It is defense in depth inside the OS sandbox, in layers,
each closing what the one before cannot see:

1. check(): compile-time AST rules. When one fails, nothing runs.
   - No name, attribute, def/class/parameter/keyword/import alias starting
     with "_", except `_` itself (the throwaway variable) and
     ALLOWED_UNDERSCORE_NAMES. As in RestrictedPython, `_x` private names
     are rejected too: "_"-names are where the harness keeps its guards.
   - No attribute in FORBIDDEN_ATTRIBUTES (frame/generator/traceback
     internals, mro, ctypes raw memory, pandas eval/query).
   - No FORBIDDEN_NAMES (exec, eval, compile, globals, vars, locals,
     breakpoint, input, help), no star or relative imports, imports only
     from the allow-list. `global` and `nonlocal` are allowed: they only
     rebind names the other rules already vet.
2. transform(): `x.format` / `x.format_map` loads go through the guarded
   getattr (format fields may not walk into "_" names), and the object of
   every attribute store/delete goes through a write guard (library classes
   and modules cannot be monkeypatched, so library code never calls user
   functions in place of its own methods).
3. Runtime guards, in the restricted __builtins__ of the user's globals:
   guarded getattr/setattr/delattr/hasattr, `type` without its 3-argument
   form, `open` confined to the working directory, `__import__` limited to
   the allow-list and returning ModuleProxy objects (module attributes that
   are modules are allow-listed too: `datetime.sys` is refused). The few
   stdlib readers that walk attributes by name or eval strings are guarded:
   operator.attrgetter/methodcaller, functools.update_wrapper/wraps,
   string.Formatter.get_field and typing.ForwardRef evaluation. So are the
   stdlib routes to classes with arbitrary "_"-named attributes (metaclasses
   such as numbers.ABCMeta, dataclasses.make_dataclass, the Enum functional
   API): with numpy, a class attribute `__array_interface__` is a raw
   memory pointer.

   Positional `match` class patterns read the attributes named by the
   class's __match_args__: transform() routes their class through
   MatchGuard, which vets those names when the case is tried. Names and
   namespaces handed to libraries are checked on exact copies (plain_str,
   _plain_dict, _plain_item) and the copies are what the library gets.
4. policy_libs: library settings that name a program or a module to load
   are frozen (matplotlib rcParams *_path/*_args, module:// backends), and
   pandas' expression engine refuses.
5. policy_hook: a CPython audit hook refuses, however it is reached,
   starting programs, forking, ctypes, unpickling, and running code that is
   neither the program's nor the installed libraries'.
scripts/policy_audit.py walks what the policy exposes and fails on a new
path to any of these.

Not policed: the full APIs of numpy, pandas, matplotlib and scipy. Their
file I/O takes any path, module objects stored on their instances are not
proxied, and pandas' by-name dispatch (`s.agg("name")`) reads attributes of
the pandas object itself. Known code-execution and raw-memory routes in
them are refused (DENIED_MODULES, _REFUSED, numpy.load(allow_pickle=True));
beyond that the OS sandbox is the boundary.

The guards are process-wide patches of typing, string and enum: install()
belongs in the execution's own forked child, never in the zygote. Library
code that evaluates a forward reference or builds a functional Enum with a
"_"-name during a restricted run gets a PolicyViolation too.
"""

import ast
import builtins
import enum
import functools
import os
import string
import sys
import types
import typing

import _string

from . import policy_hook, policy_libs

DEFAULT_ALLOWED_IMPORTS = (
    "math", "json", "re", "datetime", "collections", "itertools", "functools", "statistics",
    "random", "decimal", "fractions", "string", "textwrap", "typing", "dataclasses", "enum",
    "heapq", "bisect", "operator", "copy", "numbers", "time", "calendar", "numpy", "pandas",
    "matplotlib", "matplotlib.pyplot", "scipy",
)

# Submodules of allowed packages that load native code, run tools, unpickle
# (npyio.NpzFile, format.read_array, pickle_compat), evaluate expression
# strings (pandas.core.computation), build arrays over raw addresses
# (stride_tricks.as_strided/DummyArray) or set attributes of any name.
DENIED_MODULES = ("numpy.ctypeslib", "numpy.f2py", "numpy.distutils", "numpy.testing",
                  "numpy.lib.stride_tricks", "numpy.lib.format", "numpy.lib.npyio",
                  "pandas.api.extensions", "pandas.compat.pickle_compat",
                  "pandas.core.computation", "matplotlib.testing",
                  # npy_load_module runs any file as a module, with real builtins
                  "numpy.compat")

# The "_"-names user code may use: `_` plus the dunders ordinary classes
# define or call, and namedtuple's public API (which is spelled with "_").
ALLOWED_UNDERSCORE_NAMES = frozenset({
    "_",
    "__name__", "__init__", "__post_init__", "__str__", "__repr__", "__len__", "__bool__",
    "__iter__", "__next__", "__contains__", "__getitem__", "__setitem__", "__delitem__",
    "__call__", "__enter__", "__exit__", "__eq__", "__ne__", "__lt__", "__le__", "__gt__",
    "__ge__", "__hash__", "__add__", "__sub__", "__mul__", "__truediv__", "__floordiv__",
    "__mod__", "__neg__", "__abs__",
    "_asdict", "_replace", "_fields", "_make",
})

_INTERNALS = "it exposes interpreter frames or code"
FORBIDDEN_ATTRIBUTES = {
    **dict.fromkeys(("gi_frame", "gi_code", "gi_yieldfrom", "cr_frame", "cr_code", "cr_await",
                     "cr_origin", "ag_frame", "ag_code", "ag_await", "tb_frame", "tb_next",
                     "f_globals", "f_locals", "f_back", "f_builtins", "f_code", "f_trace",
                     "co_code", "func_globals", "func_code"), _INTERNALS),
    "mro": "it walks the class hierarchy",
    **dict.fromkeys(("ctypes", "ctypeslib", "from_address", "from_buffer", "from_buffer_copy",
                     "in_dll"), "it reaches raw memory through ctypes"),
    **dict.fromkeys(("eval", "query"), "it evaluates expression strings; use boolean "
                                       "indexing or plain Python instead"),
}

FORBIDDEN_NAMES = frozenset({"exec", "eval", "compile", "globals", "vars", "locals",
                             "breakpoint", "input", "help"})

_FORMAT_METHODS = frozenset({"format", "format_map"})
GETATTR_GUARD = "_sandpit_getattr_"
WRITE_GUARD = "_sandpit_write_"
MATCH_GUARD = "_sandpit_match_"

SAFE_BUILTINS = (
    "abs", "aiter", "all", "anext", "any", "ascii", "bin", "bool", "bytearray", "bytes",
    "callable", "chr", "classmethod", "complex", "dict", "dir", "divmod", "enumerate",
    "filter", "float", "format", "frozenset", "hash", "hex", "id", "int", "isinstance",
    "issubclass", "iter", "len", "list", "map", "max", "memoryview", "min", "next", "object",
    "oct", "ord", "pow", "print", "property", "range", "repr", "reversed", "round", "set",
    "slice", "sorted", "staticmethod", "str", "sum", "super", "tuple", "zip",
    "Ellipsis", "NotImplemented", "__build_class__",
)

# Safe builtins plus every builtin exception class, looked up once at import.
_SAFE_BUILTINS_TABLE = {name: builtins.__dict__[name] for name in SAFE_BUILTINS}
_SAFE_BUILTINS_TABLE.update(
    (name, value) for name, value in builtins.__dict__.items()
    if isinstance(value, type) and issubclass(value, BaseException))

_real_getattr = builtins.getattr
_real_setattr = builtins.setattr
_real_delattr = builtins.delattr
_real_hasattr = builtins.hasattr
_real_import = builtins.__import__
_real_open = builtins.open
_real_type = builtins.type


class PolicyViolation(Exception):
    """Code broke the restricted policy, at compile time or at run time.

    `kind` groups violations for hints (name, attribute, builtin, import,
    open, type, format, write); `lineno`/`col` (1-based) are set for compile-time
    findings and filled from the traceback for runtime ones.
    """

    def __init__(self, what, kind, lineno=None, col=None, hint=None):
        super().__init__(what)
        self.what = what
        self.kind = kind
        self.lineno = lineno
        self.col = col
        self.hint = hint

    def located(self):
        """'<what> (line L, col C)', the form used for `error`."""
        if self.lineno is None:
            return self.what
        if self.col is None:
            return "%s (line %d)" % (self.what, self.lineno)
        return "%s (line %d, col %d)" % (self.what, self.lineno, self.col)


# Printed by tracebacks as "PolicyViolation: ...", like a builtin exception,
# instead of "harness.policy.PolicyViolation: ...".
PolicyViolation.__module__ = "builtins"


def _reserved(name):
    """True for "_"-names outside the allow-list."""
    return name.startswith("_") and name not in ALLOWED_UNDERSCORE_NAMES


def name_problem(name):
    """Why `name` may not be used as a name, or None."""
    if name in FORBIDDEN_NAMES:
        return "'%s' is not available under the restricted policy" % name
    if _reserved(name):
        return "name '%s' is not allowed: names starting with '_' are reserved" % name
    return None


def plain_str(text):
    """`text` as an exact str: a str subclass can override startswith,
    __hash__ or __eq__ to pass a check and still name what it spells."""
    return text if type(text) is str else str.__str__(text)


def attribute_problem(name):
    """Why attribute `name` may not be read or written, or None."""
    if not isinstance(name, str):
        return "attribute names must be strings"
    name = plain_str(name)
    if _reserved(name):
        return "attribute '%s' is not allowed: attributes starting with '_' are off limits" % name
    reason = FORBIDDEN_ATTRIBUTES.get(name)
    if reason:
        return "attribute '%s' is not allowed: %s" % (name, reason)
    return None


def module_allowed(name, allowed):
    """True when user code may import module `name` under allow-list `allowed`.
    `__future__` is always allowed: its imports are compiler directives."""
    if name == "__future__":
        return True
    if not name or any(part.startswith("_") for part in name.split(".")):
        return False
    return _module_reachable(name, allowed)


def _denied(name):
    return any(name == d or name.startswith(d + ".") for d in DENIED_MODULES)


def _module_reachable(name, allowed):
    """Allow-list test for module objects (private submodules included).
    Parents of allowed entries count, so `import matplotlib.pyplot` can bind
    `matplotlib` when only the submodule is allowed."""
    if _denied(name):
        return False
    if name == "__future__":
        return True
    return any(name == a or name.startswith(a + ".") or a.startswith(name + ".")
               for a in allowed)


# ---------------------------------------------------------------- compile time

class _Checker:
    """Collects every violation in a tree, each located at its node.

    `found` holds (sort key, violation); the key orders by start, then end,
    so in `a.__x__.__y__` the inner (first evaluated) attribute comes first.
    """

    def __init__(self, allowed):
        self.allowed = allowed
        self.found = []

    def report(self, node, what, kind):
        key = (node.lineno, node.col_offset, node.end_lineno or 0, node.end_col_offset or 0)
        self.found.append((key, PolicyViolation(what, kind, node.lineno, node.col_offset + 1)))

    def name(self, node, name):
        problem = name and name_problem(name)
        if problem:
            self.report(node, problem, "builtin" if name in FORBIDDEN_NAMES else "name")

    def attribute(self, node, name):
        problem = attribute_problem(name)
        if problem:
            self.report(node, problem, "attribute")

    def module(self, node, name):
        if not module_allowed(name, self.allowed):
            self.report(node, "import of '%s' is not allowed" % name, "import")
            self.found[-1][1].hint = import_hint(self.allowed)

    def visit(self, node):
        kind = type(node)
        if kind is ast.Name:
            self.name(node, node.id)
        elif kind is ast.Attribute:
            self.attribute(node, node.attr)
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            self.name(node, node.name)
        elif kind is ast.arg:
            self.name(node, node.arg)
        elif kind is ast.keyword:
            self.name(node, node.arg)
        elif kind is ast.ExceptHandler:
            self.name(node, node.name)
        elif kind in (ast.Global, ast.Nonlocal):
            for name in node.names:
                self.name(node, name)
        elif kind in (ast.MatchAs, ast.MatchStar):
            self.name(node, node.name)
        elif kind is ast.MatchMapping:
            self.name(node, node.rest)
        elif kind is ast.MatchClass:
            for attr in node.kwd_attrs:
                self.attribute(node, attr)
                if attr in _FORMAT_METHODS:  # pattern reads bypass the format guard
                    self.report(node, "attribute pattern '%s' is not allowed" % attr,
                                "attribute")
        elif kind is ast.Import:
            for alias in node.names:
                self.module(alias, alias.name)
                self.name(alias, alias.asname)
        elif kind is ast.ImportFrom:
            self.import_from(node)

    def import_from(self, node):
        if node.level:
            self.report(node, "relative imports are not allowed", "import")
            return
        self.module(node, node.module)
        for alias in node.names:
            if alias.name == "*":
                self.report(alias, "'from %s import *' is not allowed: import the names you use"
                            % node.module, "import")
                continue
            self.name(alias, alias.name)
            self.name(alias, alias.asname)
            full = "%s.%s" % (node.module, alias.name)
            if _denied(full):
                self.report(alias, "import of '%s' is not allowed" % full, "import")


def _positional_class_patterns(pattern):
    """The class patterns with positional sub-patterns in a case pattern:
    each reads the attributes its class's __match_args__ names."""
    return [node for node in ast.walk(pattern)
            if isinstance(node, ast.MatchClass) and node.patterns]


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _class_body_matches(body):
    """Match statements run directly by a class body (not in its methods)."""
    pending = [node for node in body if not isinstance(node, _SCOPES)]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Match):
            yield node
        pending.extend(child for child in ast.iter_child_nodes(node)
                       if not isinstance(child, _SCOPES))


def check(tree, allowed=DEFAULT_ALLOWED_IMPORTS):
    """All policy violations in `tree`, in source order (empty when clean)."""
    checker = _Checker(tuple(allowed))
    for node in ast.walk(tree):
        checker.visit(node)
        if isinstance(node, ast.ClassDef):
            # the run-time vetting of positional patterns (transform) needs a
            # function scope: a class body's names are not visible to it
            for match in _class_body_matches(node.body):
                for case in match.cases:
                    for pattern in _positional_class_patterns(case.pattern):
                        checker.report(pattern, "positional class patterns are not allowed "
                                       "directly in a class body: use keyword patterns "
                                       "(C(x=v)) or match inside a method", "attribute")
    return [violation for _, violation in sorted(checker.found, key=lambda item: item[0])]


def _guard_call(guard, args, at):
    """`guard(*args)` as an AST call located at node `at` (for tracebacks)."""
    name = ast.copy_location(ast.Name(guard, ast.Load()), at)
    return ast.copy_location(ast.Call(name, args, []), at)


class _Rewriter(ast.NodeTransformer):
    """Routes `.format`/`.format_map` loads and attribute writes to guards,
    and the class of every positional class pattern through the match guard.

    `case C(p, q)` reads the attributes named by C.__match_args__, which no
    compile-time rule can see. It becomes
        __sandpit_match_N__ = _sandpit_match_(lambda: C, 2)   # before the match
        case __sandpit_match_N__.cls(p, q):
    where `.cls` evaluates C when the case is tried (as the pattern would)
    and vets the first two names of its __match_args__ as attributes.
    """

    def __init__(self):
        self.matches = 0

    def visit_Match(self, node):
        self.generic_visit(node)
        prelude = []
        for case in node.cases:
            for pattern in _positional_class_patterns(case.pattern):
                self.matches += 1
                name = "__sandpit_match_%d__" % self.matches
                at = pattern.cls
                thunk = ast.Lambda(ast.arguments([], [], None, [], [], None, []), at)
                count = ast.Constant(len(pattern.patterns))
                call = _guard_call(MATCH_GUARD, [ast.copy_location(thunk, at), count], at)
                target = ast.copy_location(ast.Name(name, ast.Store()), at)
                prelude.append(ast.copy_location(ast.Assign([target], call), node))
                pattern.cls = ast.copy_location(
                    ast.Attribute(ast.copy_location(ast.Name(name, ast.Load()), at), "cls",
                                  ast.Load()), at)
        return prelude + [node] if prelude else node

    def visit_Attribute(self, node):
        self.generic_visit(node)
        if isinstance(node.ctx, ast.Load):
            if node.attr not in _FORMAT_METHODS:
                return node
            method = ast.copy_location(ast.Constant(node.attr), node)
            return _guard_call(GETATTR_GUARD, [node.value, method], node)
        node.value = _guard_call(WRITE_GUARD, [node.value], node.value)
        return node


def transform(tree):
    """Insert the runtime guards into a checked tree (in place; returned)."""
    return ast.fix_missing_locations(_Rewriter().visit(tree))


# ---------------------------------------------------------------- format strings

def _check_field(field_name):
    first, rest = _string.formatter_field_name_split(field_name)
    if isinstance(first, str) and _reserved(first):
        raise PolicyViolation("format field '%s' is not allowed: it starts with '_'"
                              % field_name, "format")
    for is_attribute, key in rest:
        if not isinstance(key, str):
            continue
        if _reserved(key) or (is_attribute and key in FORBIDDEN_ATTRIBUTES):
            raise PolicyViolation("format field '%s' is not allowed: it walks into '%s'"
                                  % (field_name, key), "format")


def check_format_string(text):
    """Raise PolicyViolation when a format string's fields walk into '_'
    attributes or keys ('{0.__class__}', '{0[__globals__]}'), nested
    fields in format specs included."""
    for _, field_name, spec, _ in _string.formatter_parser(text):
        if field_name is not None:
            _check_field(field_name)
        if spec and "{" in spec:
            check_format_string(spec)


def _checked_unbound_format(method):
    """str.format / str.format_map taken from the class: check the string at call time."""
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        if isinstance(self, str):
            check_format_string(self)
        return method(self, *args, **kwargs)
    return checked


# ---------------------------------------------------------------- runtime guards

class _TypeGuard(type):
    """Metaclass making SafeType behave like `type` for isinstance/issubclass
    while refusing the 3-argument (class-creating) call."""

    def __call__(cls, *args, **kwargs):
        if len(args) != 1 or kwargs:
            raise PolicyViolation("type() with three arguments is not allowed: use a class "
                                  "statement", "type")
        result = _real_type(args[0])
        # Metaclasses (type, ABCMeta, EnumType...) would create classes with
        # arbitrary attributes: restricted code gets this guard instead.
        return cls if issubclass(result, _real_type) else result

    def __instancecheck__(cls, obj):
        return isinstance(obj, _real_type)

    def __subclasscheck__(cls, subclass):
        return issubclass(subclass, _real_type)


class SafeType(metaclass=_TypeGuard):
    """`type` as restricted code sees it (type(C) is this class for every
    class C, whatever its metaclass)."""


def vet_match_class(cls, count):
    """Refuse a class pattern with `count` positional sub-patterns when the
    attributes it would read (the first `count` names of cls.__match_args__)
    break the attribute rules. Anything CPython itself rejects (not a class,
    __match_args__ not a tuple, too many patterns) is left to CPython."""
    if not isinstance(cls, _real_type):
        return
    for klass in _real_type.__getattribute__(_real_type(cls), "__mro__"):
        if "__match_args__" in _real_type.__getattribute__(klass, "__dict__"):
            raise PolicyViolation("class patterns on a class whose metaclass defines "
                                  "__match_args__ are not allowed", "attribute")
    try:
        names = _real_getattr(cls, "__match_args__")
    except AttributeError:
        return  # int(x), str(x)...: the subject itself, no attribute read
    if _real_type(names) is not tuple:
        return
    for name in names[:count]:
        if _real_type(name) is not str:
            raise PolicyViolation("class pattern: __match_args__ of '%s' holds a %s, not a "
                                  "plain str" % (cls.__name__, _real_type(name).__name__),
                                  "attribute")
        problem = attribute_problem(name)
        if problem:
            raise PolicyViolation("class pattern %s(...) reads %s" % (cls.__name__, problem),
                                  "attribute")


class MatchGuard:
    """`__sandpit_match_N__` of a rewritten class pattern (see _Rewriter):
    `.cls` is the pattern's class, vetted when the case is tried."""

    __slots__ = ("thunk", "count")

    def __init__(self, thunk, count):
        self.thunk = thunk
        self.count = count

    @property
    def cls(self):
        cls = self.thunk()
        vet_match_class(cls, self.count)
        return cls


class ModuleProxy(types.ModuleType):
    """What restricted code gets for an imported module.

    Attribute reads go through the policy: module-valued attributes must be
    allowed modules too (and come back proxied), a few dangerous functions
    are replaced by guards or refused. Values are cached in the proxy, so only
    the first read of each name pays. Writes land in the proxy only.
    Restricted code can reach this class (type(np)) but cannot build one: it
    has no RestrictedPolicy to pass.
    """

    def __init__(self, module, restriction):
        if not isinstance(restriction, RestrictedPolicy) or isinstance(module, ModuleProxy):
            raise TypeError("ModuleProxy is created by the restricted policy only")
        super().__init__(module.__name__)
        self.__dict__["_sandpit_target"] = module
        self.__dict__["_sandpit_policy"] = restriction

    def __getattr__(self, name):
        namespace = self.__dict__
        value = namespace["_sandpit_policy"].module_attribute(namespace["_sandpit_target"], name)
        namespace[name] = value
        return value

    def __dir__(self):
        return [n for n in dir(self.__dict__["_sandpit_target"]) if not n.startswith("_")]


_ACCESSORS = "it sets attributes of any name on pandas classes"
# (module, attribute) -> why restricted code may not have it.
_REFUSED = {
    ("pandas", "read_pickle"): "unpickling runs arbitrary code",
    ("pandas.core.accessor", "register_dataframe_accessor"): _ACCESSORS,
    ("pandas.core.accessor", "register_series_accessor"): _ACCESSORS,
    ("pandas.core.accessor", "register_index_accessor"): _ACCESSORS,
    ("numpy", "test"): "it runs the test suite",
    ("pandas", "test"): "it runs the test suite",
    ("scipy", "test"): "it runs the test suite",
    ("matplotlib", "test"): "it runs the test suite",
}
# (module, attribute) -> name of the RestrictedPolicy method that replaces it.
_GUARDED = {
    ("operator", "attrgetter"): "attrgetter",
    ("operator", "methodcaller"): "methodcaller",
    ("functools", "update_wrapper"): "update_wrapper",
    ("functools", "wraps"): "wraps",
    ("numpy", "load"): "numpy_load",
    ("dataclasses", "make_dataclass"): "make_dataclass",
}

_WRAPPER_DEFAULTS = frozenset(functools.WRAPPER_ASSIGNMENTS + functools.WRAPPER_UPDATES)


def _bound_guard(guard, original):
    """guard(original, ...) as a plain function. Not functools.partial: its
    public .func and .args would hand restricted code the guard's policy
    and the unguarded original (operator.attrgetter.args[0])."""
    def guarded(*args, **kwargs):
        return guard(original, *args, **kwargs)
    guarded.__name__ = guarded.__qualname__ = _real_getattr(original, "__name__", "guarded")
    guarded.__doc__ = _real_getattr(original, "__doc__", None)
    return guarded


def _exit(code=None):
    """exit()/quit() for restricted code: SystemExit without touching sys.stdin."""
    raise SystemExit(code)


class RestrictedPolicy:
    """Runtime side of the policy for one execution.

    `cwd` is the only directory open() may reach; `allowed` the import
    allow-list. `builtins` is the dict to install as the user's
    __builtins__; install() patches the stdlib readers (call it only in the
    execution's own process: the patches are process-wide).
    """

    def __init__(self, cwd, allowed=DEFAULT_ALLOWED_IMPORTS):
        self.cwd = os.path.realpath(cwd)
        self.allowed = tuple(allowed)
        self._proxies = {}
        self._substitutes = {}
        self.installed = False
        self.builtins = self._make_builtins()

    def _make_builtins(self):
        table = dict(_SAFE_BUILTINS_TABLE)
        table.update({
            "getattr": self.getattr, "setattr": self.setattr, "delattr": self.delattr,
            "hasattr": self.hasattr, "type": SafeType, "open": self.open,
            "__import__": self.import_, "exit": _exit, "quit": _exit,
            GETATTR_GUARD: self.getattr, WRITE_GUARD: self.write, MATCH_GUARD: MatchGuard,
        })
        return table

    # -- attribute access

    def _vet_attribute(self, name):
        """The name as an exact str, once it passes the attribute rules."""
        problem = attribute_problem(name)
        if problem:
            raise PolicyViolation(problem, "attribute")
        return plain_str(name)

    def getattr(self, obj, name, *default):
        """getattr() for restricted code; also the target of `.format` loads."""
        name = self._vet_attribute(name)
        value = _real_getattr(obj, name, *default)
        if name in _FORMAT_METHODS:
            if isinstance(obj, str):
                check_format_string(obj)
            elif isinstance(obj, _real_type) and issubclass(obj, str):
                return _checked_unbound_format(value)
        if isinstance(value, types.ModuleType) and not isinstance(value, ModuleProxy):
            return self.module_value(value)
        return value

    def hasattr(self, obj, name):
        name = self._vet_attribute(name)
        return _real_hasattr(obj, name)

    def write(self, obj):
        """The object of an attribute write, if restricted code may change it."""
        if isinstance(obj, ModuleProxy):
            return obj
        if isinstance(obj, types.ModuleType) or (
                isinstance(obj, _real_type) and obj.__module__ != "__main__"):
            raise PolicyViolation("attributes of library classes and modules cannot be "
                                  "changed: subclass or wrap them instead", "write")
        return obj

    def setattr(self, obj, name, value):
        name = self._vet_attribute(name)
        _real_setattr(self.write(obj), name, value)

    def delattr(self, obj, name):
        name = self._vet_attribute(name)
        _real_delattr(self.write(obj), name)

    # -- files

    def open(self, file, mode="r", *args, **kwargs):
        """open() limited to paths that resolve inside the working directory."""
        if len(args) >= 6 or "opener" in kwargs:
            raise PolicyViolation("open() with an opener is not allowed", "open")
        if not isinstance(file, (str, bytes, os.PathLike)):
            raise PolicyViolation("open() takes a path inside the working directory, not a "
                                  "file descriptor", "open")
        path = os.fsdecode(os.fspath(file))
        resolved = os.path.realpath(os.path.join(self.cwd, path))
        if resolved != self.cwd and not resolved.startswith(self.cwd + os.sep):
            raise PolicyViolation("open('%s') is not allowed: it resolves outside the working "
                                  "directory" % path, "open")
        return _real_open(resolved, mode, *args, **kwargs)

    # -- modules

    def import_(self, name, globals=None, locals=None, fromlist=(), level=0):
        """__import__ for restricted code: allow-list, then a ModuleProxy.

        C code called from user frames (numpy's lazy `numpy.core._methods`...)
        imports through PyImport_Import, which looks up __import__ in the
        caller's builtins and always passes an empty *list* fromlist; the
        import statement passes None or a tuple. The C caller discards our
        return value and takes the module from sys.modules, so those imports
        go straight to the real __import__.
        """
        if type(fromlist) is list:
            return _real_import(name, globals, locals, fromlist, level)
        if level:
            raise PolicyViolation("relative imports are not allowed", "import")
        if not module_allowed(name, self.allowed):
            raise PolicyViolation("import of '%s' is not allowed" % name, "import",
                                  hint=import_hint(self.allowed))
        for item in fromlist or ():
            full = "%s.%s" % (name, item)
            if item == "*" or _denied(full):
                raise PolicyViolation("import of '%s' is not allowed" % full, "import",
                                      hint=import_hint(self.allowed))
        return self.module_value(_real_import(name, globals, locals, fromlist, 0))

    def module_value(self, module):
        """The proxy restricted code gets for a real module, if allowed."""
        name = _real_getattr(module, "__name__", None)
        if not isinstance(name, str) or not _module_reachable(name, self.allowed):
            raise PolicyViolation("module '%s' is not allowed" % name, "import",
                                  hint=import_hint(self.allowed))
        proxy = self._proxies.get(name)
        if proxy is None:
            proxy = self._proxies[name] = ModuleProxy(module, self)
            self._refresh_substitutes()
            if self.installed:
                policy_libs.guard_libraries(PolicyViolation)
        return proxy

    def module_attribute(self, module, name):
        """Attribute `name` of real `module`, as restricted code may see it."""
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            value = _real_getattr(module, name)
        except AttributeError:
            value = sys.modules.get("%s.%s" % (module.__name__, name))
            if value is None:
                raise AttributeError("module '%s' has no attribute '%s'"
                                     % (module.__name__, name)) from None
        substitute = self._substitutes.get(id(value))
        if substitute is not None and substitute[0] is value:
            if isinstance(substitute[1], str):
                raise PolicyViolation("'%s.%s' is not allowed: %s"
                                      % (module.__name__, name, substitute[1]), "import")
            return substitute[1]
        if isinstance(value, types.ModuleType):
            return self.module_value(value)
        if isinstance(value, _real_type) and issubclass(value, _real_type):
            raise PolicyViolation("'%s.%s' is a metaclass, which is not allowed: define classes "
                                  "with a class statement" % (module.__name__, name), "type")
        return value

    def _refresh_substitutes(self):
        """Index the guarded/refused objects of every module imported so far
        by identity, so aliases (`from functools import wraps`) are caught."""
        for table, wrap in ((_REFUSED, None), (_GUARDED, True)):
            for (module_name, attr), what in table.items():
                module = sys.modules.get(module_name)
                original = _real_getattr(module, attr, None) if module is not None else None
                if original is None or id(original) in self._substitutes:
                    continue
                replacement = what
                if wrap:
                    replacement = _bound_guard(_real_getattr(self, what), original)
                self._substitutes[id(original)] = (original, replacement)

    # -- guarded stdlib readers (first argument: the original, bound by partial)

    def _vet_dotted(self, name):
        """A dotted attribute path as an exact str, each part vetted."""
        if not isinstance(name, str):
            raise PolicyViolation("attribute names must be strings", "attribute")
        name = plain_str(name)
        for part in name.split("."):
            self._vet_attribute(part)
        return name

    def attrgetter(self, original, *names):
        names = [self._vet_dotted(name) for name in names]

        def get(obj):
            values = []
            for name in names:
                value = obj
                for part in name.split("."):
                    value = self.getattr(value, part)
                values.append(value)
            return values[0] if len(values) == 1 else tuple(values)
        return get

    def methodcaller(self, original, name, *args, **kwargs):
        name = self._vet_attribute(name)
        return lambda obj: self.getattr(obj, name)(*args, **kwargs)

    def _vet_wrapper_names(self, names):
        """The names as a tuple of exact strs (iterated once), each vetted."""
        plain = []
        for name in tuple(names):
            if not isinstance(name, str):
                raise PolicyViolation("attribute names must be strings", "attribute")
            name = plain_str(name)
            if name not in _WRAPPER_DEFAULTS:
                self._vet_attribute(name)
            plain.append(name)
        return tuple(plain)

    def update_wrapper(self, original, wrapper, wrapped, assigned=functools.WRAPPER_ASSIGNMENTS,
                       updated=functools.WRAPPER_UPDATES):
        return original(wrapper, wrapped, self._vet_wrapper_names(assigned),
                        self._vet_wrapper_names(updated))

    def wraps(self, original, wrapped, assigned=functools.WRAPPER_ASSIGNMENTS,
              updated=functools.WRAPPER_UPDATES):
        return original(wrapped, self._vet_wrapper_names(assigned),
                        self._vet_wrapper_names(updated))

    def make_dataclass(self, original, cls_name, fields, **kwargs):
        """make_dataclass() on plain copies of exactly what it will use: a
        dict subclass could show the check one set of keys (__iter__, keys())
        and dict.update() another; a tuple or str subclass could lie the same
        way about a field's name."""
        fields = [_plain_item(f) for f in list(fields)]
        names = [f if isinstance(f, str) else f[0] for f in fields if isinstance(f, (str, tuple))
                 and f]
        if kwargs.get("namespace") is not None:
            kwargs["namespace"] = _plain_dict(kwargs["namespace"])
            names += list(kwargs["namespace"])
        _vet_new_attributes(names, "make_dataclass()")
        return original(cls_name, fields, **kwargs)

    def numpy_load(self, original, file, mmap_mode=None, allow_pickle=False, *args, **kwargs):
        if allow_pickle:
            raise PolicyViolation("numpy.load(allow_pickle=True) is not allowed: unpickling "
                                  "runs arbitrary code", "import")
        return original(file, mmap_mode, False, *args, **kwargs)

    # -- process-wide patches

    def install(self):
        """Guard string.Formatter field lookups and typing.ForwardRef
        evaluation (get_type_hints, singledispatch...), which would otherwise
        walk attributes by name or eval strings with real builtins."""
        string.Formatter.get_field = _guarded_get_field
        typing.ForwardRef._evaluate = functools.partialmethod(_guarded_evaluate, self.builtins)
        enum.EnumType._create_ = _guarded_enum_create
        policy_libs.guard_libraries(PolicyViolation)
        policy_hook.install(self.cwd, PolicyViolation)
        self.installed = True


def _vet_new_attributes(names, where):
    """Refuse reserved names as attributes of a class being built by `where`
    (the names must already be plain: see _plain_item, _plain_dict)."""
    for name in names:
        if isinstance(name, str) and _reserved(plain_str(name)):
            raise PolicyViolation("%s may not define '%s': names starting with '_' are "
                                  "reserved" % (where, name), "name")


def _plain_item(item):
    """A field/member spec as plain data: an exact str, or a tuple whose
    first element (the name) is an exact str when it is a str at all."""
    if isinstance(item, str):
        return plain_str(item)
    try:
        item = tuple(item)
    except TypeError:
        return item  # the library reports the bad spec itself
    if item and isinstance(item[0], str):
        item = (plain_str(item[0]),) + item[1:]
    return item


def _plain_dict(mapping):
    """A plain dict with exactly what dict.update(ns, mapping) would copy,
    keys made exact strs; read once, so what is vetted is what is used."""
    copy = {}
    dict.update(copy, mapping)
    return {plain_str(k) if isinstance(k, str) else k: v for k, v in copy.items()}


_original_get_field = string.Formatter.get_field
_original_evaluate = typing.ForwardRef._evaluate
_original_enum_create = enum.EnumType._create_


def _guarded_enum_create(cls, class_name, names, **kwargs):
    """Enum('Name', names) with the member names vetted, on plain copies of
    exactly what is used: the functional API would otherwise turn
    '__dunder__' names into class attributes."""
    if isinstance(names, str):
        names = plain_str(names).replace(",", " ").split()
    elif isinstance(names, dict) or _real_hasattr(names, "keys"):
        names = list(_plain_dict(names).items())
    else:
        names = [_plain_item(n) for n in list(names)]
    listed = [n if isinstance(n, str) else n[0] for n in names
              if isinstance(n, str) or (isinstance(n, tuple) and n)]
    _vet_new_attributes(listed, "Enum()")
    return _original_enum_create(cls, class_name, names, **kwargs)


def _guarded_get_field(self, field_name, args, kwargs):
    _check_field(field_name)
    return _original_get_field(self, field_name, args, kwargs)


def _guarded_evaluate(self, restricted_builtins, globalns, localns, *args, **kwargs):
    """ForwardRef._evaluate with the policy applied to the string: checked
    like user code, evaluated with restricted builtins, never inside another
    module's namespace."""
    problems = check_source(self.__forward_arg__)
    if problems:
        raise PolicyViolation("in the annotation %r: %s" % (self.__forward_arg__, problems[0].what),
                              problems[0].kind)
    if self.__forward_module__ not in (None, "__main__"):
        raise PolicyViolation("forward references into module '%s' are not allowed"
                              % self.__forward_module__, "attribute")
    if globalns is None:
        globalns = localns if localns is not None else {}
    if not isinstance(globalns, dict) or globalns.get("__builtins__") is not restricted_builtins:
        globalns = dict(globalns, __builtins__=restricted_builtins)
    return _original_evaluate(self, globalns, localns, *args, **kwargs)


def check_source(text, allowed=DEFAULT_ALLOWED_IMPORTS):
    """Violations in an expression string (empty if clean or unparsable)."""
    try:
        tree = ast.parse(text, "<string>", "eval")
    except (SyntaxError, ValueError):
        return []
    return check(tree, allowed)


def import_hint(allowed):
    return "allowed imports under the restricted policy: %s (and their submodules)" \
           % ", ".join(allowed)


_KIND_HINTS = {
    "name": "names and attributes starting with '_' are reserved under the restricted policy "
            "(allowed: %s); use public APIs such as isinstance() or type(x).__name__"
            % ", ".join(sorted(ALLOWED_UNDERSCORE_NAMES)),
    "attribute": "this attribute is off limits under the restricted policy: frames, code "
                 "objects, class-hierarchy walks and '_' attributes are not reachable; use "
                 "public APIs",
    "builtin": "exec, eval, compile, globals, vars, locals, breakpoint, input and help are not "
               "available under the restricted policy: write the logic directly",
    "import": import_hint(DEFAULT_ALLOWED_IMPORTS),
    "open": "open() only reaches files inside the working directory: use relative paths "
            "such as 'data.csv'",
    "type": "create classes with a class statement, not type(name, bases, dict)",
    "format": "format fields may not reach '_' attributes or keys: format plain values, "
              "e.g. '{0}'.format(type(x).__name__)",
    "write": "library classes and modules cannot be modified: subclass or wrap them",
    "process": "restricted code cannot start programs, create processes, load native code, "
               "unpickle, or run code from files it wrote: compute in Python here",
    "setting": "settings that name a program, its arguments or a module to load cannot be "
               "changed under the restricted policy",
}


def hint(violation):
    """One actionable line for a PolicyViolation."""
    return violation.hint or _KIND_HINTS.get(violation.kind, "the restricted policy refused "
                                                             "this operation")
