"""Attacks: dup'ing fds 0-2 hundreds of times (extra writers on the agent's pipes), pointing
stdout and stderr at the result pipe (fd 3) so that all printing pollutes the result frame,
then exiting with 4.

Expected containment: the agent sees EOF once the namespace is gone whatever the number of
duplicates; the result frame is garbage and is ignored; the exit code stays true (4, status
"failed").
"""
import os

dups = [os.dup(fd) for fd in (0, 1, 2) for _ in range(300)]
os.dup2(3, 1)
os.dup2(3, 2)
print('{"exit_code": 0, "status": "completed", "error": null}')
print("garbage", flush=True)
raise SystemExit(4)
