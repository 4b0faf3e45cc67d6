"""Attacks: a session's cell that signals everything it can: kill(-1, SIGKILL) with children of
its own, SIGKILL, SIGTERM, SIGSTOP and SIGHUP to pid 1 (its namespace's init, which keeps the
family alive; its parent, the zygote, is outside the namespace: getppid() is 0) and SIGKILL to
every pid it sees, then checks it is still alive.

Expected containment: the PID namespace holds only the session's family; its init takes no
signal it has no handler for from inside, and the agent and zygote are outside it: the cell
survives ("CONTAINED: survived"), the next cell of the session still runs ("CONTAINED: the
session still runs cells"), the agent and other sessions are untouched.
"""
import errno
import os
import signal
import time

I = globals().get("input_data") or {}
role = I.get("role", "attack")
if role == "attack":
    kids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        kids.append(pid)
    os.kill(-1, signal.SIGKILL)
    dead = sum(os.WIFSIGNALED(os.waitpid(p, 0)[1]) for p in kids)
    for target in (1,):
        for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGHUP):
            try:
                os.kill(target, sig)
            except OSError as e:
                print("kill(%d, %d): %s" % (target, sig, errno.errorcode.get(e.errno)))
    seen = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    for p in seen:
        if p != os.getpid():
            try:
                os.kill(p, signal.SIGKILL)
            except OSError:
                pass
    time.sleep(0.3)
    print("CONTAINED: survived; %d of 3 own children killed; %d pids seen; ppid %d"
          % (dead, len(seen), os.getppid()), flush=True)
else:
    print("CONTAINED: the session still runs cells; init %s" % os.path.exists("/proc/1"))
