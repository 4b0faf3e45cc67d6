"""Every scenario value is bounded by the agent's own limits (issue 17, item 8).

A scenario could ask for more than the agent grants: `artificialDelayMs: 3600000` held a 1 s
execution's slot for an hour past --max-timeout. Now each number with an agent limit is refused
with 400 naming the key and the limit: durations by --max-timeout, the delay together with the
execution's timeout by --max-timeout (the slot is held for both), memoryLimitMb and leakMbPerSec
by --memory-mb, pidsLimit by --pids-limit, diskLimitMb by --disk-mb. A delay within the limit
holds the slot: a second execution waits for it.
"""
import time

import pytest

from conftest import AGENT_BIN, Agent, _stop_and_check

MAX_TIMEOUT = 30
LIMITS = {"max_timeout": MAX_TIMEOUT, "default_timeout": 1, "memory_mb": 256,
          "pids_limit": 32, "disk_mb": 64, "max_concurrent": 1, "log_level": "debug"}


@pytest.fixture(scope="module")
def capped(tmp_path_factory):
    if not AGENT_BIN.exists():
        pytest.fail(f"{AGENT_BIN} not found: run `make`")
    ag = Agent(tmp_path_factory.mktemp("caps"), LIMITS)
    yield ag
    _stop_and_check(ag)


def _refused(ag, scenario, field, *needles, **fields):
    body = {"code": "print(1)", "scenario": scenario}
    body.update(fields)
    st, res, _ = ag.post("/execute", body)
    assert st == 400, (st, res)
    assert res["error"]["code"] == "invalid_request", res
    assert res["error"]["field"] == field, res
    for n in needles:
        assert n in res["error"]["message"], res
    return res


# One value just above each agent limit: every key with a limit is named with it.
@pytest.mark.parametrize("key,value,flag", [
    ("artificialDelayMs", 3600000, "--max-timeout"),
    ("networkLatencyMs", MAX_TIMEOUT * 1000 + 1, "--max-timeout"),
    ("jitterMs", MAX_TIMEOUT * 1000 + 1, "--max-timeout"),
    ("timeoutMs", MAX_TIMEOUT * 1000 + 1, "--max-timeout"),
    ("resetAfterMs", MAX_TIMEOUT * 1000 + 1, "--max-timeout"),
    ("sliceDelayMs", MAX_TIMEOUT * 1000 + 1, "--max-timeout"),
    ("crashAfterMs", MAX_TIMEOUT * 1000 + 1, "--max-timeout"),
    ("memoryLimitMb", 257, "--memory-mb 256"),
    ("leakMbPerSec", 257, "--memory-mb 256"),
    ("pidsLimit", 33, "--pids-limit 32"),
    ("diskLimitMb", 65, "--disk-mb 64"),
])
def test_value_above_the_agents_limit_is_400_naming_key_and_limit(capped, key, value, flag):
    _refused(capped, {key: value}, f"scenario.{key}", flag, key)


def test_delay_and_timeout_together_within_max_timeout(capped):
    # 29.5 s of delay and the 1 s default timeout: 30.5 s of slot, above --max-timeout 30.
    res = _refused(capped, {"artificialDelayMs": 29500}, "scenario.artificialDelayMs",
                   "plus the timeout 1 s", "--max-timeout 30 s", "29000 ms")
    assert "execution_id" not in res, res
    _refused(capped, {"artificialDelayMs": 1000}, "scenario.artificialDelayMs",
             "plus the timeout 29.5 s", timeout=29.5)


def test_values_at_the_limits_run(capped):
    scn = {"memoryLimitMb": 256, "pidsLimit": 32, "diskLimitMb": 64, "artificialDelayMs": 0,
           "crashAfterMs": MAX_TIMEOUT * 1000}
    res = capped.execute("print('ok')", scenario=scn, timeout=10)
    assert res["status"] == "completed" and res["stdout"] == "ok\n", res
    assert res["scenario"] == scn, res
    assert not any("exceeds" in w for w in res["warnings"]), res


def test_a_delay_within_the_limit_holds_the_slot(capped):
    # --max-concurrent 1: while the first execution is in its delay, the second one waits.
    st, first, _ = capped.post("/execute", {"code": "print('first')", "timeout": 10, "async": True,
                                            "scenario": {"artificialDelayMs": 8000}})
    assert st == 202, (st, first)
    st, second, _ = capped.post("/execute", {"code": "print('second')", "timeout": 10,
                                             "async": True})
    assert st == 202, (st, second)
    st, now, _ = capped.get(f"/execution/{second['execution_id']}")
    assert st == 200 and now["status"] == "pending", (st, now)
    st, done, _ = capped.get(f"/execution/{first['execution_id']}?wait=30", timeout=40)
    assert st == 200 and done["status"] == "completed", (st, done)
    assert done["stdout"] == "first\n" and done["artificial_delay_s"] == pytest.approx(8.0), done
    st, done2, _ = capped.get(f"/execution/{second['execution_id']}?wait=30", timeout=40)
    assert st == 200 and done2["status"] == "completed" and done2["stdout"] == "second\n", done2
    # The second started only once the first's slot (its delay and its run) was free.
    assert done2["start_time"] >= done["end_time"], (done, done2)


def test_orchestrator_passes_the_agents_refusal_on(tmp_path):
    from orch_fixtures import ORCH_BIN, Orchestrator
    if not ORCH_BIN.exists():
        pytest.fail("build/sandpit-orchestrator missing: run `make`")
    o = Orchestrator(tmp_path / "orch", "--log-level", "debug")
    try:
        # 3600000 ms passes the orchestrator's own check; the agent (--max-timeout 300) refuses.
        st, res, _ = o.post("/api/v1/execute", {"code": "1", "timeout": 1,
                                                "scenario": {"artificialDelayMs": 3600000}})
        assert st == 400, (st, res)
        assert res["error"]["field"] == "scenario.artificialDelayMs", res
        assert "--max-timeout" in res["error"]["message"], res
    finally:
        assert o.stop() == 0, o.log_text()
