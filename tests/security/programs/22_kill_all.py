"""Attacks: kill(-1, SIGKILL): every process the caller may signal (on the host that would be
everything of the same uid, with root the whole machine).

Expected containment: inside the PID namespace it only reaches the execution's own processes
(here its children); the caller survives (kill(-1) spares it), the agent, zygote and other
executions are untouched. Status "completed", "survived" printed, children killed.
"""
import os
import signal
import time

kids = []
for _ in range(3):
    pid = os.fork()
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    kids.append(pid)
os.kill(-1, signal.SIGKILL)
dead = 0
for pid in kids:
    _, st = os.waitpid(pid, 0)
    dead += os.WIFSIGNALED(st) and os.WTERMSIG(st) == signal.SIGKILL
try:
    os.kill(-1, signal.SIGSTOP)
    os.kill(-1, signal.SIGTERM)
except ProcessLookupError:
    pass
print("CONTAINED: survived kill(-1); %d of %d own children killed" % (dead, len(kids)), flush=True)
