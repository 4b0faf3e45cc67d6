"""Attacks: memory spread over many processes (48 children x 100 MiB, all held at once, each
under RLIMIT_AS) so that no per-process limit applies: only the memory cgroup of the execution
can stop it.

Expected containment: the memory cgroup OOM-kills children (exit_reason "oom", and the parent
reports children stopped); the 4.8 GiB are never all resident; the agent lives.
"""
import ctypes
import os
import signal
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
libc = ctypes.CDLL(None, use_errno=True)
r, w = os.pipe()
kids = []
for i in range(48):
    try:
        pid = os.fork()
    except OSError as e:
        print("fork %d refused: %s" % (i, e), flush=True)
        break
    if pid == 0:
        os.close(w)
        libc.prctl(15, (M + "mf").encode(), 0, 0, 0)
        hog = []
        try:
            for _ in range(5):
                b = bytearray(20 << 20)
                b[::4096] = b"\x01" * len(b[::4096])
                hog.append(b)
        except MemoryError:
            os._exit(3)
        os.read(r, 1)  # hold the memory until the parent lets go
        os._exit(0)
    kids.append(pid)
os.close(r)
time.sleep(1.0)
os.close(w)
killed = 0
ends = {}
for pid in kids:
    _, st = os.waitpid(pid, 0)
    key = "sig%d" % os.WTERMSIG(st) if os.WIFSIGNALED(st) else "exit%d" % os.WEXITSTATUS(st)
    ends[key] = ends.get(key, 0) + 1
# sig9 = OOM kill; exit3 = MemoryError in the child: both are refusals
refused = ends.get("sig%d" % signal.SIGKILL, 0) + ends.get("exit3", 0)
print("CONTAINED: %d of %d children stopped (%r)" % (refused, len(kids), ends)
      if refused else "BREACH: every child got its 100 MiB (%r)" % ends, flush=True)
