"""Attacks: writing outside the working directory: /etc/passwd (append, truncate, chmod,
utime), new files in /etc, /usr, /, /root, /var/tmp, /run, /dev, /work, and the host canary
files given in input_data (one on the root filesystem, world-writable, protected only by the
read-only root; one in the host's /tmp, hidden behind the private tmpfs).

Expected containment: EROFS / EACCES / ENOENT for everything on the real filesystems; writes
into the execution's own tmpfs (/tmp, /dev/shm) land there and vanish; the host's files are
unchanged (checked by the test).
"""
import errno
import os

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")


def attempt(what, fn):
    try:
        fn()
    except OSError as e:
        print("CONTAINED: %s: %s" % (what, errno.errorcode.get(e.errno)))
        return
    print("BREACH: %s" % what)


def write(path, mode="a"):
    with open(path, mode) as f:
        f.write("pwned by %s\n" % M)


attempt("append /etc/passwd", lambda: write("/etc/passwd"))
attempt("truncate /etc/passwd", lambda: os.truncate("/etc/passwd", 0))
attempt("chmod /etc/passwd", lambda: os.chmod("/etc/passwd", 0o666))
attempt("utime /etc/passwd", lambda: os.utime("/etc/passwd", (0, 0)))
attempt("rename /etc/passwd", lambda: os.rename("/etc/passwd", "/etc/passwd.%s" % M))
attempt("create /etc/ld.so.preload", lambda: write("/etc/ld.so.preload", "w"))
for d in ("/etc", "/usr", "/", "/root", "/var/tmp", "/run", "/dev", "/work", "/usr/lib/python3/dist-packages",
          "/sys/fs/cgroup", "/var/lib"):
    attempt("create %s/%s" % (d, M), lambda d=d: write(os.path.join(d, M), "w"))
    attempt("mkdir %s/%s.d" % (d, M), lambda d=d: os.mkdir(os.path.join(d, M + ".d")))
for c in I.get("canaries", []):
    d = os.path.dirname(c)
    attempt("append canary %s" % c, lambda c=c: write(c))
    attempt("truncate canary %s" % c, lambda c=c: os.truncate(c, 0))
    attempt("unlink canary %s" % c, lambda c=c: os.unlink(c))
    attempt("create in canary dir %s" % d, lambda d=d: write(os.path.join(d, M + ".txt"), "w"))
    attempt("chmod canary dir %s" % d, lambda d=d: os.chmod(d, 0o700))
print("done", flush=True)
