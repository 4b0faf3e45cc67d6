"""Attacks: ptrace: PTRACE_TRACEME, attaching to init (pid 1) and to its own child, and
process_vm_readv on the child; then keeps running.

Expected containment: seccomp answers EPERM to ptrace and process_vm_readv; the program
continues ("continued" printed, status "completed").
"""
import ctypes
import errno
import os
import time

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
PTRACE_TRACEME, PTRACE_ATTACH, PTRACE_SEIZE = 0, 16, 0x4206
pid = os.fork()
if pid == 0:
    time.sleep(10)
    os._exit(0)
for what, args in (("traceme", (101, PTRACE_TRACEME, 0, 0, 0)), ("attach init", (101, PTRACE_ATTACH, 1, 0, 0)),
                   ("attach child", (101, PTRACE_ATTACH, pid, 0, 0)), ("seize child", (101, PTRACE_SEIZE, pid, 0, 0)),
                   ("process_vm_readv child", (310, pid, 0, 0, 0, 0, 0)),
                   ("process_vm_writev child", (311, pid, 0, 0, 0, 0, 0))):
    ctypes.set_errno(0)
    r = libc.syscall(*[ctypes.c_long(a) for a in args])
    e = ctypes.get_errno()
    if r < 0:
        print("CONTAINED: %s: %s" % (what, errno.errorcode.get(e, e)))
    else:
        print("BREACH: %s returned %d" % (what, r))
os.kill(pid, 9)
os.waitpid(pid, 0)
print("continued", flush=True)
