"""Attacks: another session's files from a session's cell. The runner gives the cell the other
session's id and the agent's work directory (input_data: other_session, work_dir); the other
session holds secret.txt in its workspace and wrote /tmp/<marker>-other and
/dev/shm/<marker>-other in its family. The cell tries the other workspace's host path, ../<id>,
the work directory's listing, /proc/<pid>/cwd and /proc/<pid>/root of every process it sees,
a symlink to the other workspace (which the agent's files API must then refuse to follow), a
write into the other workspace, and the other family's /tmp and /dev/shm.

Expected containment: a session's mount namespace binds only its own workspace below the work
directory, its family has its own /tmp and /dev/shm, and its PID namespace shows only its own
processes: every attempt finds nothing or is refused ("CONTAINED"), "probe done".
"""
import errno
import os

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
other = I.get("other_session", "s-none")
work = I.get("work_dir", "/nonexistent")
SECRET = I.get("secret", "\0never")


def code(e):
    return errno.errorcode.get(e.errno, str(e.errno))


def try_read(label, path):
    try:
        with open(path, errors="replace") as f:
            got = f.read()
    except OSError as e:
        print("CONTAINED: %s: %s" % (label, code(e)))
        return
    print(("BREACH: %s read the other's secret" if SECRET in got else
           "CONTAINED: %s holds no secret") % label)


try_read("host path of the other workspace", os.path.join(work, other, "secret.txt"))
try_read("../<other>", os.path.join("..", other, "secret.txt"))
try:
    names = os.listdir(work)
    print(("BREACH: the work directory lists %s" % other) if other in names else
          "CONTAINED: the work directory lists only %d entries, not the other" % len(names))
except OSError as e:
    print("CONTAINED: list the work directory: %s" % code(e))
for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
    for what in ("cwd", "root"):
        base = "/proc/%s/%s" % (pid, what)
        rel = "secret.txt" if what == "cwd" else os.path.join(work.lstrip("/"), other,
                                                              "secret.txt")
        try:
            with open(os.path.join(base, rel), errors="replace") as f:
                if SECRET in f.read():
                    print("BREACH: read the secret through %s" % base)
        except OSError:
            pass
print("CONTAINED: no /proc/<pid>/cwd or root reaches the secret")
try:
    os.symlink(os.path.join(work, other), "to_other")
    try_read("symlink to the other workspace", "to_other/secret.txt")
except OSError as e:
    print("CONTAINED: symlink: %s" % code(e))
try:
    with open(os.path.join(work, other, M + "-planted"), "w") as f:
        f.write("planted")
    print("BREACH: wrote into the other workspace")
except OSError as e:
    print("CONTAINED: write into the other workspace: %s" % code(e))
for d in ("/tmp", "/dev/shm"):
    p = os.path.join(d, M + "-other")
    print("BREACH: found %s" % p if os.path.exists(p) else "CONTAINED: no %s here" % p)
print("probe done", flush=True)
