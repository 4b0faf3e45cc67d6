"""Attacks: kernel limits counted per user across the whole host, to starve other executions:
inotify instances (fs.inotify.max_user_instances, 128), pending queued signals
(RLIMIT_SIGPENDING), pipe pages (fs.pipe-user-pages-soft), POSIX message queue bytes
(RLIMIT_MSGQUEUE). Role "hog" (the default) takes all of each and holds them for `hold`
seconds; role "victim", run at the same time, then asks for one of each.

Expected containment: every execution slot has its own uid (--sandbox-uid-base), never 0, so
the hog exhausts only its own uid's share: the victim still gets an inotify instance, queues a
signal, sizes a pipe to 1 MiB and opens a message queue. The hog's own attempts end at the
limits (EMFILE, EAGAIN, EPERM) and the program completes.
"""
import ctypes
import errno
import fcntl
import os
import signal
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
role = I.get("role", "hog")
libc = ctypes.CDLL(None, use_errno=True)
librt = ctypes.CDLL("librt.so.1", use_errno=True)
F_SETPIPE_SZ = 1031
SIG = signal.SIGRTMIN + 1


class MqAttr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long),
                ("msgsize", ctypes.c_long), ("curmsgs", ctypes.c_long), ("pad", ctypes.c_long * 4)]


librt.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_int, ctypes.POINTER(MqAttr)]
signal.pthread_sigmask(signal.SIG_BLOCK, [SIG])
print("uid %d" % os.getuid(), flush=True)


def inotify(n):
    fds = []
    while len(fds) < n:
        fd = libc.inotify_init1(os.O_CLOEXEC)
        if fd < 0:
            return fds, errno.errorcode.get(ctypes.get_errno())
        fds.append(fd)
    return fds, None


def sigqueue(n):
    k = 0
    while k < n:
        if libc.sigqueue(os.getpid(), SIG, ctypes.c_void_p(0)) < 0:
            return k, errno.errorcode.get(ctypes.get_errno())
        k += 1
    return k, None


def pipes(n):
    held = []
    while len(held) < n:
        r, w = os.pipe()
        held.append((r, w))
        try:
            fcntl.fcntl(w, F_SETPIPE_SZ, 1 << 20)
        except OSError as e:
            return held, errno.errorcode.get(e.errno)
    return held, None


def mqueues(n):
    held = []
    while len(held) < n:
        attr = MqAttr(0, 10, 8192, 0)
        q = librt.mq_open(("/%s-%d" % (M, len(held))).encode(), os.O_CREAT | os.O_RDWR, 0o600,
                          ctypes.byref(attr))
        if q < 0:
            return held, errno.errorcode.get(ctypes.get_errno())
        held.append(q)
    return held, None


if role == "hog":
    ino, e1 = inotify(100000)
    sig, e2 = sigqueue(2000000)
    pip, e3 = pipes(100000)
    mqs, e4 = mqueues(100000)
    for what, n, e in (("inotify instances", len(ino), e1), ("queued signals", sig, e2),
                       ("1 MiB pipes", len(pip), e3), ("message queues", len(mqs), e4)):
        print(("CONTAINED: %s stop at %d: %s" % (what, n, e)) if e
              else "BREACH: %s unbounded (%d)" % (what, n), flush=True)
    print("hog holding", flush=True)
    time.sleep(float(I.get("hold", 0)))
else:
    for what, (got, e) in (("inotify instance", inotify(1)), ("queued signal", sigqueue(1)),
                           ("1 MiB pipe", pipes(1)), ("message queue", mqueues(1))):
        print(("BREACH: no %s left: %s" % (what, e)) if e else "CONTAINED: got a %s" % what,
              flush=True)
print("done", flush=True)
