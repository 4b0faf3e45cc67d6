"""Attacks: raising resource limits above their hard values (address space, CPU, open files,
processes, file size, core, memlock), negative niceness and a lower OOM score (to make the
agent the OOM killer's victim instead).

Expected containment: ValueError / PermissionError for every raise; oom_score_adj can only go
up; the program continues.
"""
import errno
import os
import resource

for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NOFILE", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_CORE",
             "RLIMIT_MEMLOCK", "RLIMIT_STACK"):
    res = getattr(resource, name)
    soft, hard = resource.getrlimit(res)
    if hard == resource.RLIM_INFINITY:
        print("note: %s hard limit is unlimited" % name)
        continue
    try:
        resource.setrlimit(res, (hard + 1 if hard >= 0 else 1, resource.RLIM_INFINITY))
        print("BREACH: %s raised above hard %d" % (name, hard))
    except (ValueError, OSError) as e:
        print("CONTAINED: %s: %s" % (name, e))
try:
    os.setpriority(os.PRIO_PROCESS, 0, -20)
    print("BREACH: niceness -20")
except OSError as e:
    print("CONTAINED: setpriority -20: %s" % errno.errorcode.get(e.errno))
for v in ("-1000", "-500"):
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write(v)
        print("BREACH: oom_score_adj %s" % v)
    except OSError as e:
        print("CONTAINED: oom_score_adj %s: %s" % (v, errno.errorcode.get(e.errno)))
print("continued", flush=True)
