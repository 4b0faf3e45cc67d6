"""Run harness.runner.run() the way the zygote does: in a forked child whose
fds 0/1/2 are pipes, with a private temporary cwd and a result pipe."""

import json
import os
import selectors
import shutil
import signal
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from harness import runner  # noqa: E402

_exit = os._exit  # bound now: the code under test may replace os._exit in the child


class Outcome:
    """What one execution produced."""

    def __init__(self, stdout, stderr, result, exit_code, cwd):
        self.stdout = stdout
        self.stderr = stderr
        self.result = result
        self.exit_code = exit_code
        self.cwd = cwd

    @property
    def debug(self):
        return self.result["debug_info"]

    def __repr__(self):
        return "Outcome(exit=%r, stdout=%r, stderr=%r, result=%r)" % (
            self.exit_code, self.stdout, self.stderr, self.result)


def _child(spec_bytes, stdin_r, stdout_w, stderr_w, result_w, cwd, closing):
    try:
        os.dup2(stdin_r, 0)
        os.dup2(stdout_w, 1)
        os.dup2(stderr_w, 2)
        for fd in closing:
            os.close(fd)
        os.chdir(cwd)
        code = runner.run(spec_bytes, result_w)
        _exit(code & 0xFF)
    finally:
        _exit(99)


def _drain(fds, timeout, on_read=None):
    """Read every fd to EOF concurrently; returns {fd: bytes}. on_read(fd, bytes so far) is
    called after each read."""
    out = {fd: bytearray() for fd in fds}
    selector = selectors.DefaultSelector()
    for fd in fds:
        selector.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while selector.get_map():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("execution did not finish in %ss" % timeout)
        for key, _ in selector.select(remaining):
            chunk = os.read(key.fd, 65536)
            if chunk:
                out[key.fd] += chunk
                if on_read is not None:
                    on_read(key.fd, out[key.fd])
            else:
                selector.unregister(key.fd)
    selector.close()
    return out


def execute(code, stdin=b"", timeout=30, setup=None, **spec):
    """Run `code` through runner.run in a forked child; returns an Outcome.

    `spec` keys override the request; `setup(cwd)` may prepare the working
    directory before the run.
    """
    request = {"execution_id": "test", "code": code, "input_data": None, "env": {},
               "debug_mode": True, "policy": "standard", "trace": False,
               "base_env": {"PATH": "/usr/bin:/bin"}}
    request.update(spec)
    return execute_request(request, stdin, timeout, setup)


def execute_request(request, stdin=b"", timeout=30, setup=None):
    """Run a request dict exactly as given (no defaults added)."""
    cwd = tempfile.mkdtemp(prefix="sandpit-harness-")
    if setup is not None:
        setup(cwd)
    stdin_r, stdin_w = os.pipe()
    stdout_r, stdout_w = os.pipe()
    stderr_r, stderr_w = os.pipe()
    result_r, result_w = os.pipe()
    parent_ends = [stdin_w, stdout_r, stderr_r, result_r]
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        _child(json.dumps(request).encode(), stdin_r, stdout_w, stderr_w, result_w, cwd,
               parent_ends + [stdin_r, stdout_w, stderr_w])
    for fd in (stdin_r, stdout_w, stderr_w, result_w):
        os.close(fd)
    try:
        if stdin:
            os.write(stdin_w, stdin)
        os.close(stdin_w)
        data = _drain([stdout_r, stderr_r, result_r], timeout)
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        _, status = os.waitpid(pid, 0)
        for fd in (stdout_r, stderr_r, result_r):
            os.close(fd)
    shutil.rmtree(cwd, ignore_errors=True)
    frame = bytes(data[result_r])
    result = json.loads(frame) if frame else None
    return Outcome(data[stdout_r].decode("utf-8", "replace"),
                   data[stderr_r].decode("utf-8", "replace"),
                   result, os.waitstatus_to_exitcode(status), cwd)
