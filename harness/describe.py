"""Bounded, failure-proof descriptions of arbitrary user objects.

Describing a value may run user code (__repr__, __len__, the items() of a
dict subclass...), which can raise, loop forever or print. Every such call
goes through a CallGuard: exceptions become markers, and SIGALRM bounds the
time one object (and all of them together) may take.
"""

import _signal
import json
import reprlib
import signal
import sys
import time
from collections import deque
from itertools import islice

# Types whose repr/len/JSON encoding is C code over bounded data: no guard needed.
PLAIN_TYPES = frozenset({int, float, complex, bool, type(None), str, bytes})
_SLICEABLE_TEXT = (str, bytes, bytearray)
_BUILTIN_CONTAINERS = frozenset({list, tuple, dict, set, frozenset, deque})
# Builtin containers longer than this are shown through reprlib, which
# stops after a few items instead of building a huge string and cutting it.
_LONG_CONTAINER = 100

# The agent's JSON reader (jansson) holds integers as int64 and refuses a frame with any other:
# such an integer is not JSON data here (see readable_int).
INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1


class _UnreadableInt(ValueError):
    pass


def _parse_int(text):
    value = int(text)
    if not INT_MIN <= value <= INT_MAX:
        raise _UnreadableInt(text)
    return value


def readable_int(value):
    """`value` if the agent's reader holds it (an int64), else its decimal text (a marker past
    CPython's 4300-digit limit on int-to-text)."""
    if INT_MIN <= value <= INT_MAX:
        return value
    try:
        return str(value)
    except ValueError:
        return "<int of %d bits>" % value.bit_length()


# Bound now: user code may monkeypatch json, signal and time.
_JSON_ENCODER = json.JSONEncoder(allow_nan=False, separators=(",", ":"))
# The result frame's encoding (ASCII: the agent reads it as JSON text of any bytes).
FRAME_ENCODER = json.JSONEncoder(ensure_ascii=True, allow_nan=False, separators=(",", ":"))
_json_loads = json.JSONDecoder(parse_int=_parse_int).decode
_setitimer = signal.setitimer
# The C function: signal.signal converts to and from enums, which copies enum's pages in a child.
_set_handler = _signal.signal
_SIGALRM = _signal.SIGALRM
_SIG_DFL = _signal.SIG_DFL
_ITIMER_REAL = signal.ITIMER_REAL
_monotonic = time.monotonic


class ShortRepr(reprlib.Repr):
    """reprlib's size limits without its sorting: dicts and sets show their
    first items in their own order, so a huge one costs only what is shown."""

    def repr_dict(self, x, level):
        if not x:
            return "{}"
        if level <= 0:
            return "{" + self.fillvalue + "}"
        pieces = ["%s: %s" % (self.repr1(key, level - 1), self.repr1(value, level - 1))
                  for key, value in islice(x.items(), self.maxdict)]
        if len(x) > self.maxdict:
            pieces.append(self.fillvalue)
        return "{%s}" % ", ".join(pieces)

    def repr_set(self, x, level):
        return self._repr_iterable(x, level, "{", "}", self.maxset) if x else "set()"

    def repr_frozenset(self, x, level):
        if not x:
            return "frozenset()"
        return self._repr_iterable(x, level, "frozenset({", "})", self.maxfrozenset)


def _make_short_repr():
    shorter = ShortRepr()
    shorter.maxlevel = 3
    shorter.maxlist = shorter.maxtuple = shorter.maxset = 20
    shorter.maxfrozenset = shorter.maxdeque = shorter.maxarray = 20
    shorter.maxdict = 10
    shorter.maxstring = shorter.maxother = 80
    return shorter


_SHORT_REPR = _make_short_repr()


class Expired(BaseException):
    """A guarded call ran past its time. BaseException so `except Exception`
    inside a user's __repr__ cannot swallow it."""


class CallGuard:
    """Context manager bounding user callbacks made while reporting.

    Inside the `with`, `call(fn, *args)` runs fn with an ITIMER_REAL alarm of
    `per_call` seconds (never past the overall `budget`) and raises Expired
    when it fires. The alarm only raises while a guarded call is running, so a
    late signal can never land in harness code. Without a usable SIGALRM
    (not the main thread) calls run unguarded.
    """

    def __init__(self, per_call=0.5, budget=3.0):
        self.per_call = per_call
        self.budget = budget
        self._inside = False
        self._armed = False
        self._previous = None
        self._deadline = 0.0

    def __enter__(self):
        self._deadline = _monotonic() + self.budget
        try:
            _setitimer(_ITIMER_REAL, 0)  # a user's pending alarm must not fire here
            self._previous = _set_handler(_SIGALRM, self._on_alarm)
            self._armed = True
        except (ValueError, OSError):
            self._armed = False
        return self

    def __exit__(self, *exc_info):
        if self._armed:
            _setitimer(_ITIMER_REAL, 0)
            _set_handler(_SIGALRM, self._previous or _SIG_DFL)
            self._armed = False
        return False

    def _on_alarm(self, signum, frame):
        if self._inside:
            raise Expired()

    def call(self, fn, *args):
        """Run fn(*args) under the alarm; raise Expired when out of time."""
        remaining = self._deadline - _monotonic()
        if remaining <= 0:
            raise Expired()
        if not self._armed:
            return fn(*args)
        self._inside = True
        _setitimer(_ITIMER_REAL, min(self.per_call, remaining))
        try:
            return fn(*args)
        finally:
            self._inside = False
            _setitimer(_ITIMER_REAL, 0)


