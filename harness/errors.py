"""Exceptions as the user should see them: only frames of the submitted code.

The harness's own frames (the exec call, policy guards) and library frames
are dropped from every traceback, including chained ones, so the text ends
exactly like CPython's (`ZeroDivisionError: division by zero`) and every line
number points into the submitted code.
"""

import io
import re
import sys
import traceback
import types

from .program import is_code_file, source_line

_MAX_CHAIN = 10  # chained exceptions reported in debug_info
_MAX_FRAMES = 50  # innermost user frames kept per exception in debug_info

# CPython's own printer, bound now (user code may replace sys.__excepthook__). In 3.11 only it
# computes the "Did you mean" suggestion of a NameError / AttributeError; traceback.py does not.
_cpython_print = sys.__excepthook__
_SUGGESTING = (NameError, AttributeError)


def type_label(exc):
    """The exception's class name as tracebacks show it for __main__/builtins."""
    return type(exc).__qualname__


def message(exc):
    """str(exc) that never raises."""
    try:
        return str(exc)
    except BaseException:
        return "<exception str() failed>"


def error_string(exc):
    """'Type: message', or just 'Type' when the message is empty."""
    text = message(exc)
    return "%s: %s" % (type_label(exc), text) if text else type_label(exc)


def _user_only(stack):
    return traceback.StackSummary.from_list([f for f in stack if is_code_file(f.filename)])


def _printed_alone(exc, tb):
    """What CPython's printer writes for `exc` with traceback `tb` and no chain. The exception
    is left as it was found."""
    sink, saved_stderr = io.StringIO(), getattr(sys, "stderr", None)
    saved = (exc.__traceback__, exc.__cause__, exc.__context__, exc.__suppress_context__)
    try:
        exc.__traceback__, exc.__cause__, exc.__context__ = tb, None, None
        sys.stderr = sink
        _cpython_print(type(exc), exc, tb)
    finally:
        sys.stderr = saved_stderr
        exc.__traceback__, exc.__cause__, exc.__context__, exc.__suppress_context__ = saved
    return sink.getvalue()


def suggestion(exc):
    """The name CPython's "Did you mean: 'x'?" offers for a NameError or AttributeError, else
    None. Asks the interpreter's own printer, so the choice is exactly CPython's; it looks in
    the innermost frame (NameError) or calls dir() on the object (AttributeError): callers
    bound the time."""
    if not isinstance(exc, _SUGGESTING):
        return None
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is not None:  # the innermost entry alone: NameError looks at its frame
        tb = types.TracebackType(None, tb.tb_frame, tb.tb_lasti, tb.tb_lineno)
    found = re.search(re.escape(message(exc)) + r"\. Did you mean: '([^'\n]*)'\?\n",
                      _printed_alone(exc, tb))
    return found.group(1) if found else None


def syntax_error_line(exc):
    """The line CPython ends its report of a SyntaxError with: 'SyntaxError: msg', without the
    location str() adds (the lines above it carry that)."""
    text = exc.msg if isinstance(exc.msg, str) else message(exc)
    return "%s: %s" % (type_label(exc), text) if text else type_label(exc)


def compile_error_text(exc):
    """stderr for code that did not compile: exactly what CPython prints for it (location,
    source line, caret line, 'SyntaxError: msg'), without the harness frames above it."""
    return _printed_alone(exc, None)


def format_user_traceback(exc):
    """CPython's traceback text for `exc`, chained exceptions included, with
    every frame outside the submitted code removed and CPython's own "Did you mean"
    suggestion kept."""
    root = traceback.TracebackException(
        type(exc), exc, exc.__traceback__, lookup_lines=False, compact=True)
    pending, seen = [(root, exc)], set()
    while pending:
        te, original = pending.pop()
        if te is None or id(te) in seen:
            continue
        seen.add(id(te))
        te.stack = _user_only(te.stack)
        found = suggestion(original)
        if found is not None:
            te._str += ". Did you mean: '%s'?" % found  # how 3.12's traceback.py adds it
        pending.extend(((te.__cause__, original.__cause__),
                        (te.__context__, original.__context__)))
        pending.extend(zip(te.exceptions or (), getattr(original, "exceptions", None) or ()))
    return "".join(root.format())


def plain_traceback(exc):
    """A minimal traceback (user frames, then 'Type: message') built without
    TracebackException, for when formatting the full one ran out of time: its
    "Did you mean" search calls dir() on the failing object."""
    lines = ["Traceback (most recent call last):\n"]
    for frame, lineno in user_frames(exc.__traceback__):
        code = frame.f_code
        lines.append('  File "%s", line %d, in %s\n' % (code.co_filename, lineno, code.co_name))
        text = source_line(lineno, code.co_filename).strip()
        if text:
            lines.append("    %s\n" % text)
    lines.append(error_string(exc) + "\n")
    return "".join(lines)


def user_frames(tb):
    """(frame, lineno) for each traceback entry that runs the submitted code."""
    frames = []
    while tb is not None:
        if is_code_file(tb.tb_frame.f_code.co_filename):
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _entry(exc, chain):
    entry = {"type": type_label(exc), "message": message(exc), "lineno": None, "line": None}
    if chain:
        entry["chain"] = chain
    if isinstance(exc, SyntaxError) and is_code_file(exc.filename):
        entry["lineno"] = exc.lineno
        entry["offset"] = exc.offset
        entry["line"] = (exc.text or "").strip()
        entry["message"] = exc.msg
        entry["traceback"] = []
        return entry
    frames = user_frames(exc.__traceback__)
    omitted = max(0, len(frames) - _MAX_FRAMES)
    entry["traceback"] = [
        {"filename": frame.f_code.co_filename, "lineno": lineno, "name": frame.f_code.co_name,
         "line": source_line(lineno, frame.f_code.co_filename).strip()}
        for frame, lineno in frames[omitted:]
    ]
    if omitted:
        entry["frames_omitted"] = omitted
    if frames:
        entry["lineno"] = frames[-1][1]
        entry["line"] = entry["traceback"][-1]["line"] if entry["traceback"] else source_line(
            frames[-1][1], frames[-1][0].f_code.co_filename).strip()
    return entry


def exception_entries(exc):
    """debug_info["exceptions"]: `exc` first, then what it was chained from
    (`"chain": "cause"` for `raise ... from`, `"context"` for implicit)."""
    entries, seen, chain = [], set(), None
    while exc is not None and id(exc) not in seen and len(entries) < _MAX_CHAIN:
        seen.add(id(exc))
        entries.append(_entry(exc, chain))
        if exc.__cause__ is not None:
            exc, chain = exc.__cause__, "cause"
        elif exc.__context__ is not None and not exc.__suppress_context__:
            exc, chain = exc.__context__, "context"
        else:
            exc = None
    return entries
