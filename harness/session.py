"""Python half of a session (issue 14): one long-lived interpreter that runs many cells.

The agent forks a session process from its zygote. sandbox/pyrt.c calls, in that process:
start() once before any cell; run_cell(spec, result_fd) once per cell, with fds 0/1/2 wired
to the cell's stdin/stdout/stderr and result_fd to its result pipe; after_fork() in the copy
when the session is forked. A cell is a runner.Execution (Cell, below) that keeps what an
execution throws away: one __main__ module for all cells, the policy of the first cell, the
interpreter's threads and atexit callbacks (they belong to the session's end, not the cell's).

Signals. The process must outlive every cell, so neither signal may end it:
- deadline.REPORT_SIGNAL (the cell's deadline): while the code runs, the handler records where
  it was (debug_info.timeout, the "Timed out at line N" stderr line) and raises CellTimeout;
  the cell unwinds and its frame says exit code deadline.EXIT_CODE. Code that catches
  CellTimeout or is stuck in C is killed by the zygote after its grace (the session dies).
- SIGINT (POST /sessions/{id}/interrupt): while the code runs, signal.default_int_handler
  raises KeyboardInterrupt, reported as the cell's error. One that comes during the cell's
  set-up is kept and raised as the code would start (the code does not run).
Between cells both are SIG_IGN (the kernel drops them; they would otherwise strike the next
cell), and so is a signal that comes while the cell's frame is being built.
"""

import _signal as _c_signal  # signal.signal is a Python wrapper that needs the builtins
import gc
import linecache
import os
import random
import types

from . import deadline, kernel, policy, program, runner

_CATCH_ALL = BaseException
_SIGNAL_ERRORS = (ValueError, OSError)
_signal = _c_signal.signal
_SIG_IGN = _c_signal.SIG_IGN
_SIGINT = _c_signal.SIGINT
_default_int_handler = _c_signal.default_int_handler
_gc_enable = gc.enable
_os_getpid = os.getpid
_os_write = os.write
_random_seed = random.seed


class CellTimeout(BaseException):
    """Raised in the running cell when its deadline came (a BaseException: `except Exception`
    in the code does not stop it)."""

    def __init__(self):
        super().__init__("the cell's time ran out")


class _Session:
    """What lives from cell to cell."""

    def __init__(self):
        self.started = False
        self.module = None  # the persistent __main__, made by the first cell
        self.restricted = None  # the first cell's policy, fixed for the session
        self.restricted_imports = None
        self.restriction = None  # the RestrictedPolicy of a restricted session
        self.cells = 0  # cells run so far (this one included)
        self.sources = {}  # file name -> source of every cell: its functions may still run
        self.interrupt_pending = False  # SIGINT came during the running cell's set-up


_session = _Session()  # one session per process; a forked copy takes it along


# ---------------------------------------------------------------- entry points

def start():
    """Once, when the session process starts (run_cell calls it too; idempotent): gc on (the
    zygote disabled it before gc.freeze()), SIGINT and the report signal ignored until a cell
    runs."""
    if _session.started:
        return
    _session.started = True
    _gc_enable()
    _quiet()


def run_cell(spec, result_fd, control_fd=None):
    """Run one cell (`spec`: the JSON of an execution's spec, bytes or str) in the session's
    namespace; write its result frame to result_fd, as runner.run does. Returns the exit
    code. Never raises and never exits the process (SystemExit is the cell's outcome).
    control_fd: the session's control socket, told when the cell's signal handlers are in
    place (sandbox/zygote_sess.c holds an interrupt or the deadline signal until then)."""
    code, written = 1, False
    try:
        start()
        _session.cells += 1
        _session.interrupt_pending = False
        deadline.start(result_fd)
        _set_handler(_SIGINT, _on_early_interrupt)
        _say_started(control_fd)
        if isinstance(spec, str):
            spec = spec.encode("utf-8")
        # The agent's compact JSON: this text cannot occur inside the code's string.
        in_kernel = b'"kernel":true' in spec
        code = runner.run_execution(lambda: Cell(runner.Spec.parse(spec), _session, in_kernel),
                                    result_fd)
        written = True
    except _CATCH_ALL:  # a stray handler of the code's raising in the harness, say
        if not written:
            runner._write_all(result_fd, runner._UNREPORTABLE)
    try:
        _quiet()
    except _CATCH_ALL:
        pass
    return code


def after_fork():
    """In a fresh copy of the session (a fork, or a checkpoint cell's): re-seed `random`'s
    global generator and numpy's legacy one (when numpy.random is loaded) from urandom, so
    branches do not draw the same numbers. Returns the names re-seeded. Never raises.
    Generators the code made itself (random.Random(), numpy.random.default_rng()) keep their
    state: they are the code's own values."""
    names = []
    try:
        _random_seed()  # from os.urandom
        names.append("random")
    except _CATCH_ALL:
        pass
    try:
        if runner._reseed_numpy():
            names.append("numpy")
    except _CATCH_ALL:
        pass
    return names


# ---------------------------------------------------------------- signals

def _set_handler(signum, handler):
    try:
        _signal(signum, handler)
    except _SIGNAL_ERRORS:  # not the main thread
        pass


