"""Attacks (audit): reads the limits of the cgroup the execution really runs in (memory limit
and pids.max of its slot), as a program that wants to know how much it can take would.

Expected containment: the limits are the ones its agent was configured with
(--memory-mb, --pids-limit); the test compares them. Prints "LIMITS mem_mb=<n> pids=<n>".
"""
own = {}
for line in open("/proc/self/cgroup"):
    _, ctrls, path = line.strip().split(":", 2)
    for c in ctrls.split(","):
        own[c] = path
mem = int(open("/sys/fs/cgroup/memory%s/memory.limit_in_bytes" % own["memory"]).read())
pids = open("/sys/fs/cgroup/pids%s/pids.max" % own["pids"]).read().strip()
print("LIMITS mem_mb=%d pids=%s slot=%s" % (mem >> 20, pids, own["pids"]), flush=True)
