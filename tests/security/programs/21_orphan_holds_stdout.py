"""Attacks: a daemonised grandchild that keeps stdout and stderr open and keeps writing after
the program exits, hoping to hold the execution (and its pipes) open forever.

Expected containment: when the program exits the namespace is killed, the pipes reach EOF and
the result comes back at once (status "completed" well before the timeout).
"""
import ctypes
import os
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
libc = ctypes.CDLL(None, use_errno=True)
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        libc.prctl(15, (M + "hs").encode(), 0, 0, 0)
        while True:
            try:
                os.write(1, b"daemon\n")
                os.write(2, b"daemon\n")
            except OSError:
                pass
            time.sleep(0.05)
    os._exit(0)
os.waitpid(pid, 0)
print("main done", flush=True)
os._exit(0)
