"""Attacks: joining other namespaces: open init's /proc/1/ns/* (init runs in the zygote's
mount namespace) and setns() into them; setns() on its own namespace fds and on a pidfd; the
sethostname and setdomainname calls.

Expected containment: init's ns files are root-only (EACCES) and setns is EPERM (seccomp);
sethostname fails (EPERM); the hostname stays "sandpit".
"""
import ctypes
import errno
import os
import socket

libc = ctypes.CDLL(None, use_errno=True)
for ns in ("mnt", "net", "pid", "user", "ipc", "uts", "cgroup"):
    try:
        fd = os.open("/proc/1/ns/" + ns, os.O_RDONLY)
    except OSError as e:
        print("CONTAINED: open /proc/1/ns/%s: %s" % (ns, errno.errorcode.get(e.errno)))
        fd = os.open("/proc/self/ns/" + ns, os.O_RDONLY)
    ctypes.set_errno(0)
    r = libc.setns(fd, 0)
    print("CONTAINED: setns(%s): %s" % (ns, errno.errorcode.get(ctypes.get_errno())) if r < 0
          else "BREACH: setns(%s) succeeded" % ns)
    os.close(fd)
try:
    pfd = os.pidfd_open(1)
    ctypes.set_errno(0)
    r = libc.setns(pfd, 0x20000)
    print("CONTAINED: setns(pidfd 1): %s" % errno.errorcode.get(ctypes.get_errno()) if r < 0
          else "BREACH: setns(pidfd of init) succeeded")
except OSError as e:
    print("CONTAINED: pidfd_open(1): %s" % errno.errorcode.get(e.errno))
for what, fn in (("sethostname", lambda: libc.sethostname(b"pwned", 5)),
                 ("setdomainname", lambda: libc.setdomainname(b"pwned", 5))):
    ctypes.set_errno(0)
    r = fn()
    print("CONTAINED: %s: %s" % (what, errno.errorcode.get(ctypes.get_errno())) if r < 0 else "BREACH: %s" % what)
print("hostname", socket.gethostname(), flush=True)
