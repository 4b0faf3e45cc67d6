"""Attacks: reading secrets on the root filesystem: /etc/shadow, /etc/gshadow, /root, sudoers,
ssh host keys, the agent's state dir.

Expected containment: the program runs as its slot's sandbox uid without capabilities: PermissionError (or
FileNotFoundError) for each; nothing is read.
"""
import errno
import glob
import os

paths = ["/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/root/.bash_history", "/root/.ssh/id_rsa",
         "/proc/kcore", "/proc/kallsyms"]
paths += glob.glob("/etc/ssh/ssh_host_*_key")
for p in paths:
    try:
        with open(p, "rb") as f:
            data = f.read(4096)
    except OSError as e:
        print("CONTAINED: %s: %s" % (p, errno.errorcode.get(e.errno)))
        continue
    if p == "/proc/kallsyms" and all(line.startswith(b"0000000000000000") for line in data.splitlines()[:5]):
        print("CONTAINED: %s: addresses hidden" % p)
        continue
    print("BREACH: read %d bytes of %s" % (len(data), p))
try:
    print("BREACH: listed /root: %r" % os.listdir("/root")[:5])
except OSError as e:
    print("CONTAINED: listdir /root: %s" % errno.errorcode.get(e.errno))
print("uid", os.getuid(), os.geteuid(), "gid", os.getgid(), "groups", os.getgroups(), flush=True)
