"""Optional line trace of the submitted code (`"trace": true`).

Only frames running the submitted code (program.is_code_file) are traced; library
frames get no local trace function, so their cost is one cheap call per Python-level
call. In a session, a function of an earlier cell is traced with that cell's line numbers.
Locals are shown as short reprs, and only for values whose repr is known to
be cheap and side-effect free (builtins and a few stdlib/numpy types): a
user class's __repr__ is never run in the middle of the user's own code.
"""

import sys
import types
from collections import deque

from .describe import ShortRepr
from .program import is_code_file

_LOCAL_REPR_LIMIT = 80
_MAX_LOCALS = 20
# Modules whose types have cheap reprs without user code or side effects.
_TRUSTED_MODULES = frozenset({"builtins", "datetime", "decimal", "fractions", "collections",
                              "numpy"})
_SKIPPED_TYPES = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)


class _TraceRepr(ShortRepr):
    """ShortRepr with small limits that names untrusted objects instead of
    calling their __repr__."""

    def __init__(self):
        super().__init__()
        self.maxlevel = 2
        self.maxstring = self.maxother = _LOCAL_REPR_LIMIT
        self.maxlist = self.maxtuple = self.maxset = self.maxdict = 6

    def repr_instance(self, obj, level):
        cls = type(obj)
        if getattr(cls, "__module__", None) not in _TRUSTED_MODULES:
            return "<%s object>" % cls.__qualname__
        try:
            text = repr(obj)
        except Exception as exc:
            return "<repr failed: %s>" % type(exc).__name__
        return text if len(text) <= self.maxother else text[:self.maxother] + "..."


_REPR = _TraceRepr()
_settrace = sys.settrace  # captured: user code may replace sys.settrace


def _short(value):
    try:
        text = _REPR.repr(value)
    except Exception as exc:
        return "<repr failed: %s>" % type(exc).__name__
    return text if len(text) <= _LOCAL_REPR_LIMIT else text[:_LOCAL_REPR_LIMIT] + "..."


def _locals_snapshot(frame):
    shown = {}
    for name, value in list(frame.f_locals.items()):
        if name.startswith("__") or isinstance(value, _SKIPPED_TYPES):
            continue
        if len(shown) == _MAX_LOCALS:
            break
        shown[name] = _short(value)
    return shown


class LineTracer:
    """sys.settrace hook keeping the last `limit` events of the user code (for a failure the
    last ones matter): a ring, so memory stays bounded however long the code runs.

    events: [{lineno, event, func, locals}] with event in call/line/return/
    exception; return events carry `value`, exception events `exception`.
    `dropped` counts the earliest events pushed out of the ring; `truncated` is set when
    any were (or when `limit` is 0 and nothing is traced).
    """

    def __init__(self, limit):
        self.limit = limit
        self._ring = deque(maxlen=max(limit, 1))
        self.dropped = 0
        self.truncated = False

    @property
    def events(self):
        return list(self._ring)

    def report(self):
        """The debug_info keys: trace (oldest kept first), trace_truncated, trace_dropped."""
        return {"trace": self.events, "trace_truncated": self.truncated,
                "trace_dropped": self.dropped}

    def install(self):
        if self.limit > 0:
            _settrace(self._on_call)
        else:
            self.truncated = True

    def remove(self):
        _settrace(None)

    def _on_call(self, frame, event, arg):
        if not is_code_file(frame.f_code.co_filename):
            return None
        self._record(frame, event, arg)
        return self._on_event

    def _on_event(self, frame, event, arg):
        self._record(frame, event, arg)
        return self._on_event

    def _record(self, frame, event, arg):
        if len(self._ring) == self.limit:
            self.dropped += 1
            self.truncated = True
        # A module frame's call event reports line 0 in 3.11; name its first line.
        entry = {"lineno": frame.f_lineno or frame.f_code.co_firstlineno, "event": event,
                 "func": frame.f_code.co_name, "locals": _locals_snapshot(frame)}
        if event == "return":
            entry["value"] = _short(arg)
        elif event == "exception":
            entry["exception"] = arg[0].__name__
        self._ring.append(entry)
