"""Attacks: kill(getppid(), SIGKILL): the parent of the program is the zygote on the host.

Expected containment: across the PID namespace boundary getppid() is 0, so the call only hits
the program's own process group: the program dies of SIGKILL (status "failed",
exit_reason "signaled", signal 9); the zygote and agent are untouched.
"""
import os
import signal

ppid = os.getppid()
print("ppid", ppid, flush=True)
if ppid != 0:
    print("BREACH: the parent is visible (pid %d)" % ppid, flush=True)
os.kill(ppid, signal.SIGKILL)
print("BREACH: still running after kill(getppid())", flush=True)
