"""Attacks: mount a tmpfs, bind-mount / over the working dir, remount / read-write, umount the
private /tmp and /proc (to uncover the host's), pivot_root and chroot; also the setuid
/usr/bin/mount and /usr/bin/umount binaries.

Expected containment: EPERM from seccomp (no CAP_SYS_ADMIN anyway); the setuid binaries gain
nothing under no_new_privs and fail; the program continues.
"""
import ctypes
import errno
import os
import subprocess

libc = ctypes.CDLL(None, use_errno=True)
MS_BIND, MS_REMOUNT = 4096, 32
calls = [
    ("mount tmpfs", lambda: libc.mount(b"none", b".", b"tmpfs", 0, None)),
    ("bind / over cwd", lambda: libc.mount(b"/", b".", None, MS_BIND, None)),
    ("remount / rw", lambda: libc.mount(None, b"/", None, MS_REMOUNT, None)),
    ("umount /tmp", lambda: libc.umount2(b"/tmp", 2)),
    ("umount /proc", lambda: libc.umount2(b"/proc", 2)),
    ("pivot_root", lambda: libc.syscall(155, b".", b".")),
    ("chroot", lambda: libc.chroot(b".")),
]
for what, fn in calls:
    ctypes.set_errno(0)
    r = fn()
    if r < 0:
        print("CONTAINED: %s: %s" % (what, errno.errorcode.get(ctypes.get_errno())))
    else:
        print("BREACH: %s succeeded" % what)
for argv in (["/usr/bin/mount", "-t", "tmpfs", "none", "/mnt"], ["/usr/bin/umount", "-l", "/tmp"],
             ["/usr/bin/mount", "-o", "remount,rw", "/"]):
    p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    print("CONTAINED" if p.returncode else "BREACH", ": %s -> %d %s" % (" ".join(argv), p.returncode,
                                                                       (p.stdout + p.stderr).strip()[:100]))
print("continued", flush=True)
