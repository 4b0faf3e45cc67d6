"""Attacks: setuid-root binaries (passwd, su, newgrp, chsh, chfn, gpasswd, mount): started
with a pipe as stdin so they wait, then their credentials are read from /proc.

Expected containment: no_new_privs (and the nosuid remount) means exec never raises
privileges: every process keeps the sandbox uid of its slot; none prints uid=0; all fail to do their job.
"""
import os
import subprocess
import time

argvs = [["/usr/bin/passwd"], ["/usr/bin/su", "-c", "id", "root"], ["/usr/bin/newgrp", "root"],
         ["/usr/bin/chsh", "-s", "/bin/sh", "root"], ["/usr/bin/chfn", "-f", "x", "root"],
         ["/usr/bin/gpasswd", "-a", "nobody", "root"], ["/usr/bin/mount", "--bind", "/", "/mnt"]]
procs = []
for argv in argvs:
    if os.path.exists(argv[0]):
        procs.append((argv, subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                             stderr=subprocess.STDOUT)))
time.sleep(0.3)
uids = {}
for argv, p in procs:
    try:
        with open("/proc/%d/status" % p.pid) as f:
            uids[p.pid] = [l.split()[1:] for l in f if l.startswith("Uid:")][0]
    except (OSError, IndexError):
        uids[p.pid] = None  # already exited
    try:
        p.stdin.write(b"\n\n")
        p.stdin.close()
    except OSError:
        pass
deadline = time.time() + 1.5
for argv, p in procs:
    try:
        p.wait(max(0.01, deadline - time.time()))
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    text = p.stdout.read().decode(errors="replace").replace("\n", " ")[:120]
    u = uids[p.pid]
    if (u and "0" in u) or "uid=0" in text:
        print("BREACH: %s ran with uids %s: %s" % (argv[0], u, text))
    else:
        print("CONTAINED: %s uids %s rc %s: %s" % (argv[0], u or "(exited)", p.returncode, text))
print("euid", os.geteuid(), flush=True)
