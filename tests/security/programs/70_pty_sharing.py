"""Attacks: terminals shared with the host and other executions: lists /dev/pts, opens every
/dev/pts/N it did not create (another execution's or the host's terminal) and writes into it,
opens ptys through /dev/ptmx, os.openpty and pty.fork until the kernel refuses, to use up the
host-wide kernel.pty.max. With role "plant" it holds a pty and reports any input that arrives
on it (a concurrent "probe" instance tries to inject into it).

Expected containment: each execution has its own devpts instance (newinstance, max=16): before
it opens one, /dev/pts holds only ptmx; another execution's /dev/pts/N does not exist there
(ENOENT) and nothing arrives on the plant's pty; the 17th pty fails (ENOSPC); a pty it opens
is its own and works (pty.fork).
"""
import errno
import os
import pty
import select
import time

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
role = I.get("role", "probe")
LIMIT = 16

if role == "plant":
    master, slave = os.openpty()
    print("planted %s" % os.ttyname(slave), flush=True)
    deadline = time.time() + float(I.get("hold", 3))
    got = b""
    while time.time() < deadline:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            got += os.read(master, 4096)
    print(("BREACH: input arrived on the plant's pty: %r" % got) if M.encode() in got
          else "CONTAINED: nothing arrived on the plant's pty", flush=True)
else:
    before = sorted(os.listdir("/dev/pts"))
    others = [n for n in before if n != "ptmx"]
    print(("BREACH: foreign ptys visible: %s" % others) if others
          else "CONTAINED: /dev/pts holds only ptmx", flush=True)
    injected = 0
    for n in range(64):
        try:
            fd = os.open("/dev/pts/%d" % n, os.O_WRONLY | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError as e:
            if e.errno not in (errno.ENOENT, errno.EIO, errno.EACCES, errno.EPERM):
                print("odd: /dev/pts/%d: %s" % (n, errno.errorcode.get(e.errno)))
            continue
        try:
            os.write(fd, ("injected by %s\n" % M).encode())
            injected += 1
        except OSError:
            pass
        os.close(fd)
    print(("BREACH: wrote into %d foreign ptys" % injected) if injected
          else "CONTAINED: no foreign pty to open", flush=True)
    # Works, and is our own: a child on a pty of ours.
    pid, fd = pty.fork()
    if pid == 0:
        os.write(1, b"child-on-pty\n")
        os._exit(0)
    out = b""
    try:
        while True:
            chunk = os.read(fd, 1024)
            if not chunk:
                break
            out += chunk
    except OSError:
        pass
    os.waitpid(pid, 0)
    print("pty.fork: %s" % ("works" if b"child-on-pty" in out else "no output %r" % out))
    held = []
    err = None
    while len(held) < 4 * LIMIT:
        try:
            held.append(os.openpty() if len(held) % 2 else os.open("/dev/ptmx", os.O_RDWR))
        except OSError as e:
            err = errno.errorcode.get(e.errno)
            break
    n = len(held)
    print(("CONTAINED: pty limit after %d: %s" % (n, err)) if n <= LIMIT
          else "BREACH: opened %d ptys" % n, flush=True)
    print("probe done", flush=True)
