"""Attacks: the child's control socket to the zygote (fd 4, kept for the end message): floods
it with junk, malformed end messages and fds passed by SCM_RIGHTS, hoping to stall the zygote's
loop, confuse another execution or claim a wrong state.

Expected containment: the first message that is not a well-formed end message ends the program
(killed, SIGKILL, the error naming the control socket); the zygote reads one message, not the
flood, and goes on serving the next executions.
"""
import os
import socket

print("flooding", flush=True)
s = socket.socket(fileno=os.dup(4))
sent = 0
try:
    s.sendmsg([b"X" * 3], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, bytes(4 * 4))])
    sent += 1
except OSError:
    pass
try:
    while True:
        s.send(b"EE\x00" + b"junk" * 100)
        sent += 1
except OSError as e:
    print("stopped after %d sends: %s" % (sent, e), flush=True)
print("BREACH: still running after the junk", flush=True)
