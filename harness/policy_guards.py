"""The restricted policy's run-time guards for what the AST cannot see:
format strings, `type`, the stdlib and library functions that walk
attributes by name or build classes from names (attrgetter, methodcaller,
update_wrapper/wraps, make_dataclass, the Enum functional API, ForwardRef
evaluation, numpy.load). Names and namespaces are vetted on exact copies
(plain_str, _plain_dict, _plain_item) and the copies are what the library gets.
"""

import builtins
import enum
import functools
import string
import typing

import _string

from .policy_check import check_source
from .policy_rules import (
    FORBIDDEN_ATTRIBUTES, PolicyViolation, attribute_problem, plain_str, reserved)

_real_hasattr = builtins.hasattr
_real_type = builtins.type


# ---------------------------------------------------------------- format strings

def _check_field(field_name):
    first, rest = _string.formatter_field_name_split(field_name)
    if isinstance(first, str) and reserved(first):
        raise PolicyViolation("format field '%s' is not allowed: it starts with '_'"
                              % field_name, "format")
    for is_attribute, key in rest:
        if not isinstance(key, str):
            continue
        if reserved(key) or (is_attribute and key in FORBIDDEN_ATTRIBUTES):
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


def checked_unbound_format(method):
    """str.format / str.format_map taken from the class: check the string at call time."""
    @functools.wraps(method)
    def checked(self, *args, **kwargs):
        if isinstance(self, str):
            check_format_string(self)
        return method(self, *args, **kwargs)
    return checked


# ---------------------------------------------------------------- type

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


# ---------------------------------------------------------------- library functions

_WRAPPER_DEFAULTS = frozenset(functools.WRAPPER_ASSIGNMENTS + functools.WRAPPER_UPDATES)


class LibraryGuards:
    """The replacements RestrictedPolicy hands restricted code for the
    functions policy._GUARDED names. Each takes the original first (bound
    by policy._bound_guard); attrgetter and methodcaller read through the
    subclass's guarded getattr.
    """

    def _vet_attribute(self, name):
        """The name as an exact str, once it passes the attribute rules."""
        problem = attribute_problem(name)
        if problem:
            raise PolicyViolation(problem, "attribute")
        return plain_str(name)

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


# ---------------------------------------------------------------- plain copies

def _vet_new_attributes(names, where):
    """Refuse reserved names as attributes of a class being built by `where`
    (the names must already be plain: see _plain_item, _plain_dict)."""
    for name in names:
        if isinstance(name, str) and reserved(plain_str(name)):
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


# ---------------------------------------------------------------- process-wide patches

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


def install_stdlib_patches(restricted_builtins):
    """Guard string.Formatter field lookups, typing.ForwardRef evaluation
    (evaluated with `restricted_builtins`) and the Enum functional API,
    process-wide."""
    string.Formatter.get_field = _guarded_get_field
    typing.ForwardRef._evaluate = functools.partialmethod(_guarded_evaluate, restricted_builtins)
    enum.EnumType._create_ = _guarded_enum_create
