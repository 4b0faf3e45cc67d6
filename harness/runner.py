"""Python half of an execution, called from the C zygote.

preload() runs once in the zygote after interpreter start. run() runs once
per execution in a freshly forked child whose fds 0/1/2 are the execution's
pipes and whose cwd is its private working directory: it runs the submitted
code as __main__ the way `python -c` would, then writes exactly one JSON
result frame to result_fd.

User code may close sys.stdout, delete builtins or monkeypatch json and os,
so everything run() needs after the user code is bound here at import time,
and builtins are restored from a snapshot before the report is built.
"""

import atexit
import builtins
import gc
import importlib
import io
import json
import os
import re
import resource
import signal
import sys
import time
import traceback
import types

from . import deadline, debuginfo, describe, display, errors, hints, policy, program, tracer
from .program import CODE_FILENAME, is_code_file

RESULT_JSON_LIMIT = 64 * 1024  # trailing-expression value returned as JSON up to this size
RESULT_REPR_LIMIT = 10000  # ...else as its repr, cut to this many characters
FRAME_LIMIT = 1 << 20  # bytes of a result frame but its outputs
# Bytes of a frame the agent reads (EXEC_RESULT_MAX in agent/exec_mgr.c): the outputs get what
# the rest leaves, less FRAME_SLACK, up to display.TOTAL_LIMIT.
AGENT_FRAME_MAX = 34 << 20  # agent/exec_mgr_int.h EXEC_RESULT_MAX
FRAME_SLACK = 4096
ERROR_LIMIT = 8192  # characters of "error" kept when the frame must shrink

_CATCH_ALL = BaseException  # bound here: `except BaseException` needs builtins intact
_MemoryError = MemoryError
_OSError = OSError
_memoryview = memoryview
_len = len
_BUILTINS = builtins.__dict__
_BUILTINS_SNAPSHOT = dict(_BUILTINS)
_builtins_module = builtins
_exec = exec
_eval = eval
_os_write = os.write
_os_getpid = os.getpid
_os_exit = os._exit
_unsetenv = os.unsetenv
_urandom = os.urandom
_getcwd = os.getcwd
_JSON_ENCODER = describe.FRAME_ENCODER
_getrusage = resource.getrusage
_RUSAGE_SELF = resource.RUSAGE_SELF
_perf_counter = time.perf_counter
_settrace = sys.settrace
_setprofile = sys.setprofile
_setrecursionlimit = sys.setrecursionlimit
_setitimer = signal.setitimer
_gc_enable = gc.enable

# Streams this module replaced. They stay referenced so they are never
# finalised: a finaliser would flush the zygote's leftovers into the pipes.
_retired_streams = []

_NO_VALUE = object()
_MT_KEY_WORDS = 624  # MT19937's state: a full key, the position at its end (regenerated first)
_MT_KEY_BYTES = 4 * _MT_KEY_WORDS

# An uncaught exception's traceback keeps its innermost entries up to this many, as CPython's
# own printer does (sys.tracebacklimit's default); deeper ones are cut before the report.
_TRACEBACK_LIMIT = 1000
_KEEP_LOCALS = 10  # innermost frames of a cut traceback that keep their locals (for hints)
_CO_RESUMABLE = 0x20 | 0x80 | 0x200  # CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR

# Written when the report could not be built: encoded now, so sending them allocates nothing.
_OUT_OF_MEMORY = (b'{"exit_code":1,"error":"MemoryError: the code left too little memory to build '
                  b'its result","error_type":"MemoryError","exit_reason":null,"result":null,'
                  b'"result_type":null,"debug_info":null}')
_UNREPORTABLE = (b'{"exit_code":1,"error":"InternalError: the result could not be built",'
                 b'"error_type":"InternalError","exit_reason":null,"result":null,'
                 b'"result_type":null,"debug_info":null}')


# ---------------------------------------------------------------- zygote side

def preload(modules):
    """Import `modules` once in the zygote so every child starts with them.

    matplotlib gets the Agg backend before pyplot is imported (there is no
    display). Returns {"loaded": [names], "failed": {name: "ExcType: msg"}}
    and never raises; starts no threads.
    """
    loaded, failed = [], {}
    for name in modules:
        try:
            _import_preloaded(name)
        except _CATCH_ALL as exc:
            failed[str(name)] = errors.error_string(exc)
        else:
            loaded.append(name)
    return {"loaded": loaded, "failed": failed}


