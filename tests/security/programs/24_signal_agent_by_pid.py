"""Attacks: signals aimed by pid at the agent, the zygote, their warm children (real host pids
passed in input_data) and at the namespace's init (pid 1).

Expected containment: host pids do not exist inside the PID namespace (ProcessLookupError,
ESRCH); init runs as root so signalling it fails (PermissionError, EPERM); every target
survives (the test checks on the host).
"""
import errno
import os
import signal

I = globals().get("input_data") or {}
targets = [int(p) for p in I.get("host_pids", [])]
visible = {int(d) for d in os.listdir("/proc") if d.isdigit()}
for pid in targets:
    if pid in visible:
        print("note: pid %d also exists inside the namespace; skipped" % pid)
        continue
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP, signal.SIGSEGV, 0):
        try:
            os.kill(pid, sig)
        except OSError as e:
            print("CONTAINED: kill(%d, %s): %s" % (pid, sig, errno.errorcode.get(e.errno)))
        else:
            print("BREACH: kill(%d, %s) succeeded" % (pid, sig))
    try:
        fd = os.pidfd_open(pid)
    except OSError as e:
        print("CONTAINED: pidfd_open(%d): %s" % (pid, errno.errorcode.get(e.errno)))
    else:
        print("BREACH: pidfd_open(%d) = %d" % (pid, fd))
for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGSTOP):
    try:
        os.kill(1, sig)
    except OSError as e:
        print("CONTAINED: kill(1, %s): %s" % (sig, errno.errorcode.get(e.errno)))
    else:
        print("BREACH: kill(1, %s) succeeded" % sig)
print("done", flush=True)
