"""Attacks: reaching another execution running at the same time: one instance ("plant")
listens on an abstract unix socket and a filesystem socket, drops files in /dev/shm, /tmp and
SysV shared memory keyed by the marker; the other ("probe") looks for all of them.

Expected containment: each execution has its own network namespace (abstract sockets), IPC
namespace (SysV), /tmp and /dev/shm: the probe finds nothing ("CONTAINED" for each).
"""
import ctypes
import errno
import os
import socket
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
role = I.get("role", "probe")
key = int(M[-6:], 16) if all(c in "0123456789abcdef" for c in M[-6:]) else 4242
libc = ctypes.CDLL(None, use_errno=True)
paths = ["/dev/shm/" + M, "/tmp/" + M]
if role == "plant":
    a = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    a.bind("\0" + M)
    a.listen(5)
    f = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    f.bind("/tmp/%s.sock" % M)
    f.listen(5)
    for p in paths:
        with open(p, "w") as fh:
            fh.write("secret")
    shmid = libc.shmget(key, 4096, 0o1666)  # IPC_CREAT | 0666
    print("planted shm %d" % shmid, flush=True)
    time.sleep(float(I.get("hold", 3)))
else:
    for addr in ("\0" + M, "/tmp/%s.sock" % M):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(addr)
            print("BREACH: connected to %r" % addr)
        except OSError as e:
            print("CONTAINED: connect %r: %s" % (addr, errno.errorcode.get(e.errno)))
    for p in paths:
        print("BREACH: found %s" % p if os.path.exists(p) else "CONTAINED: no %s" % p)
    r = libc.shmget(key, 0, 0)
    print("BREACH: found shm %d" % r if r >= 0 else "CONTAINED: no SysV shm")
    print("probe done", flush=True)
