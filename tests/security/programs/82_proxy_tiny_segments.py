"""Attacks: the agent's memory through its proxy (run with networkLatencyMs 60000 on the
upstream direction, allowHosts ["127.0.0.1"]): 16 tunnels to a listening port, then 1-byte
segments (TCP_NODELAY) as fast as possible. Each segment used to become its own allocation
while the cap counted payload only: 3.8 MB of sends grew the agent by 143 MB.

Expected containment: queued bytes are charged by their real cost and capped per execution
(4 MiB); at the cap the proxy stops reading and the senders stall ("CONTAINED: stalled"); the
agent's RSS stays flat (checked by the test).
"""
import socket
import time

I = globals().get("input_data") or {}
port = int(I.get("agent_port", 8001))
socks = []
for _ in range(16):
    s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
    s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % port)
    head = s.recv(200)
    if b" 200 " not in head.split(b"\r\n")[0]:
        print("tunnel refused: %r" % head[:80])
        break
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    socks.append(s)
sent, end, last = 0, time.monotonic() + 3, time.monotonic()
while socks and time.monotonic() < end and time.monotonic() - last < 1:
    for s in socks:
        try:
            sent += s.send(b"\x01")
            last = time.monotonic()
        except BlockingIOError:
            pass
if socks and time.monotonic() - last >= 1:
    print("CONTAINED: stalled after %d bytes on %d tunnels" % (sent, len(socks)))
else:
    print("sent %d bytes without stalling" % sent)
print("done", flush=True)
