"""Attacks: flooding the result pipe (fd 3) with 256 MiB of garbage, hoping to exhaust the
agent's memory or wedge its reader.

Expected containment: the agent caps what it keeps of the frame (and ignores an invalid one);
its memory stays bounded; status "completed" with the true exit code 0; result null.
"""
import os

block = b"{" * (1 << 20)
n = 0
try:
    for n in range(256):
        os.write(3, block)
except OSError as e:
    print("result pipe closed after %d MiB: %s" % (n, e))
print("flooded", flush=True)
os._exit(0)