def _import_preloaded(name):
    if name == "matplotlib" or name.startswith("matplotlib."):
        importlib.import_module("matplotlib").use("Agg")
        importlib.import_module("matplotlib.pyplot")
    importlib.import_module(name)


# ---------------------------------------------------------------- the request

class Spec:
    """The execution request, with defaults for missing keys.

    `execution_id` is accepted and not needed here (the C side keeps it).
    An unknown `policy` is an error rather than a silent fallback to the
    unrestricted one.
    """

    __slots__ = ("code", "input_data", "env", "base_env", "debug_mode", "restricted", "trace",
                 "trace_limit", "repr_limit", "restricted_imports", "prewarm", "execution_count",
                 "figure_dpi")

    def __init__(self, raw):
        if not isinstance(raw, dict):
            raise ValueError("spec must be a JSON object")
        self.code = raw.get("code")
        if not isinstance(self.code, str):
            raise ValueError("spec.code must be a string")
        policy_name = raw.get("policy") or "standard"
        if policy_name not in ("standard", "restricted"):
            raise ValueError("spec.policy must be 'standard' or 'restricted', not %r"
                             % (policy_name,))
        self.restricted = policy_name == "restricted"
        self.input_data = raw.get("input_data")
        self.env = _string_map(raw.get("env"))
        self.base_env = _string_map(raw.get("base_env"))
        self.debug_mode = raw.get("debug_mode", True) is not False
        self.trace = raw.get("trace") is True
        # The agent's throwaway run in a warm child: the interpreter must be left as a real
        # run expects it (no threading shutdown, no atexit callbacks run).
        self.prewarm = raw.get("prewarm") is True
        self.trace_limit = _bounded_int(raw.get("trace_limit"), 1000, 0, 100000)
        self.repr_limit = _bounded_int(raw.get("repr_limit"), 200, 10, 100000)
        # PNGs of figures at this dpi; None: rcParams["savefig.dpi"] (the figure's own).
        self.figure_dpi = _bounded_int(raw.get("figure_dpi"), None, 10, 1000)
        # A session's cell number, as the agent counts it (its cells in other languages too).
        self.execution_count = _bounded_int(raw.get("execution_count"), None, 1, 1 << 62)
        imports = raw.get("restricted_imports")
        self.restricted_imports = (
            tuple(str(m) for m in imports) if isinstance(imports, list)
            else policy.DEFAULT_ALLOWED_IMPORTS)

    @classmethod
    def parse(cls, data):
        return cls(json.loads(bytes(data).decode("utf-8")))


def _string_map(value):
    if not isinstance(value, dict):
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _bounded_int(value, default, low, high):
    if type(value) is not int:
        return default
    return max(low, min(high, value))


# ---------------------------------------------------------------- child side

def run(spec, result_fd):
    """Run one execution; write its JSON result frame to result_fd.

    Returns the exit code (also in the frame). Never raises: a failure of
    the harness itself becomes an "InternalError: ..." result.
    """
    deadline.start(result_fd)
    return run_execution(lambda: Execution(Spec.parse(spec)), result_fd)


def run_execution(make, result_fd):
    """run()'s body for an Execution made by make() (a session's cell is a subclass): run it,
    write its frame to result_fd, return the exit code. Never raises."""
    execution = None
    try:
        try:
            execution = make()
            report = execution.run()
            outputs = execution.outputs
        except _CATCH_ALL as exc:
            _BUILTINS.update(_BUILTINS_SNAPSHOT)
            if isinstance(exc, _MemoryError):
                raise  # the code's, not the harness's: reported as such below
            report, outputs = _internal_error(exc, execution), None
        try:
            data = _encode_fitted(report, outputs)
        except _CATCH_ALL as exc:
            if isinstance(exc, _MemoryError):
                raise
            report = _internal_error(exc, execution)
            data = _encode(report)
        code = report["exit_code"]
    except _CATCH_ALL as exc:
        if execution is not None and execution.outcome_frame is None:
            try:
                execution.salvage()
            except _CATCH_ALL:
                pass
        # Inline, no call: memory may be exhausted. The code's own failure encoded when it
        # ended, else a frame encoded in advance.
        if execution is not None and execution.outcome_frame is not None:
            data, code = execution.outcome_frame, execution.outcome[0]
        else:
            data, code = _OUT_OF_MEMORY if isinstance(exc, _MemoryError) else _UNREPORTABLE, 1
    _write_all(result_fd, data)
    return code


