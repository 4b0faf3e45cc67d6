"""Attacks: stdout and stderr flooded at once from two threads plus a subprocess.

Expected containment: both streams cut at max_output_bytes (truncated, stdout_truncated and
stderr_truncated true); no deadlock between the two pipes; the deadline stops it.
"""
import os
import subprocess
import threading

subprocess.Popen(["/bin/sh", "-c", "while :; do echo sub-out; echo sub-err >&2; done"])


def pump(fd, data):
    while True:
        os.write(fd, data)


threading.Thread(target=pump, args=(2, b"E" * 8192), daemon=True).start()
pump(1, b"O" * 8192)
