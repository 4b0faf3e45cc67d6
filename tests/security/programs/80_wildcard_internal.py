"""Attacks: allowHosts ["*"] (run with that scenario) used to reach our own unauthenticated
APIs and private networks through the execution's proxy: the agent's port on loopback in every
spelling (127.0.0.1, localhost, 127.1, 2130706433, 0x7f000001, ::1, ::ffff:127.0.0.1,
0.0.0.0), CONNECT to it, cloud metadata, RFC 1918, CGNAT, ULA and link-local addresses.

Expected containment: a wildcard never includes loopback, private, CGNAT, link-local, ULA or
other special ranges (judged on the literal and on what a name resolves to): each request is a
403 from the proxy ("CONTAINED" for each); nothing is ever connected.
"""
import socket
import urllib.error
import urllib.request

I = globals().get("input_data") or {}
port = int(I.get("agent_port", 8001))
opener = urllib.request.build_opener(urllib.request.ProxyHandler(
    {"http": "http://127.0.0.1:3128"}))
targets = ["127.0.0.1:%d" % port, "localhost:%d" % port, "127.1:%d" % port,
           "2130706433:%d" % port, "0x7f000001:%d" % port, "[::1]:%d" % port,
           "[::ffff:127.0.0.1]:%d" % port, "0.0.0.0:%d" % port, "169.254.169.254",
           "10.0.0.1", "172.17.0.1", "192.168.0.1", "100.64.0.1", "[fd00::1]", "[fe80::1]",
           "198.18.0.1", "[64:ff9b::a00:1]", "[2002:a00:1::1]"]
for t in targets:
    try:
        with opener.open("http://%s/executions" % t, timeout=10) as r:
            print("BREACH: %s answered %d: %r" % (t, r.status, r.read(200)))
    except urllib.error.HTTPError as e:
        body = e.read(300).decode(errors="replace")
        if e.code == 403 and "internal address" in body:
            print("CONTAINED: %s: 403 %s" % (t, body.strip()[:120]))
        else:
            print("BREACH: %s answered %d (not refused by the allow-list): %r" % (t, e.code, body))
    except OSError as e:
        print("BREACH: %s: the proxy did not refuse it: %s" % (t, e))
s = socket.create_connection(("127.0.0.1", 3128), timeout=10)
s.sendall(b"CONNECT 127.0.0.1:%d HTTP/1.1\r\nHost: x\r\n\r\n" % port)
line = s.recv(200).split(b"\r\n")[0]
print(("CONTAINED: CONNECT: %r" if b" 403 " in line else "BREACH: CONNECT: %r") % line)
print("done", flush=True)
