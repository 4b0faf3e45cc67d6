"""Attacks: a session's cell that leaves processes running after it, hoping they live on in
the session's namespace: a setsid() double fork, a child that ignores SIGTERM and SIGHUP, a
child in its own process group, a shell (its argv holds the marker) started by Popen and never waited, each named after
the marker (comm or argv). Role "spawn" starts them and ends; role "check" (the next cell of the
same session) looks for them in /proc.

Expected containment: the zygote kills every process of a cell but the session's own process
when the cell ends (before its result goes out): the next cell sees none of them ("CONTAINED"),
and none is left on the host.
"""
import ctypes
import os
import signal
import subprocess
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
role = I.get("role", "spawn")
libc = ctypes.CDLL(None, use_errno=True)


def linger(tag, ignore=False):
    libc.prctl(15, (M + tag).encode()[:15], 0, 0, 0)
    if ignore:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    t = time.time() + 120
    while time.time() < t:
        time.sleep(0.5)
    os._exit(0)


def mine():
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            comm = open("/proc/%s/comm" % d).read()
            argv = open("/proc/%s/cmdline" % d, "rb").read().decode(errors="replace")
            state = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in "ZX" and (M in comm or M in argv):
            found.append(int(d))
    return found


if role == "spawn":
    pid = os.fork()
    if pid == 0:
        os.setsid()
        if os.fork() == 0:
            linger("d")
        os._exit(0)
    os.waitpid(pid, 0)
    if os.fork() == 0:
        linger("i", ignore=True)
    if os.fork() == 0:
        os.setpgid(0, 0)
        linger("g")
    keep = subprocess.Popen(["/bin/sh", "-c", "sleep 120; :", M])
    t = time.time() + 10
    while len(mine()) < 4 and time.time() < t:
        time.sleep(0.05)
    print("spawned %d" % len(mine()), flush=True)
else:
    left = mine()
    print(("BREACH: %d processes of the last cell still run: %s" % (len(left), left)) if left
          else "CONTAINED: nothing the last cell started runs", flush=True)
