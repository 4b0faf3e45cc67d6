"""Attacks: the disk limit, place by place: writes as much as it can into the working
directory, /tmp, /dev/shm and /var/tmp in turn (each a separate tmpfs of the full size before),
to store several times the limit in total.

Expected containment: every writable place is a directory of one tmpfs of the execution's disk
limit (diskLimitMb, or the agent's --disk-mb), so the sum written stops at the limit (ENOSPC);
/var/tmp is read-only (EROFS). The program prints TOTAL_MIB=<sum> and completes; the test
compares it with the limit.
"""
import errno
import os

I = globals().get("input_data") or {}
M = I.get("marker", "sx-standalone")
block = b"\xab" * (1 << 20)
total = 0
for d in (os.getcwd(), "/tmp", "/dev/shm", "/var/tmp"):
    n = 0
    try:
        with open(os.path.join(d, M + ".fill"), "wb", buffering=0) as f:
            while n < 100000:
                f.write(block)
                n += 1
    except OSError as e:
        print("CONTAINED: %s: %s after %d MiB" % (d, errno.errorcode.get(e.errno), n), flush=True)
    total += n
print("TOTAL_MIB=%d" % total, flush=True)
