"""Attacks: a memory bomb of anonymous mmaps, every page written; then one huge mapping.

Expected containment: mmap fails (ENOMEM under RLIMIT_AS), reported here as MemoryError, or
the OOM killer stops it; status "failed", error starting "MemoryError".
"""
import mmap

maps = []
try:
    huge = mmap.mmap(-1, 1 << 40)  # 1 TiB of address space
    print("BREACH: a 1 TiB mapping was allowed", flush=True)
    huge.close()
except OSError as e:
    print("CONTAINED: 1 TiB mmap refused: %s" % e, flush=True)
while True:
    try:
        m = mmap.mmap(-1, 32 << 20)
    except OSError as e:
        raise MemoryError("mmap refused: %s" % e)
    for off in range(0, len(m), 4096):
        m[off] = 1
    maps.append(m)
