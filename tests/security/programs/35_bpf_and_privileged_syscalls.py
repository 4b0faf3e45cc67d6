"""Attacks: privileged or dangerous syscalls through ctypes syscall(): bpf, keyctl/add_key,
io_uring_setup, kexec_load, init_module/finit_module/delete_module, reboot, clock_settime,
settimeofday, perf_event_open, userfaultfd, open_by_handle_at (the "shocker" escape),
name_to_handle_at, swapon, acct, fsopen/open_tree/move_mount, syslog, vhangup, quotactl,
lookup_dcookie.

Expected containment: every call fails (EPERM from seccomp, or ENOSYS) and the program
continues ("continued", status "completed").
"""
import ctypes
import errno

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
CALLS = [("bpf", 321, 0, 0, 0), ("keyctl", 250, 0, 0, 0, 0, 0), ("add_key", 248, 0, 0, 0, 0, 0),
         ("request_key", 249, 0, 0, 0, 0), ("io_uring_setup", 425, 8, 0), ("kexec_load", 246, 0, 0, 0, 0),
         ("kexec_file_load", 320, 0, 0, 0, 0, 0), ("init_module", 175, 0, 0, 0),
         ("finit_module", 313, 0, 0, 0), ("delete_module", 176, 0, 0), ("reboot", 169, 0, 0, 0, 0),
         ("clock_settime", 227, 0, 0), ("settimeofday", 164, 0, 0), ("perf_event_open", 298, 0, 0, 0, 0, 0),
         ("userfaultfd", 323, 0), ("open_by_handle_at", 304, 0, 0, 0), ("name_to_handle_at", 303, 0, 0, 0, 0, 0),
         ("swapon", 167, 0, 0), ("swapoff", 168, 0), ("acct", 163, 0), ("fsopen", 430, 0, 0),
         ("fsmount", 432, 0, 0, 0), ("open_tree", 428, 0, 0, 0), ("move_mount", 429, 0, 0, 0, 0, 0),
         ("syslog", 103, 3, 0, 0), ("vhangup", 153), ("quotactl", 179, 0, 0, 0, 0),
         ("lookup_dcookie", 212, 0, 0, 0), ("iopl", 172, 3), ("ioperm", 173, 0, 1, 1),
         ("fanotify_init", 300, 0, 0), ("nfsservctl", 180, 0, 0, 0), ("pivot_root", 155, 0, 0)]
for name, nr, *args in CALLS:
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
    e = ctypes.get_errno()
    if r < 0 and e in (errno.EPERM, errno.ENOSYS, errno.EACCES):
        print("CONTAINED: %s: %s" % (name, errno.errorcode.get(e)))
    elif r < 0:
        print("NOTE: %s: %s (not refused by policy, failed on arguments)" % (name, errno.errorcode.get(e)))
    else:
        print("BREACH: %s returned %d" % (name, r))
print("continued", flush=True)
