"""Live output through the orchestrator (docs/orchestrator.md "Live output"): POST /api/v1/execute
and the NVIDIA POST /execute with Accept: text/event-stream pass the agent's events through;
GET /api/logs/{id}?follow=1 streams a job's log lines until its end. Read with the independent
client of sse_client.py."""

import pytest

from orch_fixtures import log_on_failure, module_orch
from sse_client import SseStream


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    yield from module_orch(tmp_path_factory, "orch_sse", "--log-level", "debug")


@pytest.fixture(autouse=True)
def _logs(orch):
    yield
    log_on_failure(orch)


def texts(events, kind):
    return "".join(e.json()["text"] for e in events if e.type == kind)


CODE = ("import sys, time\nprint('first', flush=True)\ntime.sleep(0.5)\n"
        "sys.stderr.write('oops\\n')\ndisplay('shown')\nprint('second')\n")


def test_v1_execute_streams_the_agents_events(orch):
    s = SseStream(orch.port, "/api/v1/execute", {"code": CODE, "language": "python"})
    assert s.status == 200 and s.content_type.startswith("text/event-stream")
    assert s.resp.getheader("X-Request-Id")
    first = s.next_event()
    assert first.type == "start"
    ev = s.next_event()
    assert ev.type == "stdout" and ev.json()["text"] == "first\n"
    rest = s.events()
    kinds = [e.type for e in rest]
    assert kinds[-3:] == ["display", "result", "end"], kinds
    res = rest[-2].json()
    assert res["status"] == "completed" and res["execution_id"] == first.json()["execution_id"]
    assert "first\n" + texts(rest, "stdout") == res["stdout"] == "first\nsecond\n"
    assert texts(rest, "stderr") == res["stderr"] == "oops\n"
    # The chunk came while the program still ran: half a second before the result.
    assert rest[-2].t - ev.t > 0.3


def test_nvidia_execute_streams_too(orch):
    evs = SseStream(orch.port, "/execute", {"generated_code": "print('nv')", "timeout": 10}).events()
    assert [e.type for e in evs][-2:] == ["result", "end"]
    assert texts(evs, "stdout") == "nv\n"


def test_errors_before_the_run_are_json(orch):
    s = SseStream(orch.port, "/api/v1/execute", {"code": "print(1)", "language": "cobol"})
    assert s.status == 400 and s.content_type.startswith("application/json")
    assert s.body_json()["error"]["field"] == "language"
    s = SseStream(orch.port, "/api/v1/execute?keepalive=abc", {"code": "print(1)"})
    assert s.status == 400 and s.body_json()["error"]["field"] == "keepalive"


def test_plain_clients_unchanged(orch):
    st, body, hdrs = orch.post("/api/v1/execute", {"code": "print('p')", "language": "python"})
    assert st == 200 and hdrs["content-type"] == "application/json", body
    assert body["stdout"] == "p\n"


def test_slow_client_gets_every_byte(orch):
    """Our client reads nothing for a while on a small receive buffer: the orchestrator pauses
    its agent transfer instead of queueing (bounded queue), and when the client reads again the
    stream carries every byte, in order."""
    code = ("import sys\nfor i in range(400):\n"
            "    sys.stdout.write(f'{i:06d}' + 'z' * 1993 + '\\n'); sys.stdout.flush()\n")
    s = SseStream(orch.port, "/api/v1/execute", {"code": code}, rcvbuf=4096, read_delay=3)
    assert s.status == 200
    evs = s.events()
    res = evs[-2].json()
    assert res["status"] == "completed", res
    out = texts(evs, "stdout")
    assert out == res["stdout"] and len(out) == 400 * 2000
    assert [int(line[:6]) for line in out.splitlines()] == list(range(400))
    # The orchestrator did pause its agent transfer for this request (debug log).
    rid = s.resp.getheader("X-Request-Id")
    assert any(rid in line and "pausing the agent's transfer" in line
               for line in orch.log_text(tail_lines=100000).splitlines()), rid


def test_logs_follow_streams_until_the_end(orch):
    code = ("import time\nprint('job out', flush=True)\ntime.sleep(1.5)\nprint('done')\n")
    st, job, _ = orch.post("/api/run", {"language": "python", "code": code})
    assert st in (200, 202), job
    jid = job["jobId"]
    s = SseStream(orch.port, f"/api/logs/{jid}?follow=1", method="GET")
    assert s.status == 200 and s.content_type.startswith("text/event-stream")
    evs = s.events()
    kinds = [e.type for e in evs]
    assert kinds[-2:] == ["result", "end"], kinds
    logs = [e.json() for e in evs if e.type == "log"]
    assert logs and [l["index"] for l in logs] == list(range(len(logs)))
    final = evs[-2].json()
    assert final["status"] == "completed", final
    assert [l["line"] for l in logs] == final["logs"]
    assert final["result"]["stdout"] == "job out\ndone\n"
    # The stream lasted as long as the job: its first line came well before the end.
    assert evs[-2].t - evs[0].t > 0.8
    # The output came live, read from the agent while the job ran: 'job out' well before the
    # end, and the stdout events add up to the job's stdout.
    outs = [e for e in evs if e.type == "stdout"]
    assert outs and outs[0].json()["text"].startswith("job out"), kinds
    assert evs[-2].t - outs[0].t > 0.8, [(e.type, e.t) for e in evs]
    assert "".join(e.json()["text"] for e in outs) in ("job out\n", "job out\ndone\n")
    # A finished job's follow ends at once with the same result; an unknown one is a 404.
    evs = SseStream(orch.port, f"/api/logs/{jid}?follow=1", method="GET").events()
    assert [e.type for e in evs][-2:] == ["result", "end"]
    s = SseStream(orch.port, "/api/logs/00000000-0000-4000-8000-000000000000?follow=1",
                  method="GET")
    assert s.status == 404 and s.content_type.startswith("application/json")
