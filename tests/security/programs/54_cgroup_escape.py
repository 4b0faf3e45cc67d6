"""Attacks: cgroup escapes: moving itself to the root cgroups (pids, memory), to the parent
"sandpit" group or to another slot; raising its own pids.max and memory limit; the classic
release_agent / notify_on_release escape; mounting a cgroup filesystem.

Expected containment: the cgroup files belong to root (EACCES) and / is read-only; mount is
EPERM; the program's limits are unchanged.
"""
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
own = {}
for line in open("/proc/self/cgroup"):
    _, ctrls, path = line.strip().split(":", 2)
    for c in ctrls.split(","):
        own[c] = path


def attempt(path, data):
    try:
        with open(path, "w") as f:
            f.write(data)
    except OSError as e:
        print("CONTAINED: write %s: %s" % (path, errno.errorcode.get(e.errno)))
    else:
        print("BREACH: wrote %r to %s" % (data, path))


pid = str(os.getpid())
for ctrl in ("pids", "memory"):
    base = "/sys/fs/cgroup/" + ctrl
    attempt(base + "/cgroup.procs", pid)
    attempt(base + "/sandpit/cgroup.procs", pid)
    attempt(base + "/sandpit/slot0/cgroup.procs", pid)
    attempt(base + "/release_agent", "/bin/sh")
    if own.get(ctrl):
        attempt(base + own[ctrl] + "/notify_on_release", "1")
attempt("/sys/fs/cgroup/pids%s/pids.max" % own.get("pids", ""), "max")
attempt("/sys/fs/cgroup/memory%s/memory.limit_in_bytes" % own.get("memory", ""), "-1")
attempt("/sys/fs/cgroup/memory%s/memory.oom_control" % own.get("memory", ""), "1")
os.makedirs("cg", exist_ok=True)
ctypes.set_errno(0)
r = libc.mount(b"cgroup", b"cg", b"cgroup", 0, b"memory")
print("CONTAINED: mount cgroup: %s" % errno.errorcode.get(ctypes.get_errno()) if r < 0 else "BREACH: mounted cgroupfs")
print("done", flush=True)
