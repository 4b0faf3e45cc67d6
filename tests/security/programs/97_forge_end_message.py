"""Attacks: claiming its own end early. A Python execution's child tells the zygote "E" + its
exit code on its control socket (fd 4) once the harness has written its result and closed the
streams, and the zygote answers then, before the process's teardown. The program sends that
message itself halfway through, then runs on: prints more, writes a file, forks a helper that
would outlive it, and exits 7.

Expected containment: the claim is the program's own, as an exit would be, and nothing of the
program runs after it: the result is exit code 0 as claimed (what `sys.exit(0)` there would
give), "after the claim" never appears, the helper is gone, and the agent and its zygote go on
untouched (no process left behind).
"""
import os
import sys
import time

print("before the claim", flush=True)
helper = os.fork()
if helper == 0:
    # A sleeper that would print later if it survived the kill of the namespace.
    time.sleep(3)
    print("BREACH: the helper outlived the claim", flush=True)
    os._exit(0)
os.write(4, b"E\x00")
time.sleep(1.0)
print("BREACH: after the claim", flush=True)
sys.stdout.flush()
os._exit(7)
