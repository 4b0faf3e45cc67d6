"""Drive harness.session the way sandbox/pyrt.c does: a forked process runs start() once, then
run_cell() per cell with fds 0/1/2 wired to that cell's own pipes and its result pipe on fd 3,
fds 0/1/2 pointed at /dev/null between cells; after_fork() in a fork of it.

The test talks to the session process over a socketpair: each command is a JSON line, a cell's
pipes travel with it (SCM_RIGHTS), so the test can signal the process while a cell runs."""

import fcntl
import json
import os
import shutil
import signal
import socket
import sys
import tempfile

from conftest import Outcome, _drain  # conftest also puts the checkout on sys.path
from harness import session

_exit = os._exit  # bound now: the code under test may replace os._exit in the child
RESULT_FD = 3


def _serve(sock):
    """The session process: cells and forks until the socket closes."""
    # Above fd RESULT_FD, which every cell's result pipe takes over.
    moved = socket.socket(fileno=fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD_CLOEXEC, 10))
    sock.close()
    sock = moved
    devnull = os.open(os.devnull, os.O_RDWR)
    null = fcntl.fcntl(devnull, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(devnull)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    while True:
        data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 8)
        if not data:
            _exit(0)
        command = json.loads(data)
        if command["op"] == "cell":
            for fd, target in zip(fds, (0, 1, 2, RESULT_FD)):
                os.dup2(fd, target)
                os.close(fd)
            code = session.run_cell(command["spec"], RESULT_FD)
            for fd in (0, 1, 2):
                os.dup2(null, fd)
            os.close(RESULT_FD)
            sock.sendall(json.dumps({"exit_code": code}).encode())
        elif command["op"] == "fork":
            pid = os.fork()
            if pid == 0:
                sock.close()
                reseeded = session.after_fork()
                child = socket.socket(fileno=fds[0])
                child.sendall(json.dumps({"reseeded": reseeded, "pid": os.getpid()}).encode())
                _serve(child)
            os.close(fds[0])
            sock.sendall(json.dumps({"pid": pid}).encode())


class Session:
    """A session process (forked from this test process, or from another session)."""

    def __init__(self, sock=None, pid=None, reseeded=None):
        self.reseeded = reseeded
        if sock is not None:
            self.sock, self.pid, self.cwd = sock, pid, None
            return
        self.cwd = tempfile.mkdtemp(prefix="sandpit-session-")
        ours, theirs = _socketpair()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            try:
                ours.close()
                os.chdir(self.cwd)
                session.start()
                _serve(theirs)
            finally:
                _exit(99)
        theirs.close()
        self.sock, self.pid = ours, pid

    def cell(self, code, stdin=b"", timeout=30, on_stdout=None, **spec):
        """Run one cell; `spec` keys override the request. Returns an Outcome."""
        request = {"execution_id": "test", "code": code, "input_data": None, "env": {},
                   "debug_mode": True, "policy": "standard", "trace": False,
                   "base_env": {"PATH": "/usr/bin:/bin"}}
        request.update(spec)
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        result_r, result_w = os.pipe()
        theirs = [stdin_r, stdout_w, stderr_w, result_w]
        message = json.dumps({"op": "cell", "spec": json.dumps(request)}).encode()
        socket.send_fds(self.sock, [message], theirs)
        for fd in theirs:
            os.close(fd)
        try:
            if stdin:
                os.write(stdin_w, stdin)
            os.close(stdin_w)
            def watch(fd, got):
                if on_stdout is not None and fd == stdout_r:
                    on_stdout(got.decode("utf-8", "replace"))

            data = _drain([stdout_r, stderr_r, result_r], timeout, watch)
            self.sock.settimeout(timeout)  # the reply follows the pipes' end
            reply = json.loads(self.sock.recv(1 << 16))
        finally:
            for fd in (stdout_r, stderr_r, result_r):
                os.close(fd)
        frame = bytes(data[result_r])
        result = json.loads(frame) if frame else None
        return Outcome(data[stdout_r].decode("utf-8", "replace"),
                       data[stderr_r].decode("utf-8", "replace"), result, reply["exit_code"],
                       self.cwd)

    def fork(self):
        """A copy of this session (its own process); after_fork() ran in it."""
        ours, theirs = _socketpair()
        socket.send_fds(self.sock, [json.dumps({"op": "fork"}).encode()], [theirs.fileno()])
        theirs.close()
        json.loads(self.sock.recv(1 << 16))
        hello = json.loads(ours.recv(1 << 16))
        return Session(ours, hello["pid"], hello["reseeded"])

    def signal(self, signum):
        os.kill(self.pid, signum)

    def close(self):
        """Ends the process (it exits when its socket closes); reaps it when it is ours."""
        self.sock.close()
        if self.cwd is not None:
            os.waitpid(self.pid, 0)
            shutil.rmtree(self.cwd, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if kind is not None:  # a failed test: the process may be stuck in a cell
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.close()


def _socketpair():
    """Message boundaries kept: each command and reply is one packet."""
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
