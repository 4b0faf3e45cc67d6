"""Live output as server-sent events on the agent (docs/agent.md "Live output"): POST /execute
and POST /sessions/{id}/execute with Accept: text/event-stream. The stream is read with the
independent client of sse_client.py (WHATWG parsing rules, nothing of sandpit's encoder)."""
import os
import time

import pytest

from conftest import wait_until
from sse_client import SseParser, SseStream


def stream(agent, body, path="/execute", **kw):
    headers = {"X-Sandpit-Token": agent.token} if agent.token else {}
    return SseStream(agent.port, path, body, headers=headers, **kw)


def texts(events, kind):
    return "".join(e.json()["text"] for e in events if e.type == kind)


ORDER_CODE = r"""
import sys, time
print("one", flush=True)
sys.stderr.write("warn\n"); sys.stderr.flush()
time.sleep(0.3)
print("two\nthree", flush=True)
display({"k": 1})
print("last")
"""


def test_sse_parser_follows_the_standard():
    # The test client's own parser: CR, LF and CRLF line ends, comments, a missing space,
    # multi-line data, and an event with no data that is not dispatched.
    p = SseParser()
    evs = p.feed("event: a\r\ndata: x\rdata:y\n\n: ping\n\nevent: nodata\n\ndata: z\n")
    evs += p.feed("\n")
    assert [(e.type, e.data) for e in evs] == [("a", "x\ny"), ("message", "z")]
    assert [c for c, _ in p.comments] == [" ping"]


def test_sse_order_and_content(agent):
    s = stream(agent, {"code": ORDER_CODE, "timeout": 30})
    assert s.status == 200
    assert s.content_type.startswith("text/event-stream")
    evs = s.events()
    kinds = [e.type for e in evs]
    assert kinds[0] == "start" and kinds[-2:] == ["result", "end"], kinds
    first_display = kinds.index("display")
    # The program's output comes first, in order; display items after the program's end.
    assert all(k in ("stdout", "stderr") for k in kinds[1:first_display]), kinds
    assert kinds[first_display:-2] == ["display"], kinds
    res = evs[-2].json()
    assert res["status"] == "completed", res
    ex_id = evs[0].json()["execution_id"]
    assert res["execution_id"] == ex_id and evs[-1].json()["execution_id"] == ex_id
    assert texts(evs, "stdout") == res["stdout"] == "one\ntwo\nthree\nlast\n"
    assert texts(evs, "stderr") == res["stderr"] == "warn\n"
    # "one" went out before the sleep, as its own chunk: it was streamed, not sent at the end.
    assert [e.json()["text"] for e in evs if e.type == "stdout"][0] == "one\n"
    disp = evs[first_display].json()
    assert disp == res["outputs"][0] and disp["type"] == "display_data"


def test_sse_chunk_streamed_before_the_end(agent):
    # The first chunk arrives while the program still runs (it sleeps 2 s after printing).
    s = stream(agent, {"code": "import time\nprint('early', flush=True)\ntime.sleep(2)\n"})
    assert s.next_event().type == "start"
    ev = s.next_event()
    assert ev.type == "stdout" and ev.json()["text"] == "early\n"
    rest = s.events()
    assert rest[-1].type == "end"
    assert rest[-2].json()["execution_time"] >= 1.5
    # The result was not there yet when the chunk came: the run went on for 2 s after it.
    assert rest[-2].t - ev.t > 1.0


def test_sse_utf8_cut_between_flushes(agent):
    code = ("import sys, time\nb = sys.stdout.buffer\nb.write(b'x\\xc3'); b.flush()\n"
            "time.sleep(0.3)\nb.write(b'\\xa9 \\xff end\\n'); b.flush()\n")
    evs = stream(agent, {"code": code}).events()
    res = evs[-2].json()
    # The cut character is whole in the stream; the invalid byte is U+FFFD as in the result.
    assert texts(evs, "stdout") == res["stdout"] == "x\u00e9 \ufffd end\n"


def test_sse_session_cell(agent):
    st, sess, _ = agent.post("/sessions", {})
    assert st == 201, sess
    sid = sess["session_id"]
    try:
        st, r, _ = agent.post(f"/sessions/{sid}/execute", {"code": "x = 41"})
        assert st == 200 and r["status"] == "completed", r
        evs = stream(agent, {"code": "import time\nprint(x, flush=True)\ntime.sleep(0.2)\n"
                             "x += 1\nprint(x)"}, path=f"/sessions/{sid}/execute").events()
        assert [e.type for e in evs][0] == "start"
        assert evs[0].json()["session_id"] == sid
        res = evs[-2].json()
        assert evs[-2].type == "result" and res["session_id"] == sid, evs
        assert res["execution_count"] == 2
        assert texts(evs, "stdout") == "41\n42\n"
        # The session is idle again and kept the state.
        st, r, _ = agent.post(f"/sessions/{sid}/execute", {"code": "print(x)"})
        assert st == 200 and r["stdout"] == "42\n", r
    finally:
        agent.delete(f"/sessions/{sid}")