def _report(exit_code, error=None, error_type=None, exit_reason=None, result=None,
            result_type=None, debug_info=None):
    return {"exit_code": exit_code, "error": error, "error_type": error_type,
            "exit_reason": exit_reason, "result": result, "result_type": result_type,
            "debug_info": debug_info}


def _internal_error(exc, execution):
    """The report when the harness failed: the code's own failure when it had one (the
    harness's then in debug_info.report_error), else an InternalError."""
    trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    failure = "InternalError: " + errors.error_string(exc)
    outcome = execution.outcome if execution is not None else None
    if outcome is not None and outcome[0] != 0:
        return _report(*outcome, debug_info={"report_error": failure,
                                             "internal_traceback": describe.cut(trace, 8000)})
    return _report(1, failure, "InternalError",
                   debug_info={"internal_traceback": describe.cut(trace, 8000)})


# 19 digits in a row: maybe an integer outside int64 (2**63 has 19), which the agent's reader
# refuses along with the whole frame. Values are made readable where they are described; this
# catches any other (a user-raised SyntaxError's lineno, say).
_LONG_DIGITS = re.compile(rb"\d{19}")


def _encode(report):
    data = _JSON_ENCODER.encode(report).encode("ascii")
    if _LONG_DIGITS.search(data) and _make_ints_readable(report):
        data = _JSON_ENCODER.encode(report).encode("ascii")
    return data


def _make_ints_readable(report):
    """Replace, in place, every int of the report outside int64 by describe.readable_int's
    text; True when there was one. Iterative: the result may be deeply nested."""
    changed, pending = False, [report]
    while pending:
        node = pending.pop()
        slots = node.items() if type(node) is dict else enumerate(node)
        for key, value in list(slots):
            if type(value) is int and describe.readable_int(value) is not value:
                node[key], changed = describe.readable_int(value), True
            elif type(value) in (dict, list):
                pending.append(value)
    return changed


def _encode_fitted(report, outputs=None):
    """The encoded report, made to fit FRAME_LIMIT: the agent drops a larger frame whole, and
    a long trace (trace_limit up to 100,000), wide reprs (repr_limit) or a huge exception
    message can make one. Cut in this order until it fits: the error text, the trace's head,
    the variables, then debug_info altogether. Then the rich outputs (a display.Outputs, its
    items encoded already) are spliced in, as many as AGENT_FRAME_MAX still holds."""
    data = _fit(report)
    if outputs is not None:
        members = outputs.frame_members(AGENT_FRAME_MAX - len(data) - FRAME_SLACK)
        if members:
            data = data[:-1] + b"," + members + b"}"
    return data


def _fit(report):
    data = _encode(report)
    if len(data) <= FRAME_LIMIT:
        return data
    if isinstance(report["error"], str) and len(report["error"]) > ERROR_LIMIT:
        report["error"] = report["error"][:ERROR_LIMIT] + " ... (cut)"
        data = _encode(report)
    info = report["debug_info"]
    if isinstance(info, dict) and len(data) > FRAME_LIMIT and info.get("trace"):
        info["trace_truncated"] = True
        while len(data) > FRAME_LIMIT and info["trace"]:
            # Keep the share that fits (with a margin), the last events: they led to the end.
            keep = int(len(info["trace"]) * FRAME_LIMIT / len(data) * 0.9)
            info["trace_dropped"] = info.get("trace_dropped", 0) + len(info["trace"]) - keep
            info["trace"] = info["trace"][len(info["trace"]) - keep:]
            data = _encode(report)
    if isinstance(info, dict) and len(data) > FRAME_LIMIT and info.get("variables_after"):
        info["variables_after"], info["variables_truncated"] = {}, True
        for item in (info.get("exceptions") or [{}])[0].get("traceback", ()):
            if item.pop("locals", None) is not None:  # the frames' locals go with them
                item["locals_truncated"] = True
        data = _encode(report)
    if len(data) > FRAME_LIMIT:
        report["debug_info"] = None
        data = _encode(report)
    return data


