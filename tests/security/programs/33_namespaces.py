"""Attacks: new namespaces: unshare() with every namespace flag (a user namespace would give
the program capabilities over its own new namespaces), clone() with namespace flags and clone3.

Expected containment: EPERM from seccomp for unshare and namespace-creating clone; clone3
refused (ENOSYS/EPERM); the program continues ("continued", status "completed").
"""
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
FLAGS = {"NEWUSER": 0x10000000, "NEWNS": 0x20000, "NEWNET": 0x40000000, "NEWPID": 0x20000000,
         "NEWIPC": 0x8000000, "NEWUTS": 0x4000000, "NEWCGROUP": 0x2000000, "NEWTIME": 0x80}
SIGCHLD = 17


def report(what, r):
    e = ctypes.get_errno()
    if r < 0:
        print("CONTAINED: %s: %s" % (what, errno.errorcode.get(e, e)))
    else:
        print("BREACH: %s returned %d" % (what, r))


for name, flag in FLAGS.items():
    ctypes.set_errno(0)
    report("unshare(CLONE_%s)" % name, libc.syscall(ctypes.c_long(272), ctypes.c_long(flag)))
for name, flag in FLAGS.items():
    if name == "NEWTIME":
        continue
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(56), ctypes.c_long(flag | SIGCHLD), ctypes.c_long(0), ctypes.c_long(0),
                     ctypes.c_long(0), ctypes.c_long(0))
    if r == 0:
        os._exit(0)  # the child, in a new namespace: leave at once
    if r > 0:
        os.waitpid(r, 0)
    report("clone(CLONE_%s)" % name, r)


class CloneArgs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in ("flags", "pidfd", "child_tid", "parent_tid", "exit_signal",
                                              "stack", "stack_size", "tls", "set_tid", "set_tid_size",
                                              "cgroup")]


ca = CloneArgs(flags=FLAGS["NEWUSER"], exit_signal=SIGCHLD)
ctypes.set_errno(0)
r = libc.syscall(ctypes.c_long(435), ctypes.c_void_p(ctypes.addressof(ca)), ctypes.c_long(ctypes.sizeof(ca)))
if r == 0:
    os._exit(0)
if r > 0:
    os.waitpid(r, 0)
report("clone3(CLONE_NEWUSER)", r)
print("continued", flush=True)