def test_sse_errors_before_the_run_are_json(agent):
    s = stream(agent, {"code": 1})
    assert s.status == 400 and s.content_type.startswith("application/json")
    assert s.body_json()["error"]["field"] == "code"
    s = stream(agent, {"code": "print(1)"}, path="/execute?keepalive=0")
    assert s.status == 400 and s.body_json()["error"]["field"] == "keepalive"
    s = stream(agent, {"code": "print(1)"}, path="/sessions/s-nosuchsession0/execute")
    assert s.status in (404, 410) and s.content_type.startswith("application/json")
    assert s.body_json()["error"]["code"]


def test_non_sse_clients_unchanged(agent):
    for accept in (None, "application/json", "*/*"):
        h = {"Accept": accept} if accept else {}
        st, r, hdrs = agent.post("/execute", {"code": "print('plain')"}, headers=h)
        assert st == 200 and r["stdout"] == "plain\n", r
        ctype = {k.lower(): v for k, v in dict(hdrs).items()}.get("content-type", "")
        assert ctype.startswith("application/json")
    # async stays async: 202 with the id, whatever Accept says.
    st, r, _ = agent.post("/execute", {"code": "print(1)", "async": True},
                          headers={"Accept": "text/event-stream"})
    assert st == 202 and r["status"] == "pending", r


def test_sse_keepalive_during_silence(agent):
    s = stream(agent, {"code": "import time\ntime.sleep(3.5)\nprint('after')"},
               path="/execute?keepalive=1")
    evs = s.events()
    assert evs[-1].type == "end"
    out = next(e for e in evs if e.type == "stdout")
    pings = [t for c, t in s.comments if c.strip() == "keep-alive"]
    # At least two keep-alives came during the 3.5 s silence, before the output.
    assert len([t for t in pings if t < out.t]) >= 2, s.comments


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_sse_client_disconnect_mid_stream(agent):
    """The policy: a client that goes away does not stop the execution; it runs to its end and
    is kept like any other (GET /execution/{id}). Nothing of the stream is left behind."""
    code = "import time\nfor i in range(6):\n    print(i, flush=True)\n    time.sleep(0.25)\n"
    ids = []
    base = fd_count(agent.pid)
    for _ in range(8):
        s = stream(agent, {"code": code})
        ids.append(s.next_event().json()["execution_id"])
        assert s.next_event().type == "stdout"
        s.close()  # mid-stream
    for ex_id in ids:
        st, r, _ = agent.get(f"/execution/{ex_id}?wait=30")
        assert st == 200 and r["status"] == "completed", r
        assert r["stdout"] == "".join(f"{i}\n" for i in range(6))
    # The agent notices each closed socket at its next write (the end's events at the latest)
    # and lets go of the connection: the descriptors come back.
    assert wait_until(lambda: fd_count(agent.pid) <= base + 2, 15), (base, fd_count(agent.pid))
    st, h, _ = agent.get("/health")
    assert st == 200


def vm_hwm_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


SLOW_CODE = r"""
import sys, time
chunk = "y" * 65535 + "\n"
total = 0
t0 = time.monotonic()
while time.monotonic() - t0 < 30:
    sys.stdout.write(chunk); sys.stdout.flush()
    total += len(chunk)
    time.sleep(0.005)
sys.stderr.write(f"wrote {total}\n")
"""


def test_sse_slow_reader_30s(make_agent):
    """The policy for a slow reader: drop beyond --max-output with a marker, never slow the
    program down nor buffer for the client. A client reads nothing for 30 s while the program
    prints at several MB/s; the agent's peak RSS stays bounded, the program was not held back,
    and the stream carries `truncated` where the bytes were dropped."""
    cap = 256 * 1024
    ag = make_agent(max_output_bytes=cap)
    s = stream(ag, {"code": SLOW_CODE, "timeout": 90}, timeout=120)
    assert s.next_event().type == "start"
    hwm0 = vm_hwm_kb(ag.pid)
    time.sleep(31)  # reads nothing
    evs = s.events()
    assert [e.type for e in evs][-2:] == ["result", "end"]
    res = evs[-2].json()
    wrote = int(res["stderr"].split()[1])
    # The program kept its pace: far more than the cap went out while nobody read.
    assert wrote > 20 * cap, res["stderr"]
    assert res["stdout_truncated"] is True
    out = texts(evs, "stdout")
    assert len(out) <= cap and res["stdout"].startswith(out[:1000])
    marks = [e for e in evs if e.type == "truncated"]
    assert [m.json()["stream"] for m in marks] == ["stdout"]
    assert marks[0].json()["kept_bytes"] == len(out)
    # The marker sits where the bytes were dropped: after the last stdout chunk.
    kinds = [e.type for e in evs]
    assert kinds.index("truncated") > max(i for i, k in enumerate(kinds) if k == "stdout")
    # Peak RSS grew by far less than what the program wrote (a few MB of slack for threads).
    grew_kb = vm_hwm_kb(ag.pid) - hwm0
    assert grew_kb * 1024 < wrote / 4 and grew_kb < 48 * 1024, (grew_kb, wrote)