def _write_all(fd, data):
    """os.write until everything is written (pipes take partial writes);
    gives up silently when the fd is closed or broken."""
    try:
        written = _os_write(fd, data)  # a pipe takes it whole unless it is large
    except _OSError:
        return
    if written == _len(data):
        return
    view = _memoryview(data)[written:]
    while view:
        try:
            written = _os_write(fd, view)
        except _OSError:
            return
        view = view[written:]


def _open_stream(fd, mode, errors_mode):
    """A fresh text stream on fd, write-through and line-buffered, so print()
    interleaves with os.write() and subprocess output; None if fd is closed."""
    try:
        raw = io.FileIO(fd, mode, closefd=False)
    except OSError:
        return None
    if mode == "r":
        return io.TextIOWrapper(io.BufferedReader(raw), encoding="utf-8", errors=errors_mode)
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", errors=errors_mode,
                            line_buffering=True, write_through=True)


def _install_streams(retire=True):
    """Replace sys.std* with fresh streams on fds 0/1/2 (new objects rather
    than reconfigure(): nothing buffered in the zygote can leak in, and they
    exist even when the zygote started without stdio). Returns (out, err).
    retire=False drops the old ones instead of keeping them: a session's
    later cells, whose old streams are its own, flushed at the last cell's end."""
    if retire:
        _retired_streams.append((sys.stdin, sys.stdout, sys.stderr,
                                 sys.__stdin__, sys.__stdout__, sys.__stderr__))
    sys.stdin = sys.__stdin__ = _open_stream(0, "r", "strict")
    sys.stdout = sys.__stdout__ = _open_stream(1, "w", "strict")
    sys.stderr = sys.__stderr__ = _open_stream(2, "w", "backslashreplace")
    return sys.stdout, sys.stderr


def _reset_environment(base_env, env):
    """os.environ = base_env + env, through putenv so subprocesses see it.
    Entries the OS cannot hold (NUL bytes, '=' in a name) are dropped."""
    _clear_environ()
    for source in (base_env, env):
        for key, value in source.items():
            try:
                os.environ[key] = value
            except ValueError:
                pass


def _clear_environ():
    """os.environ.clear() without its per-name decode/encode round trip: each of those calls
    touches (and so copies) pages of the zygote's heap. Its own steps on the encoded names."""
    data = getattr(os.environ, "_data", None)
    if type(data) is not dict:
        os.environ.clear()
        return
    for key in list(data):
        _unsetenv(key)
    data.clear()


def _reseed_numpy():
    """numpy's global RandomState was seeded once in the zygote; without a
    reseed every execution would draw the same 'random' numbers. Its whole
    MT19937 key (624 words) from urandom, set as the state: a run touches the
    fewest of the zygote's pages this way (each touched page is copied after
    the fork; seed() with an array touched ~2.5x more, seed() with none costs
    ~10x more). True when it was re-seeded."""
    numpy = sys.modules.get("numpy")
    numpy_random = sys.modules.get("numpy.random")
    if numpy is not None and numpy_random is not None:
        try:
            key = numpy.frombuffer(_urandom(_MT_KEY_BYTES), dtype=numpy.uint32)
            numpy_random.set_state(("MT19937", key, _MT_KEY_WORDS, 0, 0.0))
            return True
        except Exception:
            pass
    return False


def _exit_status(exc):
    """(exit_code, error, error_type, exit_reason) for how the code ended."""
    if exc is None:
        return 0, None, None, None
    if isinstance(exc, SystemExit):
        code = exc.code
        if code is None:
            return 0, None, None, None
        if isinstance(code, int):
            status = code & 0xFF
            return (status, "SystemExit: %d" % code if status else None,
                    "SystemExit" if status else None, None)
        return 1, "SystemExit: " + errors.message(exc), "SystemExit", None
    if isinstance(exc, policy.PolicyViolation):
        return 1, "PolicyViolation: " + exc.located(), "PolicyViolation", "policy"
    return 1, errors.error_string(exc), errors.type_label(exc), None


