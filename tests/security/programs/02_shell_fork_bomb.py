"""Attacks: the shell fork bomb `f(){ f|f& };f` run through /bin/sh (dash).

Expected containment: pids.max bounds it (the shell sees fork failures), the deadline kills
the PID namespace (status "timeout"), no process survives, the agent keeps answering.
"""
import subprocess

print("starting", flush=True)
subprocess.run(["/bin/sh", "-c", "f(){ f|f& };f; sleep 60"], stderr=subprocess.DEVNULL)
import time
time.sleep(60)
