"""sandpit-orchestrator's local agents: a crashed agent is restarted and the next request
succeeds; SIGTERM, SIGINT and even SIGKILL of the orchestrator leave no agent behind."""
import signal
import threading
import time

import pytest

from orch_fixtures import (Orchestrator, descendants, log_on_failure, orch_maker, pid_alive,
                           wait_until)

# Local agents without preloads start in ~0.1 s instead of ~0.5 s.
FAST_AGENT = "--spawn-arg=--preload="


@pytest.fixture
def make_orch(tmp_path):
    yield from orch_maker(tmp_path, check_exit=False)


def test_agent_killed_mid_run_is_restarted(make_orch):
    o = make_orch(FAST_AGENT)
    h = o.health()
    old_pid = h["agents"][0]["pid"]
    assert h["agents"][0]["restarts"] == 0
    out = {}

    def run():
        out["resp"] = o.execute("import time\nprint('x', flush=True)\ntime.sleep(20)", timeout=30)

    t = threading.Thread(target=run)
    t.start()
    assert wait_until(lambda: o.health()["agents"][0]["in_flight"] == 1, 5)
    time.sleep(0.3)  # let the code start
    import os
    os.kill(old_pid, signal.SIGKILL)
    t.join(10)
    st, res, _ = out["resp"]
    # That request fails with a clear error...
    assert st == 502, (st, res)
    assert res["process_status"] == "error" and res["stdout"] == "", res
    assert res["error"]["code"] == "agent_failed", res
    assert "agent" in res["stderr"] and "failed" in res["stderr"], res
    # ...the next one succeeds (it waits for the restarted agent)...
    t0 = time.monotonic()
    res = o.run_ok("print('after crash')")
    assert res["process_status"] == "completed" and res["stdout"] == "after crash\n", res
    assert time.monotonic() - t0 < 15
    # ...and the supervisor restarted the agent as a new process.
    a = o.health()["agents"][0]
    assert a["restarts"] == 1 and a["pid"] != old_pid and a["state"] == "up", a
    assert not pid_alive(old_pid)
    assert "killed by signal 9" in o.log_text()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_stop_leaves_no_agent_behind(make_orch, sig):
    o = make_orch(FAST_AGENT, "--spawn-count", "2")
    pids = o.agent_pids()
    assert len(pids) == 2, o.health()
    family = descendants(o.pid)
    assert set(pids) <= set(family) and len(family) >= 4, family  # agents and their zygotes
    # A request in flight does not hold the shutdown up for long.
    threading.Thread(target=lambda: o.execute("import time\ntime.sleep(30)", timeout_http=20),
                     daemon=True).start()
    time.sleep(0.3)
    t0 = time.monotonic()
    o.signal(sig)
    rc = o.wait_exit(12)
    assert rc == 0, f"exit {rc}:\n{o.log_text()}"
    assert time.monotonic() - t0 < 8
    assert wait_until(lambda: not any(pid_alive(p) for p in family), 3), \
        [p for p in family if pid_alive(p)]


def test_orchestrator_sigkill_takes_agents_down(make_orch):
    o = make_orch(FAST_AGENT)
    family = descendants(o.pid)
    assert o.agent_pids() and set(o.agent_pids()) <= set(family)
    o.signal(signal.SIGKILL)
    o.wait_exit(5)
    # PR_SET_PDEATHSIG(SIGKILL) in every spawned agent; the agents' own children follow them.
    assert wait_until(lambda: not any(pid_alive(p) for p in family), 5), \
        [p for p in family if pid_alive(p)]


def test_request_waits_for_a_starting_agent(tmp_path):
    """A request sent while the local agent is still starting is served once it is up."""
    o = Orchestrator(tmp_path / "o", FAST_AGENT, "--start-timeout", "0")
    try:
        res = o.run_ok("print('waited')")
        assert res["process_status"] == "completed" and res["stdout"] == "waited\n", res
    finally:
        log_on_failure(o)
        assert o.stop() == 0