def _traceback_text(exc):
    """The user-only traceback, time-bounded: CPython's "Did you mean" search
    calls dir() on the failing object, which user code can make hang."""
    with describe.CallGuard(per_call=2.0, budget=2.0) as guard:
        try:
            return guard.call(errors.format_user_traceback, exc)
        except describe.Expired:
            return errors.plain_traceback(exc)


def _cut_deep_tracebacks(exc):
    """_cut_deep_traceback for the exception and what it is chained from (as reported: at most
    errors' chain limit, each once)."""
    seen = []
    while exc is not None and _len(seen) < 10 and not any(e is exc for e in seen):
        seen.append(exc)
        _cut_deep_traceback(exc.__traceback__)
        exc = exc.__cause__ if exc.__cause__ is not None else exc.__context__


def _cut_deep_traceback(tb):
    """Cut a traceback deeper than _TRACEBACK_LIMIT to its first entry (the harness's frame)
    and the innermost _TRACEBACK_LIMIT, and clear the locals of all but the innermost
    _KEEP_LOCALS frames. A runaway recursion that exhausted memory holds it in these frames'
    locals, and formatting hundreds of thousands of entries would need more again. The cut
    frames themselves stay alive (a finished frame keeps its caller through f_back); their
    traceback entries and locals are what is freed. Allocates next to nothing (a counter):
    memory may be exhausted here."""
    depth, entry = 0, tb
    while entry is not None:
        depth += 1
        entry = entry.tb_next
    if tb is None or depth <= _TRACEBACK_LIMIT + 1:
        return
    index, entry, first_kept = 0, tb.tb_next, None
    while entry is not None:
        index += 1
        if index == depth - _TRACEBACK_LIMIT:
            first_kept = entry
        # A generator's frame may still be suspended (an exception it caught and yielded):
        # clearing it would finalise the generator, running user code here.
        if index < depth - _KEEP_LOCALS and not entry.tb_frame.f_code.co_flags & _CO_RESUMABLE:
            try:
                entry.tb_frame.clear()
            except RuntimeError:  # still executing (cannot happen below the harness's frame)
                pass
        entry = entry.tb_next
    tb.tb_next = first_kept


