"""Attacks: hard links from the working directory to files outside it (/etc/passwd, shadow, a
setuid binary, the host canary) hoping to write through the link or keep a privileged inode.

Expected containment: the working dir is another filesystem (EXDEV) and links to files the
caller does not own are refused anyway (EPERM, protected_hardlinks); nothing changes.
"""
import errno
import os

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
srcs = ["/etc/passwd", "/etc/shadow", "/usr/bin/su", "/usr/bin/passwd"] + list(I.get("canaries", []))
for i, src in enumerate(srcs):
    try:
        os.link(src, "hl%d" % i)
    except OSError as e:
        print("CONTAINED: link %s: %s" % (src, errno.errorcode.get(e.errno)))
        continue
    print("BREACH: hard link to %s created" % src)
    try:
        with open("hl%d" % i, "a") as f:
            f.write("pwned by %s\n" % M)
        print("BREACH: wrote through hard link to %s" % src)
    except OSError as e:
        print("CONTAINED: write via link %s: %s" % (src, errno.errorcode.get(e.errno)))
# a hard link inside /tmp (same tmpfs): allowed, harmless
with open("own.txt", "w") as f:
    f.write("x")
os.link("own.txt", "/tmp/own-link-%s" % M)
print("done", flush=True)
