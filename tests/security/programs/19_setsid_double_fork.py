"""Attacks: escapees: a setsid() double-forked daemon, a start_new_session subprocess and a
nohup'd shell background job, each marked (comm or argv) so they can be found; then the
program exits at once.

Expected containment: the PID namespace dies with the program: status "completed" and no
marked process is alive afterwards (checked by the test on the host).
"""
import ctypes
import os
import subprocess
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        os.setsid()
        libc.prctl(15, (M + "dd").encode(), 0, 0, 0)
        for fd in (0, 1, 2):
            os.close(fd)
        time.sleep(3600)
    os._exit(0)
os.waitpid(pid, 0)
subprocess.Popen([M + "-ss", "3601"], executable="/bin/sleep", start_new_session=True)
subprocess.Popen(["/bin/sh", "-c", "nohup /usr/bin/python3 -c 'import time; time.sleep(3602)' %s-nh "
                  ">/dev/null 2>&1 &" % M])
time.sleep(0.3)
print("escapees started", flush=True)