def cut(text, limit):
    """Cut text to `limit` characters, marking the cut with '...'."""
    return text if len(text) <= limit else text[:limit] + "..."


def type_name(value):
    """Readable type name: bare for builtins and user classes, else 'package.Name'."""
    cls = type(value)
    try:
        module = cls.__module__
    except Exception:
        module = None
    if not isinstance(module, str) or module in ("builtins", "__main__"):
        return cls.__qualname__
    return module.partition(".")[0] + "." + cls.__qualname__


def bounded_repr(value, limit):
    kind = type(value)
    if kind is int and not INT_MIN <= value <= INT_MAX:
        return readable_int(value)  # repr() raises past 4300 digits
    if kind in _SLICEABLE_TEXT and len(value) > limit:
        return repr(value[: limit + 1])
    if kind in _BUILTIN_CONTAINERS and len(value) > _LONG_CONTAINER:
        return _SHORT_REPR.repr(value)
    return repr(value)


def safe_repr(value, limit, guard):
    """repr(value) cut to `limit`; never raises, never hangs past the guard."""
    try:
        if type(value) in PLAIN_TYPES:
            text = bounded_repr(value, limit)
        else:
            text = guard.call(bounded_repr, value, limit)
    except Expired:
        return "<repr timed out>"
    except BaseException as exc:
        return "<repr failed: %s>" % type(exc).__name__
    if not isinstance(text, str):
        return "<repr failed: TypeError>"
    return cut(text, limit)


def json_fragment(value, limit):
    """Compact JSON for `value` if it is plain JSON data of at most `limit`
    characters, else None. Stops encoding as soon as the limit is passed, so a
    huge list costs no more than `limit` characters of work."""
    size = 0
    parts = []
    try:
        for chunk in _JSON_ENCODER.iterencode(value):
            size += len(chunk)
            if size > limit:
                return None
            parts.append(chunk)
    except Exception:
        return None
    return "".join(parts)


NOT_JSON = object()


def json_value(value, limit, guard):
    """`value` as fresh JSON-safe Python data (round-tripped), or a sentinel
    NOT_JSON when it is not plain JSON data within `limit` characters."""
    if type(value) is str and len(value) > limit:
        return NOT_JSON  # encoding it whole just to find out would cost O(len)
    try:
        if type(value) in PLAIN_TYPES:
            text = json_fragment(value, limit)
        else:
            text = guard.call(json_fragment, value, limit)
        return NOT_JSON if text is None else _json_loads(text)
    except BaseException:
        return NOT_JSON


def _numpy_details(value, guard):
    numpy = sys.modules.get("numpy")
    if numpy is None or not isinstance(value, numpy.ndarray):
        return None
    details = {"shape": list(value.shape), "dtype": str(value.dtype), "size": int(value.size)}
    if value.size <= 100:
        data = json_value(value.tolist(), 1000, guard)
        if data is not NOT_JSON:
            details["value"] = data
    return details


def _add_head(details, frame, guard):
    """details["head"]: the rows of `frame` as JSON records (NaN -> null,
    dates as ISO strings), when pandas can encode them in 4000 characters."""
    try:
        text = guard.call(frame.to_json, None, "records", "iso")
        if isinstance(text, str) and len(text) <= 4000:
            details["head"] = _json_loads(text)
    except BaseException:
        pass


def _pandas_details(value, guard):
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return None
    if isinstance(value, pandas.DataFrame):
        columns = list(value.columns[:100])
        details = {
            "shape": list(value.shape),
            "columns": [str(c) for c in columns],
            "dtypes": {str(c): str(t) for c, t in value.dtypes.iloc[:100].items()},
            "len": len(value),
        }
        _add_head(details, value.iloc[:5, :20], guard)
        return details
    if isinstance(value, pandas.Series):
        name = json_value(value.name, 200, guard)
        details = {"name": str(value.name) if name is NOT_JSON else name,
                   "dtype": str(value.dtype), "len": len(value)}
        _add_head(details, value.iloc[:5], guard)
        return details
    return None


def _length(value, guard):
    if not hasattr(type(value), "__len__"):
        return None
    try:
        n = len(value) if type(value) in PLAIN_TYPES else guard.call(len, value)
    except BaseException:
        return None
    return n if type(n) is int else None


def describe(value, repr_limit, guard):
    """Describe one variable: {type, repr} plus value/len/shape/dtype/columns...

    `value` appears only when the object is plain JSON data whose encoding is
    at most 1000 characters; numpy arrays and pandas objects get their
    structure (shape, dtype, columns, dtypes, first rows) instead.
    """
    entry = {"type": type_name(value), "repr": safe_repr(value, repr_limit, guard)}
    try:
        extra = _numpy_details(value, guard) or _pandas_details(value, guard)
    except BaseException:
        extra = None
    if extra is not None:
        entry.update(extra)
        return entry
    data = json_value(value, 1000, guard)
    if data is not NOT_JSON:
        entry["value"] = data
    elif type(value) is int and value.bit_length() < 3400:  # about 1,000 digits
        entry["value"] = readable_int(value)  # outside int64: its decimal text
    length = _length(value, guard)
    if length is not None:
        entry["len"] = length
    return entry
