"""With API keys configured, nothing created under a key is readable, listable or cancellable
without that key (issue 17 item 7): the job API (/api/*) wants a key like /api/v1 does (401
without one), and a job made under key A is "not found" (404, existence not revealed) for key B.
"""
import uuid

import pytest

from orch_fixtures import AGENT_BIN, ORCH_BIN, Orchestrator, log_on_failure

KEY_A = "key-a-" + uuid.uuid4().hex
KEY_B = "key-b-" + uuid.uuid4().hex
A = {"X-API-Key": KEY_A}
B = {"X-API-Key": KEY_B}
SLOW = "import time\nprint('secret-output', flush=True)\ntime.sleep(20)\n"


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    if not (ORCH_BIN.exists() and AGENT_BIN.exists()):
        pytest.fail("build/sandpit-orchestrator or build/sandpit-agent missing: run `make`")
    o = Orchestrator(tmp_path_factory.mktemp("orch_keys"),
                     env_extra={"SANDPIT_API_KEYS": f"{KEY_A},{KEY_B}"})
    yield o
    log_on_failure(o)
    assert o.stop() == 0


def _job(orch, path, body):
    st, res, _ = orch.post(path, body, headers=A)
    assert st == 202, (st, res)
    return res.get("jobId") or res["execution_id"]


def _reads(jid):
    return [("GET", f"/api/status/{jid}"), ("GET", f"/api/logs/{jid}"),
            ("GET", f"/api/v1/status/{jid}"), ("GET", f"/api/v1/execute/status/{jid}")]


def test_creating_needs_a_key(orch):
    for path in ("/api/run", "/api/v1/execute/async"):
        st, res, _ = orch.post(path, {"code": "print(1)"})
        assert st == 401 and res["error"]["field"] == "X-API-Key", (path, st, res)


@pytest.mark.parametrize("create", ["/api/run", "/api/v1/execute/async"])
def test_a_keyed_job_is_only_its_keys(orch, create):
    jid = _job(orch, create, {"code": SLOW, "timeout": 30})
    other = orch.post("/api/run", {"code": "print(2)"}, headers=B)[1]["jobId"]
    for method, path in _reads(jid) + [("POST", f"/api/cancel/{jid}")]:
        st, res, _ = orch.request(method, path)
        assert st == 401 and res["error"]["code"] == "unauthorized", (path, st, res)
        st, res, _ = orch.request(method, path, headers={"X-API-Key": "not-a-key"})
        assert st == 401, (path, st, res)
        st, res, _ = orch.request(method, path, headers=B)
        assert st == 404, (path, st, res)
        assert "secret-output" not in str(res) and "running" not in str(res), res
    # Listings: only the caller's own jobs.
    st, res, _ = orch.get("/api/jobs")
    assert st == 401, res
    ids_b = {j["jobId"] for j in orch.get("/api/jobs", headers=B)[1]["jobs"]}
    ids_a = {j["jobId"] for j in orch.get("/api/jobs", headers=A)[1]["jobs"]}
    assert jid in ids_a and jid not in ids_b and other in ids_b and other not in ids_a
    # The owner reads and cancels it; the stored key never shows.
    for method, path in _reads(jid):
        st, res, _ = orch.request(method, path, headers=A)
        assert st == 200, (path, st, res)
        assert KEY_A not in str(res) and "key" not in res, res
    st, res, _ = orch.post(f"/api/cancel/{jid}", headers=B)
    assert st == 404, res
    st, res, _ = orch.post(f"/api/cancel/{jid}", headers=A)
    assert st == 200 and res["status"] == "cancelled", res
    assert orch.get(f"/api/status/{jid}", headers=A)[1]["status"] == "cancelled"
    assert KEY_A not in orch.log_text(100000)


def test_no_keys_configured_keeps_the_job_api_open(tmp_path):
    o = Orchestrator(tmp_path / "open")
    try:
        st, res, _ = o.post("/api/run", {"code": "print(3)"})
        assert st == 202, res
        jid = res["jobId"]
        assert o.wait_job(jid)["status"] == "completed"
        assert o.get(f"/api/status/{jid}")[0] == 200
        assert jid in {j["jobId"] for j in o.get("/api/jobs")[1]["jobs"]}
    finally:
        log_on_failure(o)
        o.stop()
