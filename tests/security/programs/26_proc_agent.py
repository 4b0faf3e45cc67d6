"""Attacks: the agent's and the zygote's /proc entries by their host pids (environ, cmdline,
maps, mem, status, fds, root) to steal the agent's environment (it holds secrets) or memory;
then every /proc/<pid>/environ visible, and the program's own environment.

Expected containment: the private /proc of the PID namespace has no such pids
(FileNotFoundError); init's entries are root-only (PermissionError); the agent's secrets appear
nowhere.
"""
import errno
import os

I = globals().get("input_data") or {}
secrets = [s for s in I.get("secrets", []) if s]
visible = {int(d) for d in os.listdir("/proc") if d.isdigit()}
for pid in I.get("host_pids", []):
    if pid in visible:
        print("note: pid %d also exists inside the namespace; skipped" % pid)
        continue
    for leaf in ("environ", "cmdline", "maps", "mem", "status", "fd", "root", "cwd", "exe",
                 "task", "stack", "syscall", "auxv"):
        p = "/proc/%d/%s" % (pid, leaf)
        try:
            if os.path.isdir(p):
                data = repr(os.listdir(p)).encode()
            else:
                with open(p, "rb") as f:
                    data = f.read(65536)
        except OSError as e:
            print("CONTAINED: %s: %s" % (p, errno.errorcode.get(e.errno)))
        else:
            print("BREACH: read %s (%d bytes)" % (p, len(data)))
for leaf in ("environ", "mem", "root", "cwd", "maps", "exe"):
    p = "/proc/1/" + leaf
    try:
        if leaf in ("root", "cwd", "exe"):
            data = os.readlink(p).encode()
        else:
            with open(p, "rb") as f:
                data = f.read(4096)
    except OSError as e:
        print("CONTAINED: %s: %s" % (p, errno.errorcode.get(e.errno)))
    else:
        print("BREACH: read %s: %r" % (p, data[:80]))
found = []
for d in os.listdir("/proc"):
    if d.isdigit():
        try:
            with open("/proc/%s/environ" % d, "rb") as f:
                env = f.read()
        except OSError:
            continue
        found += [s for s in secrets if s.encode() in env]
found += [s for s in secrets if s in repr(dict(os.environ))]
print("BREACH: secret visible: %r" % found if found else "CONTAINED: no secret in any environ",
      flush=True)
