"""Attacks: disk fill: writes 1 MiB blocks into the working directory until the disk is full.

Expected containment: the working dir is a size-limited private tmpfs (--disk-mb): the write
fails with ENOSPC (or EFBIG under RLIMIT_FSIZE) after about disk-mb MiB; nothing on the host
fills up; status "completed" with the amount written reported.
"""
import errno
import os

block = b"\xab" * (1 << 20)
written = 0
try:
    with open("fill.bin", "wb", buffering=0) as f:
        while written < 100000:
            f.write(block)
            written += 1
except OSError as e:
    print("CONTAINED: %s after %d MiB" % (errno.errorcode.get(e.errno, e.errno), written), flush=True)
else:
    print("BREACH: wrote %d MiB" % written, flush=True)
# many small files too (inodes)
n = 0
try:
    os.mkdir("many")
    for n in range(20000):
        with open("many/%d" % n, "wb") as f:
            f.write(b"x")
except OSError as e:
    print("files stopped at %d: %s" % (n, e), flush=True)
print("WRITTEN_MIB=%d" % written)
