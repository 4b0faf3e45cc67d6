"""Attacks: faking the end of its own cell. A session's process tells the zygote "D" (done,
with a wait status) on its control socket when a cell ends; the cell writes such frames (and
"U", up) on every fd from 3 to 10, plainly and by sendmsg() with its own SCM_CREDENTIALS, then
runs on and prints more, hoping its result is cut short, the session shown idle while it runs,
or the next cell mixed with this one.

Expected containment: the zygote judges a cell's end by its own checks (its streams closed, its
processes gone), never by the frame alone: the cell's result holds "still running after the
fakes", or the session is killed for it (dead, 410 with a reason). Either way the agent, its
zygote and other sessions go on untouched.
"""
import errno
import os
import socket
import struct
import time

print('faking', flush=True)
sent = 0
frames = [b"D" + struct.pack("<I", 0), b"U" + struct.pack("<I", 0),
          b"D" + struct.pack("<I", 9)]
for fd in range(3, 11):
    for fr in frames:
        try:
            os.write(fd, fr)
            sent += 1
        except OSError:
            pass
        try:
            s = socket.socket(fileno=os.dup(fd))
        except OSError:
            continue
        try:
            creds = struct.pack("3i", os.getpid(), os.getuid(), os.getgid())
            s.sendmsg([fr], [(socket.SOL_SOCKET, socket.SCM_CREDENTIALS, creds)])
            sent += 1
        except OSError as e:
            if e.errno not in (errno.ENOTSOCK, errno.EPIPE, errno.EBADF, errno.EINVAL,
                               errno.EDESTADDRREQ, errno.ENOTCONN):
                print("sendmsg fd %d: %s" % (fd, e))
        finally:
            s.detach()
print("sent %d fake frames" % sent, flush=True)
time.sleep(1.5)
print("still running after the fakes", flush=True)
