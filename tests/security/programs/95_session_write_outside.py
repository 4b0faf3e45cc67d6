"""Attacks: a session's cell writing outside its workspace: the host's canary files (input_data
canaries), /etc/passwd, the agent's work directory next to its workspace and above it
(input_data work_dir), /var/tmp and /usr; /tmp and /dev/shm are its family's own (allowed,
but nothing may reach the host's /tmp).

Expected containment: the root file system is read-only, the work directory binds only the
session's own workspace, /tmp is a private tmpfs: every write outside is refused
("CONTAINED"; a write below the work directory lands, if at all, in the family's own
view, never on the host), the /tmp write stays in the family ("family /tmp ok"), and nothing on the host
changes.
"""
import errno
import os

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
work = I.get("work_dir", "/nonexistent")
hard = list(I.get("canaries", [])) + ["/etc/passwd", "/var/tmp/" + M, "/usr/" + M, "/" + M]
# Inside the sandbox these may be paths of the family's own view; the runner checks that no
# file of the marker appeared there on the host.
soft = [os.path.join(work, M), os.path.join(os.path.dirname(work), M), os.path.join("..", M)]
for path in hard + soft:
    try:
        with open(path, "a") as f:
            f.write("written by a session\n")
        print(("BREACH: appended to %s" if path in hard else "wrote %s in the sandbox") % path)
    except OSError as e:
        print("CONTAINED: write %s: %s" % (path, errno.errorcode.get(e.errno, e.errno)))
for d in ("/tmp", "/dev/shm"):
    with open(os.path.join(d, M), "w") as f:
        f.write("mine")
print("family /tmp ok", flush=True)
