"""sandpit-orchestrator with explicitly started agents (--agent): routing to the least loaded,
failover past a dead agent, no healthy agent, bare URLs, job queue bounds and retention."""
import socket
import threading
import time

import pytest

from orch_fixtures import AGENT_BIN, ORCH_BIN, Agent, agents_started, orch_maker, wait_until


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    if not (ORCH_BIN.exists() and AGENT_BIN.exists()):
        pytest.fail("build/sandpit-orchestrator or build/sandpit-agent missing: run `make`")
    started = agents_started(tmp_path_factory.mktemp("orch_agents"))
    yield started
    for ag in started:
        ag.stop()


@pytest.fixture
def make_orch(tmp_path):
    yield from orch_maker(tmp_path)


def test_explicit_agent(agents, make_orch):
    a = agents[0]
    o = make_orch("--agent", f"python,py={a.url}")
    h = o.health()
    assert h["status"] == "ok", h
    assert len(h["agents"]) == 1, h
    ag = h["agents"][0]
    assert ag["url"] == a.url and ag["spawned"] is False and "pid" not in ag, ag
    assert ag["languages"] == ["python"], ag
    res = o.run_ok("print('explicit')", language="py")
    assert res["process_status"] == "completed" and res["stdout"] == "explicit\n", res
    assert res["agent"] == a.url, res
    # The full contract through an explicit agent too.
    res = o.run_ok("1/0")
    assert res["process_status"] == "error", res
    assert res["stderr"].endswith("ZeroDivisionError: division by zero\n"), res


def test_bare_url_learns_languages(agents, make_orch):
    o = make_orch("--agent", agents[1].url)
    # whatever runtimes the agent reports in /health, python among them
    st, res, _ = agents[1].get("/health")
    assert o.get("/languages")[1] == {"languages": sorted(res["languages"])}
    assert "python" in res["languages"]
    assert o.run_ok("print(3)")["stdout"] == "3\n"


def test_least_loaded_agent_gets_the_request(agents, make_orch):
    a, b = agents
    # Tool calls without a workspace: those of one workspace all go to its agent
    # (test_orch_workspaces.py).
    o = make_orch("--agent", f"python={a.url}", "--agent", f"python={b.url}",
                  "--toolcall-workspace", "none")
    slow = {}

    def run_slow():
        slow["res"] = o.run_ok("import time\ntime.sleep(2)\nprint('slow')", timeout=10)

    t = threading.Thread(target=run_slow)
    t.start()
    try:
        busy = wait_until(lambda: [x for x in o.health()["agents"] if x["in_flight"] == 1], 5)
        assert len(busy) == 1, o.health()
        busy_url = busy[0]["url"]
        idle_url = b.url if busy_url == a.url else a.url
        for _ in range(4):
            res = o.run_ok("print('quick')")
            assert res["process_status"] == "completed", res
            assert res["agent"] == idle_url, (res, busy_url)
    finally:
        t.join(15)
    assert slow["res"]["stdout"] == "slow\n" and slow["res"]["agent"] == busy_url, slow
    # Both idle again: requests spread over both agents.
    seen = {o.run_ok("1")["agent"] for _ in range(6)}
    assert seen == {a.url, b.url}, seen


def test_dead_agent_is_skipped(agents, tmp_path, make_orch):
    victim = Agent(tmp_path / "victim", "--preload=")
    try:
        # Health checks far apart: the request path itself must notice the dead agent.
        # Calls routed by load (no shared tool-call workspace, which would pin them all to the
        # agent its name ranks first: test_orch_workspaces covers that failover).
        o = make_orch("--agent", f"python={victim.url}", "--agent", f"python={agents[1].url}",
                      "--health-interval", "30", "--toolcall-workspace", "none")
        assert o.health()["status"] == "ok"
        victim.proc.kill()
        victim.proc.wait()
        for _ in range(6):
            res = o.run_ok("print('survivor')")
            assert res["process_status"] == "completed", res
            assert res["agent"] == agents[1].url, res
        h = o.health()
        dead = [x for x in h["agents"] if x["url"] == victim.url][0]
        assert dead["state"] == "down" and dead["failures"] >= 1 and dead["last_error"], dead
        assert h["status"] == "degraded", h
        assert h["languages"] == ["python"], h
        assert "retrying on agent" in o.log_text(), o.log_text()
    finally:
        victim.stop()


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_no_healthy_agent(make_orch):
    o = make_orch("--agent", f"python=http://127.0.0.1:{_closed_port()}", "--start-timeout", "5")
    h = o.health()
    assert h["status"] == "down" and h["agents"][0]["state"] == "down", h
    assert h["languages"] == [], h
    st, res, _ = o.execute("print(1)")
    assert st == 503, res
    assert res["process_status"] == "error" and res["stdout"] == "", res
    assert "python" in res["stderr"] and "no healthy agent" in res["stderr"], res
    assert res["error"]["code"] == "no_healthy_agent", res
    st, res, _ = o.execute("print(1)", language="ruby")
    assert st == 400 and "ruby" in res["stderr"], res
    # a job fails with the same reason
    jid = o.submit_job("print(1)")
    st = o.wait_job(jid)
    assert st["status"] == "failed" and "no healthy agent" in st["error"], st


def test_agent_coming_back_is_used_again(tmp_path, make_orch):
    port = _closed_port()
    o = make_orch("--agent", f"python=http://127.0.0.1:{port}", "--start-timeout", "5",
                  "--health-interval", "0.2")
    assert o.execute("1")[0] == 503
    ag = Agent(tmp_path / "late", "--preload=", port=port)
    try:
        assert wait_until(lambda: o.health()["status"] == "ok", 10), o.health()
        assert o.run_ok("print('back')")["stdout"] == "back\n"
    finally:
        ag.stop()


def test_job_queue_is_bounded(agents, make_orch):
    o = make_orch("--agent", f"python={agents[0].url}", "--job-workers", "1", "--job-queue", "1")
    sleeper = "import time\ntime.sleep(30)\n"
    first = o.submit_job(sleeper)
    o.wait_job(first, statuses=("running",))
    second = o.submit_job(sleeper)
    assert o.get(f"/api/status/{second}")[1]["status"] == "queued"
    st, res, hdrs = o.post("/api/run", {"language": "python", "code": sleeper})
    assert st == 503, res
    assert hdrs.get("retry-after"), hdrs
    assert res["error"]["code"] == "busy", res
    # cancelling the queued one frees its place at once; it never ran
    st, res, _ = o.post(f"/api/cancel/{second}")
    assert st == 200 and res["status"] == "cancelled", res
    assert o.get(f"/api/status/{second}")[1].get("executionId") is None
    third = o.submit_job("print('third')")
    st, res, _ = o.post(f"/api/cancel/{first}")
    assert st == 200 and res["status"] == "cancelled", res
    assert o.wait_job(third)["status"] == "completed"
    assert o.health()["jobs"]["rejected"] == 1


def test_finished_jobs_are_evicted_past_max_jobs(agents, make_orch):
    o = make_orch("--agent", f"python={agents[0].url}", "--max-jobs", "2")
    ids = []
    for i in range(4):
        ids.append(o.submit_job(f"print({i})"))
        o.wait_job(ids[-1])
    st, res, _ = o.get("/api/jobs")
    assert [j["jobId"] for j in res["jobs"]] == ids[:1:-1], res
    assert o.get(f"/api/status/{ids[0]}")[0] == 404
    assert o.get(f"/api/logs/{ids[3]}")[0] == 200
    assert o.health()["jobs"]["evicted"] == 2
