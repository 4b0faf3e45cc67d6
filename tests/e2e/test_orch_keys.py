"""API keys on every door of the orchestrator (docs/operations.md "API keys"): a keys file with
per-key limits (requests per second, executions at once, largest timeout, sessions), 429 with
Retry-After and the limit's name, keys given as X-API-Key or Authorization: Bearer, the probes
and /metrics open, what a key creates visible to it only, digests in the file, a readable file
refused."""
import hashlib
import os
import subprocess
import threading

import pytest

from orch_fixtures import AGENT_BIN, ORCH_BIN, Agent, orch_maker, wait_until

A, B, SLOW, HASHED = "key-a-" + "x" * 20, "key-b-" + "y" * 20, "key-slow-0123456789", "s3cret-z"
SLEEP = "import time\ntime.sleep(3)\nprint('done')"


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    if not (ORCH_BIN.exists() and AGENT_BIN.exists()):
        pytest.fail("build/sandpit-orchestrator or build/sandpit-agent missing: run `make`")
    ag = Agent(tmp_path_factory.mktemp("keys_agent"), "--preload=")
    yield ag
    ag.stop()


def keys_file(path):
    digest = hashlib.sha256(HASHED.encode()).hexdigest()
    path.write_text(f"# tenants\n{A} name=team-a rps=3 burst=3 max_timeout=5 sessions=1\n"
                    f"{B} name=team-b concurrent=1\n"
                    f"{SLOW} name=slow\n"
                    f"sha256:{digest} name=hashed\n")
    path.chmod(0o600)
    return path


@pytest.fixture
def orch(agent, tmp_path):
    made = orch_maker(tmp_path)
    make = next(made)
    yield make("--agent", f"python={agent.url}", "--api-keys-file", str(keys_file(tmp_path / "keys")))
    next(made, None)


def hdr(key):
    return {"X-API-Key": key}


def test_every_door_wants_a_key(orch):
    for method, path, body in (("POST", "/execute", {"generated_code": "print(1)", "timeout": 5}),
                               ("POST", "/api/run", {"code": "print(1)"}),
                               ("POST", "/api/v1/execute", {"code": "print(1)"}),
                               ("POST", "/api/v1/sessions", {}),
                               ("GET", "/api/jobs", None), ("GET", "/no/such/path", None)):
        st, res, _ = orch.request(method, path, body)
        assert st == 401 and res["error"]["field"] == "X-API-Key", (path, st, res)
        st, res, _ = orch.request(method, path, body, headers=hdr("not-a-key"))
        assert st == 401, (path, st, res)
    for path in ("/health", "/health/live", "/health/ready", "/metrics", "/", "/api/v1/health"):
        assert orch.get(path)[0] == 200, path
    # Either header; the key given as its digest in the file works by its text.
    assert orch.execute("print(1)", headers=hdr(SLOW))[1]["process_status"] == "completed"
    st, res, _ = orch.execute("print(1)", headers={"Authorization": f"Bearer {HASHED}"})
    assert st == 200 and res["process_status"] == "completed", res
    log = orch.log_text(100000)
    assert A not in log and HASHED not in log


def test_rate_limit_answers_429_with_retry_after(orch):
    codes = []
    for _ in range(8):
        st, res, hdrs = orch.get("/api/jobs", headers=hdr(A))
        codes.append(st)
        if st == 429:
            assert res["error"]["code"] == "rate_limited" and res["error"]["limit"] == "rps", res
            assert int(hdrs["retry-after"]) >= 1, hdrs
            break
    assert 429 in codes and codes.index(429) >= 3, codes
    # Another key has its own bucket.
    assert orch.get("/api/jobs", headers=hdr(B))[0] == 200


def test_largest_timeout(orch):
    st, res, _ = orch.execute("print(1)", headers=hdr(A), timeout=10)
    assert st == 400 and res["error"]["field"] == "timeout" and "5" in res["error"]["message"], res


def test_concurrent_executions(orch, agent):
    out = []
    t = threading.Thread(target=lambda: out.append(orch.execute(SLEEP, headers=hdr(B))))
    t.start()
    try:
        assert wait_until(lambda: agent.get("/health")[1]["executions"]["running"] == 1, 20)
        st, res, hdrs = orch.execute("print(2)", headers=hdr(B))
        assert st == 429 and res["error"]["limit"] == "concurrent", (st, res)
        assert int(hdrs["retry-after"]) >= 1, hdrs
        # Jobs count too: with one running, a job of the same key is refused.
        st, res, _ = orch.post("/api/run", {"code": "print(3)"}, headers=hdr(B))
        assert st == 429 and res["error"]["limit"] == "concurrent", (st, res)
        # Another key is not held back by B's.
        assert orch.execute("print(4)", headers=hdr(SLOW))[0] == 200
    finally:
        t.join(30)
    assert out[0][0] == 200 and out[0][1]["stdout"] == "done\n", out


def test_sessions_limit_and_isolation(orch):
    st, s1, _ = orch.post("/api/v1/sessions", {}, headers=hdr(A))
    assert st == 201, s1
    st, res, _ = orch.post("/api/v1/sessions", {}, headers=hdr(A))
    assert st == 429 and res["error"]["limit"] == "sessions", res
    # B cannot see or delete A's session.
    sid = s1["session_id"] if "session_id" in s1 else s1["id"]
    assert orch.get(f"/api/v1/sessions/{sid}", headers=hdr(B))[0] == 404
    assert orch.delete(f"/api/v1/sessions/{sid}", headers=hdr(B))[0] == 404
    assert orch.delete(f"/api/v1/sessions/{sid}", headers=hdr(A))[0] in (200, 204)
    # A job of B's is not A's to read or cancel.
    st, job, _ = orch.post("/api/run", {"code": "print(5)"}, headers=hdr(SLOW))
    assert st == 202, job
    assert orch.get(f"/api/status/{job['jobId']}", headers=hdr(B))[0] == 404
    assert orch.post(f"/api/cancel/{job['jobId']}", headers=hdr(B))[0] == 404
    st, text, _ = orch.get("/metrics")
    assert 'sandpit_orch_key_rejections_total{key="team-a"}' in text, text


def test_a_keys_file_others_can_read_is_refused(tmp_path):
    path = keys_file(tmp_path / "keys")
    os.chmod(path, 0o644)
    p = subprocess.run([str(ORCH_BIN), "--api-keys-file", str(path), "--port", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "chmod 600" in p.stderr, (p.returncode, p.stderr)
    path.chmod(0o600)
    path.write_text("k rps=fast\n")
    p = subprocess.run([str(ORCH_BIN), "--api-keys-file", str(path), "--port", "0"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "line 1" in p.stderr, (p.returncode, p.stderr)
