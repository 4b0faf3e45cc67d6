"""Attacks: a memory bomb of touched bytearrays (every page written, so really resident).

Expected containment: MemoryError or OOM kill; status "failed", error "MemoryError...".
"""
hog = []
while True:
    b = bytearray(32 << 20)
    b[::4096] = b"\x01" * len(b[::4096])
    hog.append(b)
