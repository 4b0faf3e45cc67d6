"""Attacks: a memory bomb growing a list of 16 MiB strings without bound.

Expected containment: MemoryError (RLIMIT_AS) or the memory cgroup's OOM kill
(exit_reason "oom"); either way status "failed" with an error starting "MemoryError" and the
agent unaffected.
"""
hog = []
while True:
    hog.append("x" * (16 << 20))
