"""Attacks: connecting to the agent's own HTTP port on 127.0.0.1 (to POST /execute from inside,
or DELETE other executions), over IPv4 and IPv6, with raw sockets and with urllib.

Expected containment: the execution has its own network namespace holding only its own
loopback: ECONNREFUSED (nothing of ours listens there); the agent is unreachable.
"""
import errno
import socket
import urllib.request

I = globals().get("input_data") or {}
port = int(I.get("agent_port", 8001))
for fam, addr in ((socket.AF_INET, ("127.0.0.1", port)), (socket.AF_INET6, ("::1", port))):
    try:
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(2)
        s.connect(addr)
        s.sendall(b"GET /health HTTP/1.0\r\n\r\n")
        print("BREACH: connected to %r: %r" % (addr, s.recv(200)))
    except OSError as e:
        print("CONTAINED: connect %r: %s" % (addr, errno.errorcode.get(e.errno, e)))
try:
    body = urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=2).read(100)
    print("BREACH: GET /health answered %r" % body)
except OSError as e:
    print("CONTAINED: urllib: %s" % e)
print("done", flush=True)
