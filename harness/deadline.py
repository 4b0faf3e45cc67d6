"""Where the program was when its time ran out (issue 13).

At the deadline the zygote sends REPORT_SIGNAL to the user process and SIGKILLs it a short,
bounded grace later (ZYGOTE_REPORT_GRACE_MS in sandbox/zygote.c). While the user code runs,
arm() holds a handler for that signal which records the user frames running at that moment
(line, function, the line's text) and their locals (bounded reprs), prints one line on stderr
("Timed out at line N in f(): <line text>"), writes the result frame carrying them in
debug_info["timeout"] and exits at once: the frame is then the only one on the result pipe.

A program stuck in C code never returns to the interpreter, so the handler never runs and the
SIGKILL ends it on time; a user __repr__ that hangs is cut by a CallGuard well inside the grace.
Outside the user code (set-up, the report) the signal is ignored: the report keeps the grace.

In a session (session.py) the process must outlive the cell: arm(..., raising=CellTimeout) makes
the handler record the location in execution.timeout, print the same stderr line and raise
CellTimeout in the main thread instead, so the cell unwinds and its frame is written as usual.
Code that catches it, or is stuck in C, is killed by the zygote after the grace.
"""

import _signal as _c_signal  # signal.signal is a Python wrapper that needs the builtins
import os
import signal
import sys

from . import debuginfo, describe, program
from .program import is_code_file

REPORT_SIGNAL = signal.SIGUSR2  # sandbox/zygote.c ZYGOTE_REPORT_SIGNAL
EXIT_CODE = 124  # unused by the agent (the zygote's record says "timed out"); as timeout(1)
MAX_FRAMES = 20  # innermost user frames reported
LOCALS_FRAMES = 5  # innermost function frames whose locals are described
MAX_LOCALS = 30  # locals described per frame
REPR_BUDGET_S = 0.2  # every repr together, well inside the zygote's grace
REPR_PER_CALL_S = 0.05

_signal = _c_signal.signal
_settrace = sys.settrace
_os_exit = os._exit
_CATCH_ALL = BaseException
_SIGNAL_ERRORS = (ValueError, OSError)  # bound now: user code may clear builtins
_SIG_IGN = _c_signal.SIG_IGN  # the C module takes its own int, not the enum

_result_fd = 3
_early = False  # the deadline came before the user code started
_armed = None  # (Execution, namespace, trace) while the user code runs, or None
_raising = None  # a session's: the exception the handler raises instead of exiting


def start(result_fd):
    """At the start of an execution: the frame goes to result_fd, and a deadline that comes
    before the user code starts (a slow set-up) is remembered for arm()."""
    global _result_fd, _early
    _result_fd, _early = result_fd, False
    try:
        _signal(REPORT_SIGNAL, _on_early)
    except _SIGNAL_ERRORS:
        pass


def _on_early(signum, frame):
    global _early
    _early = True


def arm(execution, namespace, trace, raising=None):
    """Report the location if the deadline comes while the user code runs. `execution` is the
    runner's Execution (its spec, _resources() and _flush() are used), `namespace` the user's
    globals, `trace` its LineTracer or None. With `raising` (an exception class) the handler
    raises it instead of exiting, after setting execution.timeout (the location); a deadline
    that already came raises it from here."""
    global _armed, _runner, _raising
    from . import runner as _runner  # loaded by now: runner imports this module
    _armed, _raising = (execution, namespace, trace), raising
    if _early:  # out of time already: the code must not start
        _on_deadline(REPORT_SIGNAL, None)
    try:
        _signal(REPORT_SIGNAL, _on_deadline)
    except _SIGNAL_ERRORS:  # not the main thread: nothing to report from
        _armed = None


def disarm():
    """The user code is over: the signal is ignored from now on."""
    global _armed
    _armed = None
    try:
        _signal(REPORT_SIGNAL, _SIG_IGN)
    except _SIGNAL_ERRORS:
        pass


def _on_deadline(signum, frame):
    state = _armed
    if state is None:
        return
    _settrace(None)  # the handler's own lines are not the program's
    disarm()
    if _raising is not None:
        _record_and_raise(state[0], frame, _raising)
    try:
        _runner._BUILTINS.update(_runner._BUILTINS_SNAPSHOT)  # the code may have cleared them
        _report_and_exit(state, frame)
    finally:
        _os_exit(EXIT_CODE)


