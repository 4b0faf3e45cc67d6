"""Issue 13 items 9 and 11: the orchestrator's start-up window. Until an agent is up /health
says "starting", and a language the spawned agent will offer is never "unknown": the request
waits for it (bounded by --agent-wait) or gets 503 with Retry-After, in every dialect. The
start-up log says that (and why) it spawns.

The spawned agent is a wrapper that sleeps before it execs the real one, so the window is
long enough to observe on a loaded machine."""
import stat

import pytest

from orch_fixtures import AGENT_BIN, ORCH_BIN, Orchestrator, log_on_failure, wait_until

SLOW_START_S = 3
# bash is not in the orchestrator's guess of a spawned agent's runtimes (python): it is
# learned from the agent's /health, which is what the window is about.
LANG = "bash"


@pytest.fixture
def slow_agent_bin(tmp_path):
    if not ORCH_BIN.exists():
        pytest.fail(f"{ORCH_BIN} not found: run `make`")
    path = tmp_path / "slow-agent"
    path.write_text(f"#!/bin/sh\nsleep {SLOW_START_S}\nexec {AGENT_BIN} \"$@\"\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def start(tmp_path, agent_bin, *args):
    return Orchestrator(tmp_path / "o", f"--agent-bin={agent_bin}", "--spawn-arg=--preload=",
                        "--start-timeout", "0", *args)


def test_health_is_starting_until_an_agent_is_up(tmp_path, slow_agent_bin):
    o = start(tmp_path, slow_agent_bin)
    try:
        h = o.health()
        assert h["status"] == "starting" and h["agents_up"] == 0, h
        _, v1, _ = o.get("/api/v1/health")
        assert v1["status"] == "starting", v1
        assert wait_until(lambda: o.health()["status"] == "ok", 30), o.health()
        log = o.log_text()
        assert "spawn-agents=true" in log, log
        assert "no --agent was given" in log, log
    finally:
        log_on_failure(o)
        assert o.stop() == 0


def test_a_coming_language_waits_for_the_agent(tmp_path, slow_agent_bin):
    o = start(tmp_path, slow_agent_bin)
    try:
        assert o.health()["status"] == "starting"
        res = o.run_ok("echo waited", language=LANG)
        assert res["process_status"] == "completed" and res["stdout"] == "waited\n", res
        # Once the agent has said what it serves, an unknown language is a 400 again.
        st, res, _ = o.execute("1", language="cobol")
        assert st == 400 and "cobol" in res["stderr"], res
    finally:
        log_on_failure(o)
        assert o.stop() == 0


def test_a_coming_language_past_agent_wait_is_503_in_every_dialect(tmp_path, slow_agent_bin):
    o = start(tmp_path, slow_agent_bin, "--agent-wait", "0.2")
    try:
        assert o.health()["status"] == "starting"
        for path, body in (("/execute", {"generated_code": "echo 1", "language": LANG,
                                         "timeout": 5}),
                           ("/api/v1/execute", {"code": "echo 1", "language": LANG})):
            st, res, hdrs = o.post(path, body)
            assert st == 503, (path, st, res)
            assert res["error"]["code"] == "no_healthy_agent", res
            assert "unknown language" not in res["error"]["message"], res
            assert "retry-after" in hdrs, hdrs
        st, res, _ = o.post("/api/v1/batch", {"executions": [{"code": "echo 1",
                                                               "language": LANG}]})
        assert st == 200 and "no healthy agent" in res["results"][0]["error"], res
        # A job is accepted, not refused as unknown.
        st, res, _ = o.post("/api/run", {"code": "echo 1", "language": LANG})
        assert st == 202, res
    finally:
        log_on_failure(o)
        assert o.stop() == 0
