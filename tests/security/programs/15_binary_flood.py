"""Attacks: binary garbage (invalid UTF-8, NUL bytes, terminal escapes) flooded on stdout and
stderr.

Expected containment: the agent still answers valid JSON (the text is made valid UTF-8), both
streams are cut at max_output_bytes, truncated is true.
"""
import os

junk = bytes(range(256)) * 64 + b"\x00\xff\xfe\x1b[2J\x1b]0;pwned\x07\xc3\x28\xed\xa0\x80"
while True:
    os.write(1, junk)
    os.write(2, junk[::-1])
