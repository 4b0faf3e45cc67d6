"""Attacks: kernel knobs through /proc and /sys: core_pattern (the pipe-to-program escape),
sysrq-trigger, ns_last_pid, modprobe path, drop_caches, the hung-task and panic settings,
and other processes' oom_score_adj.

Expected containment: every write fails (EACCES/EPERM/EROFS); nothing changes on the host
(the test compares core_pattern before and after).
"""
import errno

for path, data in (("/proc/sys/kernel/core_pattern", "|/tmp/x"), ("/proc/sysrq-trigger", "b"),
                   ("/proc/sys/kernel/ns_last_pid", "1000"), ("/proc/sys/kernel/modprobe", "/tmp/x"),
                   ("/proc/sys/vm/drop_caches", "3"), ("/proc/sys/kernel/panic_on_oops", "1"),
                   ("/proc/sys/kernel/hostname", "pwned"), ("/proc/sys/vm/overcommit_memory", "1"),
                   ("/proc/1/oom_score_adj", "1000"), ("/sys/kernel/uevent_helper", "/tmp/x"),
                   ("/sys/kernel/mm/transparent_hugepage/enabled", "never"),
                   ("/proc/sys/kernel/randomize_va_space", "0")):
    try:
        with open(path, "w") as f:
            f.write(data)
    except OSError as e:
        print("CONTAINED: %s: %s" % (path, errno.errorcode.get(e.errno)))
    else:
        print("BREACH: wrote %s" % path)
print("done", flush=True)
