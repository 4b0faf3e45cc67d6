"""Attacks: zombies and stragglers: 40 children that exit at once and are never reaped, 10
children that sleep forever, then the program exits.

Expected containment: the namespace dies with the program (no zombie or sleeper is left on the
host); status "completed".
"""
import ctypes
import os
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
libc = ctypes.CDLL(None, use_errno=True)
for i in range(50):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        if i >= 40:
            libc.prctl(15, (M + "zs").encode(), 0, 0, 0)
            time.sleep(3600)
        os._exit(0)
time.sleep(0.2)
print("zombies and sleepers left behind", flush=True)
