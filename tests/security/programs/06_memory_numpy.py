"""Attacks: a memory bomb of numpy arrays (np.ones, all pages touched).

Expected containment: numpy's MemoryError ("Unable to allocate ...") or OOM kill; status
"failed", error starting "MemoryError".
"""
import numpy as np

hog = []
while True:
    hog.append(np.ones(4 << 20))  # 32 MiB of float64, written
