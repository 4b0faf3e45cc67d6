"""Attacks: a fork of a session signalling the session it was forked from. A fork stays in its
family's PID namespace and uid (sandbox/zygote_sess.c), so its cell looks for every process of
the namespace that is neither itself nor init, tries signal 0 and then SIGKILL on each, and
reads their /proc cwd, environ and mem.

Expected containment: a fork is a session of its own: it cannot signal nor read the processes
of its parent (or of another fork); kill() fails with EPERM or ESRCH ("CONTAINED") and the
parent session still runs cells afterwards (the runner checks).
"""
import errno
import os
import signal

me = os.getpid()
others = [int(d) for d in os.listdir("/proc") if d.isdigit() and int(d) not in (1, me)]
print("other processes in the namespace: %d" % len(others), flush=True)
for pid in others:
    for sig in (0, signal.SIGKILL):
        try:
            os.kill(pid, sig)
            print("BREACH: kill(%d, %d) of another session's process succeeded" % (pid, sig))
        except OSError as e:
            print("CONTAINED: kill(%d, %d): %s" % (pid, sig, errno.errorcode.get(e.errno)))
    for what in ("cwd/.", "environ", "mem"):
        try:
            with open("/proc/%d/%s" % (pid, what), "rb"):
                pass
            print("BREACH: opened /proc/%d/%s" % (pid, what))
        except OSError as e:
            print("CONTAINED: /proc/%d/%s: %s" % (pid, what, errno.errorcode.get(e.errno)))
print("probe done", flush=True)
