"""Start and stop (docs/operations.md): /health/live and /health/ready on the agent, and the
drain after SIGTERM: ready says 503 and new executions and sessions get 503 shutting_down while
those running finish within --drain-s; what is still running then is cancelled with a status
that says so, and the agent exits 0 with nothing left behind."""
import signal
import threading

import pytest

from orch_fixtures import AGENT_BIN, Agent, descendants, orch_maker, wait_until


@pytest.fixture
def agent(tmp_path):
    if not AGENT_BIN.exists():
        pytest.fail("build/sandpit-agent missing: run `make`")
    ag = Agent(tmp_path / "agent", "--preload=", "--drain-s", "20")
    yield ag
    ag.stop()


def test_live_and_ready(agent):
    st, body, _ = agent.get("/health/live")
    assert (st, body) == (200, {"status": "live"})
    st, body, _ = agent.get("/health/ready")
    assert (st, body) == (200, {"status": "ready"})


def post_in_thread(agent, body, out):
    def run():
        out.append(agent.post("/execute", body, timeout=60))

    t = threading.Thread(target=run)
    t.start()
    return t


def test_sigterm_drains_then_exits(agent):
    # One that finishes within the grace, one that sleeps past the end of the test's patience
    # is not needed: this agent's grace (20 s) outlasts the 2 s run.
    short = []
    t = post_in_thread(agent, {"code": "import time\ntime.sleep(2)\nprint('finished')",
                               "timeout": 30}, short)
    assert wait_until(lambda: agent.get("/health")[1]["executions"]["running"] == 1, 10)
    agent.signal(signal.SIGTERM)
    # Ready turns 503 at once; live and reads stay 200; new work is refused with 503.
    assert wait_until(lambda: agent.get("/health/ready")[0] == 503, 5)
    st, body, _ = agent.get("/health/ready")
    assert body["status"] == "not_ready" and "draining" in body["reason"], body
    assert agent.get("/health/live")[0] == 200
    assert agent.get("/health")[1]["status"] == "draining"
    st, body, _ = agent.post("/execute", {"code": "print(1)"}, timeout=10)
    assert st == 503 and body["error"]["code"] == "shutting_down", (st, body)
    st, body, _ = agent.post("/sessions", {}, timeout=10)
    assert st == 503 and body["error"]["code"] == "shutting_down", (st, body)
    t.join(30)
    st, res, _ = short[0]
    assert st == 200 and res["status"] == "completed" and res["stdout"] == "finished\n", res
    assert agent.wait_exit(20) == 0, agent.log_text()
    assert descendants(agent.proc.pid) == []


def sleeping_run(ag):
    """A 60 s execution in a thread, running once this returns: (thread, [reply])."""
    out = []
    t = post_in_thread(ag, {"code": "import time\ntime.sleep(60)", "timeout": 120}, out)
    assert wait_until(lambda: ag.get("/health")[1]["executions"]["running"] == 1, 10)
    return t, out


def test_grace_over_cancels_with_a_clear_status(tmp_path):
    ag = Agent(tmp_path / "agent", "--preload=", "--drain-s", "1")
    try:
        t, out = sleeping_run(ag)
        ag.signal(signal.SIGTERM)
        t.join(30)
        st, res, _ = out[0]
        assert st == 200 and res["status"] == "cancelled", res
        assert "shut down" in res["error"] and "--drain-s" in res["error"], res
        assert ag.wait_exit(20) == 0, ag.log_text()
        assert "drain over with 1 still running" in ag.log_text()
    finally:
        ag.stop()


def test_second_signal_ends_the_drain(tmp_path):
    ag = Agent(tmp_path / "agent", "--preload=", "--drain-s", "600")
    try:
        t, out = sleeping_run(ag)
        ag.signal(signal.SIGTERM)
        assert wait_until(lambda: ag.get("/health/ready")[0] == 503, 5)
        ag.signal(signal.SIGTERM)
        t.join(30)
        assert out and out[0][1]["status"] == "cancelled", out
        assert ag.wait_exit(20) == 0, ag.log_text()
    finally:
        ag.stop()


@pytest.fixture
def make_orch(tmp_path):
    yield from orch_maker(tmp_path, check_exit=False)


def test_orchestrator_ready_and_drain(tmp_path, make_orch):
    ag = Agent(tmp_path / "agent", "--preload=")
    try:
        o = make_orch("--agent", f"python={ag.url}", "--drain-s", "20")
        assert o.get("/health/live")[:2] == (200, {"status": "live"})
        st, body, _ = o.get("/health/ready")
        assert st == 200 and body["status"] == "ready" and body["agents_up"] == 1, body
        out = []
        t = threading.Thread(target=lambda: out.append(o.execute(
            "import time\ntime.sleep(2)\nprint('finished')")))
        t.start()
        assert wait_until(lambda: ag.get("/health")[1]["executions"]["running"] == 1, 10)
        o.signal(signal.SIGTERM)
        assert wait_until(lambda: o.get("/health/ready")[0] == 503, 5)
        assert "draining" in o.get("/health/ready")[1]["reason"]
        for path, body in (("/execute", {"generated_code": "print(1)", "timeout": 5}),
                           ("/api/run", {"language": "python", "code": "print(1)"}),
                           ("/api/v1/execute", {"language": "python", "code": "print(1)"})):
            st, res, _ = o.post(path, body, timeout=10)
            assert st == 503 and res["error"]["code"] == "shutting_down", (path, st, res)
        t.join(30)
        st, res, _ = out[0]
        assert st == 200 and res["process_status"] == "completed", res
        assert res["stdout"] == "finished\n", res
        assert o.wait_exit(20) == 0, o.log_text()
    finally:
        ag.stop()


def test_orchestrator_not_ready_without_agents(make_orch):
    # An agent URL nobody listens on: live, not ready.
    o = make_orch("--agent", "python=http://127.0.0.1:9", "--start-timeout", "0.5")
    assert o.get("/health/live")[0] == 200
    st, body, _ = o.get("/health/ready")
    assert st == 503 and body["reason"] == "no agent is up" and body["agents_up"] == 0, body
