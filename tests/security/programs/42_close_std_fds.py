"""Attacks: closing fds 0, 1, 2 (and in a child also the result pipe) and then running on,
writing to the closed streams; exits with 5.

Expected containment: the program alone suffers (OSError on its writes); the agent still
finishes the execution and reports the true exit code 5 (status "failed").
"""
import os

pid = os.fork()
if pid == 0:
    for fd in (0, 1, 2, 3):
        os.close(fd)
    try:
        print("nobody hears this")
    except Exception:
        pass
    os._exit(0)
os.waitpid(pid, 0)
print("before close", flush=True)
for fd in (0, 1, 2):
    os.close(fd)
try:
    print("after close")
except OSError:
    pass
try:
    os.write(1, b"raw after close\n")
except OSError:
    pass
os._exit(5)
