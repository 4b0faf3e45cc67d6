"""Attacks (robustness): an orphaned grandchild that exits while the program still runs (the
normal life of a daemonised helper or of `cmd &` in a shell that already returned). The
orphan is reaped by the namespace's init.

Expected containment: the reaping of an orphan must not disturb the execution: the program
runs to its end (status "completed", "still alive" printed after the orphan exited).
"""
import os
import time

pid = os.fork()
if pid == 0:
    if os.fork() == 0:
        time.sleep(0.1)
        os._exit(0)
    os._exit(0)
os.waitpid(pid, 0)
time.sleep(0.5)  # the orphan has exited and been reaped by now
print("still alive", flush=True)
