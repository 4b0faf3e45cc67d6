"""Exceptions as the user should see them: only frames of the submitted code.

The harness's own frames (the exec call, policy guards) and library frames
are dropped from every traceback, including chained ones, so the text ends
exactly like CPython's (`ZeroDivisionError: division by zero`) and every line
number points into the submitted code.
"""

import traceback

from .program import CODE_FILENAME, source_line

_MAX_CHAIN = 10  # chained exceptions reported in debug_info
_MAX_FRAMES = 50  # innermost user frames kept per exception in debug_info


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
    return traceback.StackSummary.from_list([f for f in stack if f.filename == CODE_FILENAME])


def format_user_traceback(exc):
    """CPython's traceback text for `exc`, chained exceptions included, with
    every frame outside CODE_FILENAME removed."""
    root = traceback.TracebackException(
        type(exc), exc, exc.__traceback__, lookup_lines=False, compact=True)
    pending, seen = [root], set()
    while pending:
        te = pending.pop()
        if te is None or id(te) in seen:
            continue
        seen.add(id(te))
        te.stack = _user_only(te.stack)
        pending.extend((te.__cause__, te.__context__))
        pending.extend(te.exceptions or ())
    return "".join(root.format())


def plain_traceback(exc):
    """A minimal traceback (user frames, then 'Type: message') built without
    TracebackException, for when formatting the full one ran out of time: its
    "Did you mean" search calls dir() on the failing object."""
    lines = ["Traceback (most recent call last):\n"]
    for frame, lineno in user_frames(exc.__traceback__):
        name = frame.f_code.co_name
        lines.append('  File "%s", line %d, in %s\n' % (CODE_FILENAME, lineno, name))
        text = source_line(lineno).strip()
        if text:
            lines.append("    %s\n" % text)
    lines.append(error_string(exc) + "\n")
    return "".join(lines)


def user_frames(tb):
    """(frame, lineno) for each traceback entry that runs the submitted code."""
    frames = []
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == CODE_FILENAME:
            frames.append((tb.tb_frame, tb.tb_lineno))
        tb = tb.tb_next
    return frames


def _entry(exc, chain):
    entry = {"type": type_label(exc), "message": message(exc), "lineno": None, "line": None}
    if chain:
        entry["chain"] = chain
    if isinstance(exc, SyntaxError) and exc.filename == CODE_FILENAME:
        entry["lineno"] = exc.lineno
        entry["offset"] = exc.offset
        entry["line"] = (exc.text or "").strip()
        entry["message"] = exc.msg
        entry["traceback"] = []
        return entry
    frames = user_frames(exc.__traceback__)
    omitted = max(0, len(frames) - _MAX_FRAMES)
    entry["traceback"] = [
        {"filename": CODE_FILENAME, "lineno": lineno,
         "name": frame.f_code.co_name, "line": source_line(lineno).strip()}
        for frame, lineno in frames[omitted:]
    ]
    if omitted:
        entry["frames_omitted"] = omitted
    if frames:
        entry["lineno"] = frames[-1][1]
        entry["line"] = source_line(frames[-1][1]).strip()
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
