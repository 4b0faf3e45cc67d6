"""Issue 13, the agent's parts: where a timeout happened (13), /adjust-processor's answers and
its state-directory lock (8), simulateMemoryLeak ends the execution as oom (10), the agent's
--help and GET / (11)."""
import subprocess
import time

import pytest

from conftest import AGENT_BIN
from test_adjust import Backend, items

UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def short(res):
    return {k: v for k, v in res.items() if k != "debug_info"}


# -- 8: /adjust-processor ------------------------------------------------------------------------

def test_adjust_rejected_first_attempt_answers_a_rejection(make_agent):
    be = Backend(codes=[422])
    try:
        ag = make_agent(backend_url=be.url)
        st, body, _ = ag.post("/adjust-processor", {"processor_id": "p-rej",
                                                    "adjustments": {"cpu": -1}})
        assert st == 422, body
        assert body["status"] == "rejected" and body["http_status"] == 422, body
        assert body["error"]["field"] == "adjustments" and "422" in body["error"]["message"]
        (it,) = items(ag)
        assert it["id"] == body["id"] and it["state"] == "rejected"
    finally:
        be.stop()


def test_adjust_retryable_failure_is_queued_with_its_reason(make_agent):
    be = Backend(codes=[503])
    try:
        ag = make_agent(backend_url=be.url)
        st, body, _ = ag.post("/adjust-processor", {"processor_id": "p-5xx",
                                                    "adjustments": {"a": 1}})
        assert st == 202 and body["status"] == "queued", body
        assert body["http_status"] == 503 and "503" in body["last_error"], body
    finally:
        be.stop()


def test_adjust_without_backend_says_so(make_agent):
    ag = make_agent()
    st, body, _ = ag.post("/adjust-processor", {"processor_id": "p-nb", "adjustments": {"a": 1}})
    assert st == 202 and body["status"] == "queued", body
    assert "no backend is configured" in body["last_error"], body
    (it,) = items(ag)
    assert it["state"] == "pending" and "no backend is configured" in it["last_error"], it


def test_state_dir_is_locked_against_a_second_agent(make_agent, tmp_path):
    state = tmp_path / "one-state"
    ag = make_agent(state_dir=str(state))
    p = subprocess.run([str(AGENT_BIN), "--port", "0", "--state-dir", str(state),
                        "--work-dir", str(tmp_path / "w2")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert str(state) in p.stderr and "in use by another agent" in p.stderr, p.stderr
    assert ag.health()["status"] == "ok"
    # Once the first agent has gone, the directory is free again.
    assert ag.terminate() == 0
    ag2 = make_agent(state_dir=str(state))
    assert ag2.health()["status"] == "ok"


# -- 11: --help and GET / ------------------------------------------------------------------------

def test_help_names_no_future_languages():
    out = subprocess.run([str(AGENT_BIN), "--help"], capture_output=True, text=True,
                         timeout=10).stdout
    assert "later other languages" not in out
    assert "--languages" in out


def test_root_lists_every_endpoint_it_serves(agent):
    st, body, _ = agent.get("/")
    assert st == 200, body
    eps = body["endpoints"]
    assert "POST /adjust-processor" in eps and "GET /adjustments" in eps, eps
    for ep in eps:
        method, path = ep.split(" ", 1)
        path = path.replace("{id}", UUID)
        # Each one is served: anything but "no such endpoint" / "method not allowed".
        st, rbody, _ = agent.request(method, path, {} if method == "POST" else None)
        assert st not in (405,), (ep, st, rbody)
        assert st != 404 or "Execution not found" in str(rbody), (ep, st, rbody)


# -- 10: simulateMemoryLeak ----------------------------------------------------------------------

def test_memory_leak_ends_the_program_as_oom(agent):
    code = 'import time\nprint("start", flush=True)\ntime.sleep(8)\nprint("end")\n'
    scn = {"simulateMemoryLeak": True, "leakMbPerSec": 400, "memoryLimitMb": 200}
    t0 = time.monotonic()
    res = agent.execute(code, timeout=20, scenario=scn)
    wall = time.monotonic() - t0
    iso = agent.health().get("isolation") or {}
    mem = iso.get("cgroup_memory")
    if not (mem.get("on") if isinstance(mem, dict) else mem):
        pytest.skip("no memory cgroup here: the leak ends as signaled (documented)")
    assert res["status"] == "failed" and res["exit_reason"] == "oom", short(res)
    assert res["stdout"] == "start\n", short(res)  # it never got to "end"
    assert wall < 6, wall
