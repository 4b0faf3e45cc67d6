"""Attacks: hunting for inherited file descriptors (the agent's socket, the zygote's control
socket, other executions' pipes, the spec memfd): lists /proc/self/fd, probes every fd up to
the limit.

Expected containment: only 0, 1, 2, the result pipe 3 and the child's own control socket 4 are
open (its one use is the end message: anything written on it ends the program, see
97_forge_end_message and 98_control_socket_junk); nothing else leaked in.
"""
import os
import stat

found = {}
for fd in range(4, 1024):
    try:
        st = os.fstat(fd)
    except OSError:
        continue
    try:
        target = os.readlink("/proc/self/fd/%d" % fd)
    except OSError:
        target = "?"
    if fd == 4 and stat.S_ISSOCK(st.st_mode):
        continue  # the control socket
    found[fd] = (stat.filemode(st.st_mode), target)
# the fd the listdir itself opens is closed again before this line
mine = sorted(int(x) for x in os.listdir("/proc/self/fd"))
print("fds", mine)
if found:
    print("BREACH: inherited fds %r" % found)
else:
    print("CONTAINED: only fds 0-3 and the control socket 4 open")
print("fd3", os.readlink("/proc/self/fd/3"), flush=True)
