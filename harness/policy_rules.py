"""The restricted policy's rules: which names, attributes and modules
restricted code may use, as tables and the predicates every layer applies
(the AST checker, the run-time guards, the module proxies), and the
PolicyViolation they raise.
"""

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

FORMAT_METHODS = frozenset({"format", "format_map"})


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
# instead of "harness.policy_rules.PolicyViolation: ...".
PolicyViolation.__module__ = "builtins"


def reserved(name):
    """True for "_"-names outside the allow-list."""
    return name.startswith("_") and name not in ALLOWED_UNDERSCORE_NAMES


def name_problem(name):
    """Why `name` may not be used as a name, or None."""
    if name in FORBIDDEN_NAMES:
        return "'%s' is not available under the restricted policy" % name
    if reserved(name):
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
    if reserved(name):
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
    return module_reachable(name, allowed)


def denied(name):
    return any(name == d or name.startswith(d + ".") for d in DENIED_MODULES)


def module_reachable(name, allowed):
    """Allow-list test for module objects (private submodules included).
    Parents of allowed entries count, so `import matplotlib.pyplot` can bind
    `matplotlib` when only the submodule is allowed."""
    if denied(name):
        return False
    if name == "__future__":
        return True
    return any(name == a or name.startswith(a + ".") or a.startswith(name + ".")
               for a in allowed)


def import_hint(allowed):
    return "allowed imports under the restricted policy: %s (and their submodules)" \
           % ", ".join(allowed)
