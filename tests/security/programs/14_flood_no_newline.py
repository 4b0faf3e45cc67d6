"""Attacks: a flood without any newline (one endless line), through both print buffering and
raw os.write.

Expected containment: cut at max_output_bytes like any flood, "<output cut>" appended; the
agent does not buffer the whole line.
"""
import os
import sys

for _ in range(1000):
    sys.stdout.write("n" * 4096)
while True:
    os.write(1, b"n" * 65536)
