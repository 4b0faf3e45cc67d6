"""Attacks: a C call that sleeps forever (libc sleep / pause through ctypes) with every
catchable signal ignored.

Expected containment: the deadline kills it from outside: status "timeout".
"""
import ctypes
import signal

for s in signal.valid_signals():
    try:
        signal.signal(s, signal.SIG_IGN)
    except (OSError, ValueError, RuntimeError):
        pass
libc = ctypes.CDLL(None)
print("sleeping in C", flush=True)
libc.sleep(1000000)
libc.pause()
