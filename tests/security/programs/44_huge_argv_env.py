"""Attacks: exec with a huge argv (20000 x 1 KiB) and a huge environment (64 x 1 MiB values),
and a huge environment set in the program itself.

Expected containment: execve fails with E2BIG, or ENOMEM under the memory cgroup (OSError), or
memory runs out for the program only (MemoryError, or putenv's ENOMEM); the program continues;
the agent is unaffected.
"""
import errno
import os
import subprocess

try:
    subprocess.run(["/bin/true"] + ["A" * 1024] * 20000, timeout=10)
    print("note: huge argv accepted")
except OSError as e:
    print("CONTAINED: huge argv: %s" % errno.errorcode.get(e.errno, e))
env = dict(os.environ)
env.update({"HUGE%d" % i: "B" * (1 << 20) for i in range(64)})
try:
    subprocess.run(["/bin/true"], env=env, timeout=10)
    print("note: huge env accepted")
except (OSError, MemoryError) as e:
    print("CONTAINED: huge env: %s %s" % (type(e).__name__, errno.errorcode.get(getattr(e, "errno", None), "")))
try:
    for i in range(32):
        os.environ["SELF%d" % i] = "C" * (1 << 20)
except (MemoryError, OSError) as e:  # putenv's ENOMEM is an OSError
    print("CONTAINED: own huge env: %s" % type(e).__name__)
try:
    subprocess.run(["/bin/true"], timeout=10)
    print("note: own huge env accepted")
except (OSError, MemoryError) as e:
    print("CONTAINED: own huge env: %s %s" % (type(e).__name__, errno.errorcode.get(getattr(e, "errno", None), "")))
print("continued", flush=True)