def _locate_violation(exc):
    """Fill a runtime PolicyViolation's line and column from the innermost
    frame of the submitted code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if is_code_file(f.filename)]
    if frames and exc.lineno is None:
        exc.lineno = frames[-1].lineno
        exc.col = frames[-1].colno + 1 if frames[-1].colno is not None else None


def _violation_text(violation, filename):
    """Compile-time violation printed like a SyntaxError: location, source
    line, caret, then 'PolicyViolation: <what> (line L, col C)'."""
    line = program.source_line(violation.lineno, filename)
    stripped = line.lstrip()
    caret = " " * (4 + max(0, violation.col - 1 - (len(line) - len(stripped)))) + "^"
    return '  File "%s", line %d\n    %s\n%s\nPolicyViolation: %s\n' % (
        filename, violation.lineno, stripped, caret, violation.located())


def _violation_entry(violation, filename):
    return {"type": "PolicyViolation", "message": violation.what, "lineno": violation.lineno,
            "col": violation.col, "line": program.source_line(violation.lineno, filename).strip(),
            "traceback": []}


class _Discard(io.TextIOBase):
    """A text stream that drops everything written to it."""

    def writable(self):
        return True

    def write(self, text):
        return len(text)


class _Refused(Exception):
    """The restricted policy refused the code at compile time."""

    def __init__(self, violations):
        super().__init__(violations[0].located())
        self.violations = violations


class Execution:
    """One run of one spec, from stream setup to the result dict. A session's cell
    (session.Cell) is a subclass: the methods it overrides say what differs."""

    def __init__(self, spec):
        self.spec = spec
        self.filename = CODE_FILENAME  # the code's file name in tracebacks
        self.pid = _os_getpid()
        self.restriction = None  # the RestrictedPolicy under "restricted"
        self.stdout = self.stderr = None
        self.cpu_start = self.wall_start = 0.0
        self.recursion_limit = sys.getrecursionlimit()
        # How the code ended, (exit_code, error, error_type, exit_reason), known before the
        # report is built; for a failure, also encoded: what is sent if the report cannot be.
        self.outcome = self.outcome_frame = None
        self.namespace = self.exc = None  # the code's globals and uncaught exception
        self.value = _NO_VALUE
        self.traceback_written = False
        self.outputs = display.Outputs(spec.figure_dpi)  # display(), figures (display.py)

    def salvage(self):
        """The report could not be built (memory exhausted): free the code's globals, then write
        its traceback if that did not happen yet and encode its own failure."""
        self._free_namespace()
        if self.exc is None or isinstance(self.exc, SystemExit):
            return
        if not self.traceback_written:
            self._write_stderr(_traceback_text(self.exc))
        if self.outcome is None:
            self._remember_outcome(self._status(self.exc))

    def _free_namespace(self):
        if self.namespace is not None:
            self.namespace.clear()

    def _status(self, exc):
        """(exit_code, error, error_type, exit_reason) for how the code ended."""
        return _exit_status(exc)

    def _remember_outcome(self, outcome):
        self.outcome = outcome
        if outcome[0] == 0:
            return
        exit_code, error, error_type, exit_reason = outcome
        if isinstance(error, str) and len(error) > ERROR_LIMIT:
            error = error[:ERROR_LIMIT] + " ... (cut)"
        try:
            self.outcome_frame = _encode(_report(
                exit_code, error, error_type, exit_reason,
                debug_info={"report_error": "MemoryError: the code left too little memory to "
                                            "build its report"}))
        except _MemoryError:
            pass

    def run(self):
        self._set_up()
        try:
            prog = self._compile()
        except _CATCH_ALL as exc:
            return self._compile_failure(exc)
        namespace = self._main_namespace()
        if self.restriction is not None and not self.restriction.installed:
            self.restriction.install()
        trace = tracer.LineTracer(self.spec.trace_limit) if self.spec.trace else None
        self.namespace = namespace
        self._run_user_code(prog, namespace, trace)
        value, exc = self.value, self.exc
        _BUILTINS.update(_BUILTINS_SNAPSHOT)
        if exc is not None:
            _cut_deep_tracebacks(exc)
        self._capture_outputs(value)
        self._finish_like_python(exc)
        self._remember_outcome(self._status(exc))
        resources = self._resources()
        self._restore_interpreter()
        return self._completed(prog, namespace, value, exc, resources, trace)

    # -- before the user code

    def _set_up(self):
        spec = self.spec
        _reset_environment(spec.base_env, spec.env)
        self._fresh_process()
        _gc_enable()  # the zygote disables gc before gc.freeze()
        sys.argv = [CODE_FILENAME]
        self._register_source()
        self.restriction = self._restriction()
        display.begin(self.outputs, self.restriction.builtins if self.restriction else _BUILTINS)
        if self.restriction is None and (not sys.path or sys.path[0] != _getcwd()):
            sys.path.insert(0, _getcwd())  # as `python -c`: modules the code writes import
        self.cpu_start = self._cpu_time()
        self.wall_start = _perf_counter()

    def _fresh_process(self):
        """New streams on fds 0/1/2 and numpy's generator re-seeded: this process is a fresh
        fork of the zygote."""
        self.stdout, self.stderr = _install_streams()
        _reseed_numpy()

    def _restriction(self):
        """The RestrictedPolicy under "restricted", else None."""
        if not self.spec.restricted:
            return None
        return policy.RestrictedPolicy(_getcwd(), self.spec.restricted_imports)

    def _register_source(self):
        program.register_source(self.spec.code, self.filename)

    def _compile(self):
        tree = program.parse(self.spec.code, self.filename)
        if self.restriction is not None:
            violations = policy.check(tree, self.restriction.allowed)
            if violations:
                raise _Refused(violations)
            tree = policy.transform(tree)
        return program.compile_tree(self.spec.code, tree, self.filename)

    def _main_namespace(self):
        """The __main__ module's dict, ready for the code; the module is registered in
        sys.modules so pickle, dataclasses and typing find the user's classes."""
        module = self._main_module()
        namespace = module.__dict__
        namespace["__builtins__"] = (self.restriction.builtins if self.restriction
                                     else _builtins_module)
        namespace["__file__"] = CODE_FILENAME
        if self.spec.input_data is not None:
            namespace["input_data"] = self.spec.input_data
        sys.modules["__main__"] = module
        return namespace

    @staticmethod
    def _main_module():
        return types.ModuleType("__main__")  # a fresh one: the execution's own

    # -- the user code

    def _run_user_code(self, prog, namespace, trace):
        """Sets self.value (the trailing expression's) and self.exc. Stores rather than
        returns: a tuple may not be allocatable when the code exhausted memory. The deadline
        is armed inside the try: in a session its signal (and SIGINT) raise, and what they
        raise before the code ends is the code's."""
        try:
            try:
                self._arm(namespace, trace)
                if trace is not None:
                    trace.install()
                _exec(prog.body, namespace)
                if prog.tail is not None:
                    self.value = _eval(prog.tail, namespace)
            finally:
                self._disarm()
                if trace is not None:
                    trace.remove()
        except _CATCH_ALL as exc:
            self.exc = exc
        self._disarm()  # again: a second signal may have cut the first disarm short

    def _arm(self, namespace, trace):
        deadline.arm(self, namespace, trace)  # a timeout reports where it was

    def _disarm(self):
        deadline.disarm()

    def _capture_outputs(self, value):
        """The trailing value's rich output and the figures left open, before the atexit
        callbacks (matplotlib's closes every figure); not in a process the code forked. What
        a repr prints meanwhile is dropped, as while the report is built."""
        if _os_getpid() != self.pid:
            return
        self._flush()
        streams = {name: getattr(sys, name, _NO_VALUE) for name in ("stdout", "stderr")}
        sys.stdout = sys.stderr = _Discard()
        try:
            display.finish(self.outputs, value, value is not _NO_VALUE)
        finally:
            for name, stream in streams.items():  # as the code left them, deleted or not
                if stream is _NO_VALUE:
                    delattr(sys, name)
                else:
                    setattr(sys, name, stream)

    def _finish_like_python(self, exc):
        """What the interpreter does after the main code: report an uncaught
        exception, wait for non-daemon threads, run atexit callbacks. A child
        the user code forked exits here, like a forked Python process would,
        without writing a result frame."""
        self._register_source()  # again, in case the code cleared linecache
        self._print_uncaught(exc)
        if not self.spec.prewarm:  # a warm-up run leaves the interpreter as a real run needs it
            self._at_exit()
        _BUILTINS.update(_BUILTINS_SNAPSHOT)
        if _os_getpid() != self.pid:
            self._flush()
            _os_exit(self._status(exc)[0])

    def _print_uncaught(self, exc):
        if isinstance(exc, SystemExit):
            if exc.code is not None and not isinstance(exc.code, int):
                self._write_stderr(errors.message(exc) + "\n")
        elif exc is not None:
            if isinstance(exc, policy.PolicyViolation):
                _locate_violation(exc)
            self._write_stderr(_traceback_text(exc))
            self.traceback_written = True

    @staticmethod
    def _at_exit():
        """The interpreter's exit: join non-daemon threads, run atexit callbacks."""
        threading = sys.modules.get("threading")
        try:
            if threading is not None:
                threading._shutdown()
            atexit._run_exitfuncs()
        except _CATCH_ALL:
            pass

    def _write_stderr(self, text):
        """Write at the fd level after flushing, so the text lands on the
        execution's stderr, in order, even if the code replaced sys.stderr."""
        self._flush()
        _write_all(2, text.encode("utf-8", "backslashreplace"))

    def _flush(self):
        """Flush the user's current sys.stdout/stderr (which may be anything,
        or gone) and our own streams; failures are ignored."""
        for stream in (getattr(sys, "stdout", None), getattr(sys, "stderr", None),
                       self.stdout, self.stderr):
            try:
                stream.flush()
            except _CATCH_ALL:
                pass

    def _restore_interpreter(self):
        """Undo what the user code may have left that would break reporting:
        trace/profile hooks, a low recursion limit, a pending alarm."""
        _settrace(None)
        _setprofile(None)
        _setrecursionlimit(self.recursion_limit)
        _setitimer(signal.ITIMER_REAL, 0)
        self._flush()

    @staticmethod
    def _cpu_time():
        usage = _getrusage(_RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime

    def _resources(self):
        usage = _getrusage(_RUSAGE_SELF)
        return {"cpu_time_s": round(usage.ru_utime + usage.ru_stime - self.cpu_start, 6),
                "max_rss_kb": usage.ru_maxrss,
                "wall_time_s": round(_perf_counter() - self.wall_start, 6)}

    # -- the result

    def _completed(self, prog, namespace, value, exc, resources, trace):
        exit_code, error, error_type, exit_reason = self.outcome
        self._silence_python_output()
        result, result_type = self._result(value)
        debug_info = None
        if self.spec.debug_mode:
            hint_list = []
            if error is not None and not isinstance(exc, SystemExit):
                allowed = self.restriction.allowed if self.restriction else None
                hint_list = hints.for_exception(exc, namespace, prog.tree, allowed)
            bound = (self.spec.input_data,) if self.spec.input_data is not None else None
            debug_info = debuginfo.build(
                dict(namespace), prog, exc if error is not None else None, hint_list,
                resources, self.spec.repr_limit, bound, trace)
        elif trace is not None:
            # A trace asked for without the rest of debug_info: the trace alone.
            debug_info = trace.report()
        return _report(exit_code, error, error_type, exit_reason, result, result_type,
                       debug_info)

    def _silence_python_output(self):
        """Flush, then point sys.stdout/stderr at a sink: a user __repr__ that
        prints while the report is built must not add to the program's output."""
        self._flush()
        sys.stdout = sys.stderr = _Discard()

    @staticmethod
    def _result(value):
        """(result, result_type): the trailing expression's value as JSON when
        it is plain JSON data under RESULT_JSON_LIMIT, else its cut repr."""
        if value is _NO_VALUE or value is None:
            return None, None
        with describe.CallGuard(per_call=2.0, budget=4.0) as guard:
            data = describe.json_value(value, RESULT_JSON_LIMIT, guard)
            if data is describe.NOT_JSON:
                data = describe.safe_repr(value, RESULT_REPR_LIMIT, guard)
        return data, describe.type_name(value)

    def _compile_failure(self, exc):
        """The code did not compile (or the policy refused it): nothing ran."""
        resources = self._resources()
        if isinstance(exc, _Refused):
            first = exc.violations[0]
            self._write_stderr(_violation_text(first, self.filename))
            status = (1, "PolicyViolation: " + first.located(), "PolicyViolation", "policy")
            entries = [_violation_entry(v, self.filename) for v in exc.violations]
            hint_list = list(dict.fromkeys(policy.hint(v) for v in exc.violations))[:3]
        elif isinstance(exc, SyntaxError):
            # Exactly CPython's text; `error` is its last line, so a client that appends `error`
            # to stderr unless stderr already holds it does not print the message twice.
            self._write_stderr(errors.compile_error_text(exc))
            status = (1, errors.syntax_error_line(exc), errors.type_label(exc), None)
            entries = errors.exception_entries(exc)
            hint_list = hints.for_syntax_error(exc, self.spec.code)
        else:
            self._write_stderr(errors.error_string(exc) + "\n")
            status = (1, errors.error_string(exc), errors.type_label(exc), None)
            entries = errors.exception_entries(exc)
            hint_list = []
        self._remember_outcome(status)
        debug_info = None
        if self.spec.debug_mode:
            debug_info = debuginfo.build({}, None, None, hint_list, resources,
                                         self.spec.repr_limit)
            debug_info["exceptions"] = entries
            if self.spec.trace:
                debug_info.update(tracer.LineTracer(0).report(), trace_truncated=False)
        elif self.spec.trace:
            debug_info = dict(tracer.LineTracer(0).report(), trace_truncated=False)
        return _report(*status, debug_info=debug_info)
