"""Attacks: host-wide kernel resources that no namespace or cgroup bounds: kernel AIO contexts
(io_setup with huge nr_events until fs.aio-max-nr is used up, so root on the host gets EAGAIN),
io_uring, keyrings (add_key/keyctl until the per-uid, host-wide key quota is full), secret
memory (memfd_secret), userfaultfd, fanotify, page migration of other processes.

Expected containment: the seccomp filter refuses each (EPERM); /proc/sys/fs/aio-nr does not
grow; the program goes on.
"""
import ctypes
import errno
import os

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
NR = {"io_setup": 206, "io_submit": 209, "io_uring_setup": 425, "add_key": 248, "keyctl": 250,
      "memfd_secret": 447, "userfaultfd": 323, "fanotify_init": 300, "migrate_pages": 256,
      "move_pages": 279}


def aio_nr():
    with open("/proc/sys/fs/aio-nr") as f:
        return int(f.read())


def call(name, *args):
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(NR[name]), *args)
    return r, ctypes.get_errno()


before = aio_nr()
ctxs = []
for i in range(64):
    ctx = ctypes.c_ulong(0)
    r, e = call("io_setup", ctypes.c_long(1 << 20), ctypes.byref(ctx))
    if r < 0:
        print(("CONTAINED: io_setup: %s" % errno.errorcode.get(e)) if e == errno.EPERM
              else "BREACH: io_setup failed only with %s after %d" % (errno.errorcode.get(e), i))
        break
    ctxs.append(ctx)
else:
    print("BREACH: io_setup reserved %d contexts" % len(ctxs))
after = aio_nr()
print(("BREACH: fs.aio-nr grew from %d to %d" % (before, after)) if after > before
      else "CONTAINED: fs.aio-nr unchanged", flush=True)
r, e = call("io_submit", ctypes.c_ulong(0), ctypes.c_long(0), None)
print("CONTAINED: io_submit: %s" % errno.errorcode.get(e) if r < 0 and e == errno.EPERM
      else "BREACH: io_submit reached the kernel (%d, %s)" % (r, errno.errorcode.get(e)))
params = ctypes.create_string_buffer(120)
r, e = call("io_uring_setup", ctypes.c_long(8), params)
print("CONTAINED: io_uring_setup: %s" % errno.errorcode.get(e) if r < 0 and e == errno.EPERM
      else "BREACH: io_uring_setup (%d, %s)" % (r, errno.errorcode.get(e)))
n_keys = 0
for i in range(300):
    r, e = call("add_key", ctypes.c_char_p(b"user"), ctypes.c_char_p(b"sx%d" % i),
                ctypes.c_char_p(b"x" * 512), ctypes.c_long(512), ctypes.c_long(-3))
    if r < 0:
        break
    n_keys += 1
print(("CONTAINED: add_key: %s" % errno.errorcode.get(e)) if n_keys == 0 and e == errno.EPERM
      else "BREACH: add_key made %d keys (%s)" % (n_keys, errno.errorcode.get(e)))
for name, args in (("keyctl", (ctypes.c_long(0), ctypes.c_long(-3), ctypes.c_long(1))),
                   ("memfd_secret", (ctypes.c_long(0),)),
                   ("userfaultfd", (ctypes.c_long(1),)),
                   ("fanotify_init", (ctypes.c_long(0), ctypes.c_long(0))),
                   ("migrate_pages", (ctypes.c_long(1), ctypes.c_long(64), None, None)),
                   ("move_pages", (ctypes.c_long(1), ctypes.c_long(0), None, None, None,
                                   ctypes.c_long(0)))):
    r, e = call(name, *args)
    print("CONTAINED: %s: %s" % (name, errno.errorcode.get(e)) if r < 0 and e == errno.EPERM
          else "BREACH: %s reached the kernel (%d, %s)" % (name, r, errno.errorcode.get(e)))
print("continued", flush=True)
