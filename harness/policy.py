"""The restricted policy ("policy": "restricted"), RestrictedPython-style.

Debian's python3-restrictedpython does not work on Python 3.11, so this is
our own. It is defense in depth inside the OS sandbox, in layers,
each closing what the one before cannot see:

1. check() (policy_check): compile-time AST rules over the tables of
   policy_rules. When one fails, nothing runs.
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
2. transform() (policy_check): `x.format` / `x.format_map` loads go through the guarded
   getattr (format fields may not walk into "_" names), and the object of
   every attribute store/delete goes through a write guard (library classes
   and modules cannot be monkeypatched, so library code never calls user
   functions in place of its own methods).
3. Runtime guards, in the restricted __builtins__ of the user's globals
   (RestrictedPolicy here; the stdlib and library guards in policy_guards):
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
   MatchGuard (policy_check), which vets those names when the case is tried. Names and
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

import builtins
import os
import sys
import types

from . import policy_hook, policy_libs
# Callers import every part of the policy from here, so the modules' public names are re-exported.
from .policy_check import (
    GETATTR_GUARD, MATCH_GUARD, WRITE_GUARD, MatchGuard, check, check_source, transform,
    vet_match_class)
from .policy_guards import (
    LibraryGuards, SafeType, check_format_string, checked_unbound_format,
    install_stdlib_patches)
from .policy_rules import (
    ALLOWED_UNDERSCORE_NAMES, DEFAULT_ALLOWED_IMPORTS, DENIED_MODULES, FORBIDDEN_ATTRIBUTES,
    FORBIDDEN_NAMES, FORMAT_METHODS, PolicyViolation, attribute_problem, denied, import_hint,
    module_allowed, module_reachable, name_problem, plain_str)

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
# (module, attribute) -> name of the method (policy_guards.LibraryGuards) that replaces it.
_GUARDED = {
    ("operator", "attrgetter"): "attrgetter",
    ("operator", "methodcaller"): "methodcaller",
    ("functools", "update_wrapper"): "update_wrapper",
    ("functools", "wraps"): "wraps",
    ("numpy", "load"): "numpy_load",
    ("dataclasses", "make_dataclass"): "make_dataclass",
}


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


class RestrictedPolicy(LibraryGuards):
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

    def getattr(self, obj, name, *default):
        """getattr() for restricted code; also the target of `.format` loads."""
        name = self._vet_attribute(name)
        value = _real_getattr(obj, name, *default)
        if name in FORMAT_METHODS:
            if isinstance(obj, str):
                check_format_string(obj)
            elif isinstance(obj, _real_type) and issubclass(obj, str):
                return checked_unbound_format(value)
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
            if item == "*" or denied(full):
                raise PolicyViolation("import of '%s' is not allowed" % full, "import",
                                      hint=import_hint(self.allowed))
        return self.module_value(_real_import(name, globals, locals, fromlist, 0))

    def module_value(self, module):
        """The proxy restricted code gets for a real module, if allowed."""
        name = _real_getattr(module, "__name__", None)
        if not isinstance(name, str) or not module_reachable(name, self.allowed):
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

    # -- process-wide patches

    def install(self):
        """Guard string.Formatter field lookups, typing.ForwardRef evaluation
        (get_type_hints, singledispatch...) and the Enum functional API, which
        would otherwise walk attributes by name, eval strings with real
        builtins or build classes with "_"-named attributes; then freeze the
        library settings and install the audit hook."""
        install_stdlib_patches(self.builtins)
        policy_libs.guard_libraries(PolicyViolation)
        policy_hook.install(self.cwd, PolicyViolation)
        self.installed = True


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
