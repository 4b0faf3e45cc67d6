"""Attacks: a thread bomb (start threads until the system refuses).

Expected containment: thread creation fails (RuntimeError "can't start new thread": pids.max
counts threads, RLIMIT_AS bounds their stacks) after a bounded number; the program reports it
and exits normally (status "completed").
"""
import os
import threading

stop = threading.Event()
n = 0
try:
    while n < 100000:
        t = threading.Thread(target=stop.wait, daemon=True)
        t.start()
        n += 1
except (RuntimeError, MemoryError, OSError) as e:
    print("CONTAINED: thread %d refused: %s: %s" % (n + 1, type(e).__name__, e), flush=True)
else:
    print("BREACH: started %d threads" % n, flush=True)
os._exit(0)
