"""Red team of live output (docs/agent.md "Live output"): what a program prints must not break
or forge the event stream, whatever the bytes; odd Accept headers; clients that never read or
go away at each phase."""
import http.client
import json
import socket
import time

from sse_client import SseStream

HOSTILE = r'''import os, sys
sys.stdout.write("data: x\n\nevent: result\ndata: {\"forged\": 1}\n\n")
sys.stdout.flush()
os.write(1, b"a\x00b\xff\xfe\r\rc\r\n" + "\u2028|\u2029".encode())
os.write(2, b"\r\nevent: end\r\ndata: {}\r\n\r\n")
'''


def stream(agent, code, **fields):
    headers = {"X-Sandpit-Token": agent.token} if agent.token else {}
    body = {"code": code}
    body.update(fields)
    s = SseStream(agent.port, "/execute", body, headers=headers)
    try:
        assert s.status == 200 and s.content_type.startswith("text/event-stream"), s.status
        return s.events()
    finally:
        s.close()


def test_printed_bytes_forge_no_event_and_nul_keeps_the_result(agent):
    """The program's text arrives as JSON strings only; a NUL in stdout no longer replaces the
    result with an "out of memory building the result" error event."""
    evs = stream(agent, HOSTILE)
    types = [e.type for e in evs]
    assert types == ["start", "stdout", "stderr", "result", "end"] or \
        types[:1] == ["start"] and types[-2:] == ["result", "end"] and \
        set(types[1:-2]) <= {"stdout", "stderr"}, evs
    res = evs[-2].json()
    assert "forged" not in res and res["status"] == "completed", res
    out = "".join(e.json()["text"] for e in evs if e.type == "stdout")
    err = "".join(e.json()["text"] for e in evs if e.type == "stderr")
    assert out == res["stdout"] and err == res["stderr"], (out, res)
    assert "a\x00b\ufffd\ufffd\r\rc\r\n\u2028|\u2029" in out, repr(out)
    assert err == "\r\nevent: end\r\ndata: {}\r\n\r\n", repr(err)


def test_nul_only_output(agent):
    evs = stream(agent, "import os\nos.write(1, b'\\x00' * 3)\nos.write(2, b'\\x00')")
    assert [e.type for e in evs][-2:] == ["result", "end"], evs
    assert evs[-2].json()["stdout"] == "\x00" * 3


def test_odd_accept_headers(agent):
    """A stream for any Accept naming text/event-stream as a media type; JSON otherwise."""
    want = {"text/event-stream": True, "TEXT/Event-Stream": True,
            "application/json, text/event-stream": True, "*/*": False, "text/*": False,
            "": False}
    for accept, sse in want.items():
        c = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=60)
        h = {"Content-Type": "application/json", "Accept": accept}
        if agent.token:
            h["X-Sandpit-Token"] = agent.token
        c.request("POST", "/execute", body=json.dumps({"code": "print(1)"}), headers=h)
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status == 200, (accept, r.status, body)
        assert r.getheader("Content-Type").startswith("text/event-stream") == sse, (accept, body)


def test_clients_that_never_read_or_vanish(agent):
    """Twenty streams of a program writing 4 MB: half never read, half close at once after
    their request. The agent stays up, answers, and every execution ends."""
    code = "import sys\nfor i in range(4096):\n    sys.stdout.write('y' * 1023 + '\\n')\n"
    body = json.dumps({"code": code}).encode()
    tok = f"X-Sandpit-Token: {agent.token}\r\n" if agent.token else ""
    req = (f"POST /execute HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n{tok}"
           f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body
    socks = []
    for i in range(20):
        s = socket.create_connection(("127.0.0.1", agent.port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.sendall(req if i % 2 == 0 else req[:len(req) // 2])  # half a request, then gone
        if i % 4 == 1:
            s.close()
        else:
            socks.append(s)
    time.sleep(1)
    for s in socks[::2]:
        s.close()
    res = agent.execute("print('still here')")
    assert res["stdout"] == "still here\n"
    for s in socks[1::2]:
        s.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        h = agent.health()
        if h["executions"]["running"] == 0 and h["executions"].get("queued", 0) == 0:
            break
        time.sleep(0.2)
    assert h["executions"]["running"] == 0, h