def _quiet():
    """Between cells: both signals ignored. One caught before this runs its handler at the
    next Python call, which is now SIG_IGN's: dropped rather than kept for the next cell."""
    _set_handler(_SIGINT, _SIG_IGN)
    _set_handler(deadline.REPORT_SIGNAL, _SIG_IGN)
    _drop_pending()


def _say_started(fd):
    """"S" on the control socket: from now on an interrupt or the deadline reaches this cell
    (before, both signals are ignored: one sent then would be lost)."""
    if fd is None:
        return
    try:
        _os_write(fd, b"S\0\0\0\0")
    except OSError:
        pass


def _drop_pending():
    """Nothing: calling a Python function is what runs (here: drops) pending handlers."""


def _on_early_interrupt(signum, frame):
    _session.interrupt_pending = True


# ---------------------------------------------------------------- a cell

class Cell(runner.Execution):
    """One cell of the session: an Execution in the session's namespace."""

    def __init__(self, spec, session, in_kernel=False):
        if session.restricted is None:
            session.restricted, session.restricted_imports = (spec.restricted,
                                                              spec.restricted_imports)
        # The policy is the session's: a later cell cannot change it (the agent refuses too).
        spec.restricted, spec.restricted_imports = (session.restricted,
                                                    session.restricted_imports)
        super().__init__(spec)
        self.session = session
        self.filename = program.cell_filename(spec.execution_count or session.cells)
        self.timeout = None  # where the code was when its deadline came
        self.kernel = in_kernel  # a Jupyter kernel's cell (harness/kernel.py)
        self.outputs.plain_results = in_kernel
        self.shell_lines = kernel.shell_lines(spec.code) if in_kernel else []
        if self.shell_lines and not spec.restricted:
            spec.code = kernel.transform(spec.code)

    def _register_source(self):
        """This cell's source; every earlier one's again when the code cleared linecache
        (linecache.checkcache() keeps them: their mtime is None)."""
        sources = self.session.sources
        sources[self.filename] = self.spec.code
        program.register_source(self.spec.code, self.filename)
        first = next(iter(sources))
        if first not in linecache.cache:
            for filename, source in sources.items():
                program.register_source(source, filename)

    def _fresh_process(self):
        """New streams on this cell's fds. The first cell keeps the zygote's for good (they
        may hold its leftovers); later cells drop the last cell's, flushed when it ended.
        numpy's generator is the session's state: not re-seeded."""
        self.stdout, self.stderr = runner._install_streams(retire=self.session.cells == 1)

    def _restriction(self):
        session = self.session
        if session.restricted and session.restriction is None:
            session.restriction = super()._restriction()
        return session.restriction

    # -- a Jupyter kernel's cell (harness/kernel.py)

    def _compile(self):
        if self.shell_lines and self.spec.restricted:
            line = self.shell_lines[0]
            raise runner._Refused([policy.PolicyViolation(
                "a shell escape (`!command`) starts a program, which the restricted policy "
                "refuses", "builtin", line, 1)])
        return super()._compile()

    def _main_namespace(self):
        namespace = super()._main_namespace()
        if self.kernel:
            kernel.begin(self.restriction.builtins if self.restriction else runner._BUILTINS,
                         namespace)
        return namespace

    def _main_module(self):
        if self.session.module is None:
            self.session.module = types.ModuleType("__main__")
        return self.session.module

    def _free_namespace(self):
        """Out of memory: the namespace is the session's state, kept."""

    def _arm(self, namespace, trace):
        deadline.arm(self, namespace, trace, raising=CellTimeout)
        _set_handler(_SIGINT, _default_int_handler)
        if self.session.interrupt_pending:
            self.session.interrupt_pending = False
            raise KeyboardInterrupt

    def _disarm(self):
        _set_handler(_SIGINT, _SIG_IGN)
        deadline.disarm()

    def _status(self, exc):
        if self.timeout is not None:
            return deadline.EXIT_CODE, None, None, None  # as an execution's timeout frame
        return super()._status(exc)

    def _print_uncaught(self, exc):
        if self.timeout is not None:  # a timeout printed its own line
            return
        if (self.kernel and exc is not None and not isinstance(exc, SystemExit)
                and kernel.send_error(exc, runner._traceback_text(exc))):
            self.traceback_written = True  # the error message carries it, as IPython's does
            return
        super()._print_uncaught(exc)

    def _capture_outputs(self, value):
        """Not after a timeout: the zygote's kill is a grace away."""
        if self.timeout is None:
            super()._capture_outputs(value)

    def _at_exit(self):
        """Threads and atexit callbacks are the session's: only a process the code forked
        ends here."""
        if _os_getpid() != self.pid:
            super()._at_exit()

    def _completed(self, prog, namespace, value, exc, resources, trace):
        if self.timeout is None:
            return super()._completed(prog, namespace, value, exc, resources, trace)
        # The zygote's kill is a grace away: deadline's bounded report, not the full one.
        self._silence_python_output()
        info = None
        if self.spec.debug_mode:
            info = deadline.debug_info(self.timeout, namespace, self.spec, resources, trace)
        elif trace is not None:
            info = trace.report()
        return runner._report(*self.outcome, debug_info=info)

