"""Attacks the restricted policy (issue 17, 1c), stdlib only: dataclasses.make_dataclass with a
dict subclass whose __iter__ is empty passed the namespace check, but dict.update() copied
__match_args__ = ("__globals__",) and an always-true __subclasshook__, so
`match dataclasses.fields: case Any(g):` handed back dataclasses' __globals__ (real builtins).
Variant: a positional pattern on an ordinary dataclass whose field is named gi_frame, with a
generator's type registered on its ABC base, handed back a frame.

Expected containment: run with "policy": "restricted". The namespace is checked on a plain dict
copy of exactly what is used (PolicyViolation); positional class patterns vet the names of
__match_args__ they read when the case is tried (PolicyViolation). Prints "CONTAINED: <route>";
"BREACH" on getting __globals__ or a frame.
"""
import collections.abc
import dataclasses
import numbers


class Namespace(dict):
    def __iter__(self):
        return iter(())


def always(cls, other):
    return True


def globals_via_namespace():
    ns = Namespace()
    ns["__match_args__"] = ("__globals__",)
    ns["__subclasshook__"] = classmethod(always)
    Any = dataclasses.make_dataclass("Any", [], namespace=ns, bases=(numbers.Number,))
    match dataclasses.fields:
        case Any(g):
            print("BREACH: __globals__ of dataclasses, builtins:", type(g["__builtins__"]))


@dataclasses.dataclass
class Frame(collections.abc.Hashable):
    gi_frame: int

    def __hash__(self):
        return 0


def gen():
    yield 1


def frame_via_field():
    g = gen()
    Frame.register(type(g))
    match g:
        case Frame(fr):
            print("BREACH: got a frame:", type(fr).__name__)


for name, attempt in (("make_dataclass namespace subclass", globals_via_namespace),
                      ("positional pattern on a gi_frame field", frame_via_field)):
    try:
        attempt()
        print("UNEXPECTED: %s ran to the end" % name)
    except Exception as exc:
        kind = type(exc).__name__
        print(("CONTAINED: %s" if kind == "PolicyViolation" else "UNEXPECTED: %s: ") % name,
              kind, exc)
