"""Attacks: terminal injection: open /dev/tty (the agent's controlling terminal, if any) and
TIOCSTI keystrokes into it; TIOCSTI on stdin; a new pty from /dev/ptmx.

Expected containment: the program has no controlling terminal (ENXIO), stdin is not a tty
(ENOTTY); a pty it opens is its own.
"""
import errno
import fcntl
import os
import termios

try:
    fd = os.open("/dev/tty", os.O_RDWR)
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"x")
        print("BREACH: TIOCSTI into /dev/tty")
    except OSError as e:
        print("CONTAINED: TIOCSTI /dev/tty: %s" % errno.errorcode.get(e.errno))
except OSError as e:
    print("CONTAINED: open /dev/tty: %s" % errno.errorcode.get(e.errno))
for fd in (0, 1, 2):
    try:
        fcntl.ioctl(fd, termios.TIOCSTI, b"x")
        print("BREACH: TIOCSTI on fd %d" % fd)
    except OSError as e:
        print("CONTAINED: TIOCSTI fd %d: %s" % (fd, errno.errorcode.get(e.errno)))
print("isatty", [os.isatty(fd) for fd in (0, 1, 2)], flush=True)
