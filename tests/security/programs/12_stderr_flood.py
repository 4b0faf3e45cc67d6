"""Attacks: an endless stderr flood.

Expected containment: stderr is cut at max_output_bytes with "<output cut>",
stderr_truncated is true; the deadline stops the program.
"""
import sys

while True:
    sys.stderr.write("err flood " * 20 + "\n")
