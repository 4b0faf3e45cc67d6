"""Attacks: a fork bomb inside a session: a child forks without end while the session's own
process forks too until refused, then waits for its deadline (role "bomb"); role "check" (the
next cell, if the session lives) counts the processes it sees.

Expected containment: the session's pids cgroup caps its processes (fork fails with EAGAIN);
the deadline ends the cell and every process it started is killed, or the session is killed for
it (dead with a reason); the agent, its zygote and other sessions go on untouched, and no
process of the bomb is left.
"""
import ctypes
import errno
import os
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
role = I.get("role", "bomb")
libc = ctypes.CDLL(None, use_errno=True)
if role == "bomb":
    if os.fork() == 0:
        libc.prctl(15, (M + "b").encode()[:15], 0, 0, 0)
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.01)
    n, why = 0, None
    t = time.time() + 1.5
    while time.time() < t:
        try:
            pid = os.fork()
        except OSError as e:
            why = errno.errorcode.get(e.errno)
            break
        if pid == 0:
            libc.prctl(15, (M + "s").encode()[:15], 0, 0, 0)
            time.sleep(60)
            os._exit(0)
        n += 1
    print("CONTAINED: fork refused (%s) after %d forks" % (why, n) if why else
          "forked %d in the time" % n, flush=True)
    while True:
        time.sleep(0.1)
else:
    live = zombies = 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                comm = open("/proc/%s/comm" % d).read()
                state = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[0]
            except OSError:
                continue
            if M in comm:
                if state in "ZX":
                    zombies += 1
                else:
                    live += 1
    print("BREACH: %d bomb processes still run" % live if live else
          "CONTAINED: no bomb process runs (%d zombies)" % zombies, flush=True)
