"""Attacks: a classic fork bomb (every process forks forever, os.fork in a loop).

Expected containment: the cgroup's pids.max refuses forks (BlockingIOError, EAGAIN) so the
number of processes stays bounded; the original process reports the refusal and how many
processes it sees; the deadline kills the whole PID namespace (status "timeout"); nothing is
left on the host and the agent keeps answering.
"""
import ctypes
import os
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
libc = ctypes.CDLL(None, use_errno=True)
root = os.getpid()
reported = False
refused = 0
while True:
    try:
        pid = os.fork()
    except OSError:  # BlockingIOError (EAGAIN): pids.max reached
        refused += 1
        if os.getpid() == root and not reported and refused >= 20:
            reported = True
            n = sum(1 for d in os.listdir("/proc") if d.isdigit())
            print("CONTAINED: fork refused (EAGAIN); %d processes in the namespace" % n, flush=True)
        time.sleep(0.002)
        continue
    if pid == 0:
        libc.prctl(15, (M + "fb").encode(), 0, 0, 0)
