"""Attacks: fills /dev/shm (and /tmp outside the working dir) until full.

Expected containment: /dev/shm and /tmp are fresh, size-limited tmpfs mounts of this
execution only (the host's /dev/shm and /tmp are untouched); writes stop with ENOSPC (or the
memory cgroup stops it); the program reports it and completes.
"""
import errno
import os

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
block = b"\xcd" * (1 << 20)
for d in ("/dev/shm", "/tmp"):
    n = 0
    try:
        with open(os.path.join(d, M), "wb", buffering=0) as f:
            while n < 100000:
                f.write(block)
                n += 1
    except OSError as e:
        print("CONTAINED: %s filled: %s after %d MiB" % (d, errno.errorcode.get(e.errno, e.errno), n),
              flush=True)
    else:
        print("BREACH: wrote %d MiB into %s" % (n, d), flush=True)
    try:
        os.unlink(os.path.join(d, M))
    except OSError:
        pass
