"""Attacks: symlinks from the working directory to files outside it (/etc/passwd, the host
canaries, /proc/1/root, the root directory) and writes through them; a symlink swapped in for
the working directory itself.

Expected containment: the link is followed with the program's own rights on a read-only root:
every write fails (EROFS/EACCES/ENOENT); the host files are unchanged (checked by the test).
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


targets = {"pw": "/etc/passwd", "sh": "/etc/shadow", "root": "/", "initroot": "/proc/1/root/etc/passwd",
           "newfile": "/etc/%s" % M}
targets.update({"canary%d" % i: c for i, c in enumerate(I.get("canaries", []))})
for name, target in targets.items():
    os.symlink(target, name)
    attempt("write through symlink %s -> %s" % (name, target), lambda n=name: write(n))
    attempt("truncate through symlink %s" % name, lambda n=name: write(n, "w"))
attempt("write via root symlink root/etc/passwd", lambda: write("root/etc/passwd"))
attempt("mkdir via root symlink", lambda: os.mkdir("root/%s" % M))
# the working directory replaced by a symlink to /etc, then written through
cwd = os.getcwd()
os.chdir("/")
try:
    os.rename(cwd, cwd + ".old")
    os.symlink("/etc", cwd)
    attempt("write via swapped working dir", lambda: write(os.path.join(cwd, "passwd")))
except OSError as e:
    print("CONTAINED: swap working dir: %s" % errno.errorcode.get(e.errno))
print("done", flush=True)