def _record_and_raise(execution, frame, raising):
    """A session's timeout: the location into execution.timeout, the stderr line, then raise."""
    execution.timeout = {"lineno": None, "function": None, "line": None, "stack": []}
    try:
        _runner._BUILTINS.update(_runner._BUILTINS_SNAPSHOT)  # the code may have cleared them
        execution.timeout = where = location(frame, execution.spec.repr_limit)
        execution._flush()  # what the program printed so far comes first, whole
        _runner._write_all(2, summary(where).encode("utf-8", "backslashreplace"))
    except _CATCH_ALL:
        pass  # the cell must end all the same
    raise raising()


def _report_and_exit(state, frame):
    execution, namespace, trace = state
    spec = execution.spec
    where = location(frame, spec.repr_limit)
    execution._flush()  # what the program printed so far comes first, whole
    _runner._write_all(2, summary(where).encode("utf-8", "backslashreplace"))
    info = None
    if spec.debug_mode:
        info = debug_info(where, namespace, spec, execution._resources(), trace)
    report = _runner._report(EXIT_CODE, debug_info=info)
    _runner._write_all(_result_fd, _runner._encode_fitted(report))


def location(frame, repr_limit):
    """{lineno, function, line, stack, running?, frames_omitted?} for the user frames running
    in `frame`'s stack (outermost first); lineno/function/line are the innermost one's, None
    when no user code was running."""
    stack, running = [], None
    while frame is not None:
        if is_code_file(frame.f_code.co_filename):
            stack.append(frame)
        elif not stack and running is None:
            running = "%s (%s:%d)" % (frame.f_code.co_name, frame.f_code.co_filename,
                                      frame.f_lineno or 0)
        frame = frame.f_back
    omitted = max(0, len(stack) - MAX_FRAMES)
    stack = stack[:MAX_FRAMES]
    entries = []
    with describe.CallGuard(per_call=REPR_PER_CALL_S, budget=REPR_BUDGET_S) as guard:
        for depth, f in enumerate(stack):
            filename = f.f_code.co_filename
            entry = {"filename": filename, "lineno": f.f_lineno, "name": f.f_code.co_name,
                     "line": program.source_line(f.f_lineno, filename).strip()}
            if depth < LOCALS_FRAMES and f.f_code.co_name != "<module>":
                entry["locals"] = _locals(f, repr_limit, guard)
            entries.append(entry)
    entries.reverse()
    inner = entries[-1] if entries else {}
    where = {"lineno": inner.get("lineno"), "function": inner.get("name"),
             "line": inner.get("line"), "stack": entries}
    if running is not None:
        where["running"] = running  # library code the innermost user line had called
    if omitted:
        where["frames_omitted"] = omitted
    return where


def _locals(frame, repr_limit, guard):
    found = {}
    for name, value in list(frame.f_locals.items())[:MAX_LOCALS]:
        try:
            found[name] = describe.describe(value, repr_limit, guard)
        except describe.Expired:
            found[name] = {"type": describe.type_name(value), "repr": "<repr timed out>"}
        except _CATCH_ALL:
            found[name] = {"type": describe.type_name(value), "repr": "<repr failed>"}
    return found


def summary(where):
    """The stderr line: "Timed out at line N in f(): <line text>"."""
    if where["lineno"] is None:
        return ("Timed out before the submitted code started\n" if _early
                else "Timed out outside the submitted code\n")
    name = where["function"]
    name = name if name.startswith("<") else name + "()"
    return "Timed out at line %d in %s: %s\n" % (where["lineno"], name, where["line"])


def debug_info(where, namespace, spec, resources, trace):
    """debug_info of a run that timed out at `where`, its reprs within REPR_BUDGET_S."""
    with describe.CallGuard(per_call=REPR_PER_CALL_S, budget=REPR_BUDGET_S) as guard:
        variables, truncated = debuginfo.variables_after(dict(namespace), set(),
                                                         spec.repr_limit, guard)
    info = {"timeout": where, "variables_after": variables, "exceptions": [],
            "hints": [_hint(where)] if where["lineno"] is not None else [],
            "resources": resources}
    if truncated:
        info["variables_truncated"] = True
    if trace is not None:
        info.update(trace.report())
    return info


def _hint(where):
    return ("the time ran out while line %d was running (%s): check that its loop ends, or "
            "make the work smaller" % (where["lineno"], where["line"]))
