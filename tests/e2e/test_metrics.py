"""/metrics of both daemons read by an independent parser (Debian's python3-prometheus-client):
HELP and TYPE for every family, counters named *_total, base units, no duplicate series,
histogram buckets cumulative with +Inf equal to _count, and the execution histograms counting
what ran, by language and outcome."""
import re

import pytest

from orch_fixtures import AGENT_BIN, Agent, agents_started, orch_maker

parser = pytest.importorskip("prometheus_client.parser")


def families(text):
    """The exposition parsed strictly: every check a scraper's strict mode makes."""
    fams = list(parser.text_string_to_metric_families(text))
    seen = set()
    # The parser keeps families without TYPE as "unknown"; HELP it leaves empty.
    for f in fams:
        assert f.type in ("counter", "gauge", "histogram"), (f.name, f.type)
        assert f.documentation, f"no HELP for {f.name}"
        assert not re.search(r"_(ms|millis|kb|mb|percent)(_|$)", f.name), f.name
        for s in f.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in seen, f"duplicate series {key}"
            seen.add(key)
            if f.type == "counter":
                assert s.name.endswith(("_total", "_created")), s.name
        if f.type == "histogram":
            check_histogram(f)
    # Each family's TYPE line appears exactly once in the text.
    for f in fams:
        n = len(re.findall(rf"^# TYPE {re.escape(f.name)}(_total)? ", text, re.M))
        assert n == 1, (f.name, n)
    return {f.name: f for f in fams}


def check_histogram(f):
    series = {}
    for s in f.samples:
        labels = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        series.setdefault(labels, {"buckets": [], "count": None, "sum": None})
        if s.name.endswith("_bucket"):
            series[labels]["buckets"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            series[labels]["count"] = s.value
        elif s.name.endswith("_sum"):
            series[labels]["sum"] = s.value
    for labels, sr in series.items():
        les = [le for le, _ in sr["buckets"]]
        assert les == sorted(les) and les[-1] == float("inf"), (f.name, labels, les)
        counts = [c for _, c in sr["buckets"]]
        assert counts == sorted(counts), (f.name, labels, counts)
        assert counts[-1] == sr["count"], (f.name, labels)
        assert sr["sum"] is not None and sr["sum"] >= 0, (f.name, labels)


def hist_count(fams, name, **labels):
    total = 0
    for s in fams[name].samples:
        if s.name == name + "_count" and all(s.labels.get(k) == v for k, v in labels.items()):
            total += s.value
    return total


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    if not AGENT_BIN.exists():
        pytest.fail("build/sandpit-agent missing: run `make`")
    ag = Agent(tmp_path_factory.mktemp("metrics_agent"), "--preload=")
    yield ag
    ag.stop()


def test_agent_exposition_parses_and_counts(agent):
    for body in ({"code": "print(1)"}, {"code": "1/0"},
                 {"code": "import time\ntime.sleep(5)", "timeout": 0.3},
                 {"code": "echo hi", "language": "bash"}):
        st, res, _ = agent.post("/execute", body, timeout=30)
        assert st == 200, (st, res)
    st, text, hdrs = agent.get("/metrics")
    assert st == 200 and hdrs["content-type"].startswith("text/plain; version=0.0.4"), hdrs
    fams = families(text)
    dur = "sandpit_execution_duration_seconds"
    assert hist_count(fams, dur, language="python", outcome="completed") >= 1
    assert hist_count(fams, dur, language="python", outcome="failed") >= 1
    assert hist_count(fams, dur, language="python", outcome="timeout") >= 1
    assert hist_count(fams, dur, language="bash", outcome="completed") >= 1
    assert hist_count(fams, "sandpit_execution_queue_wait_seconds", language="python") >= 3
    for name in ("sandpit_executions", "sandpit_requests", "sandpit_http_errors",
                 "sandpit_executions_in_flight", "sandpit_zygote_ready", "sandpit_sessions",
                 "sandpit_sessions_memory_bytes", "sandpit_uptime_seconds"):
        assert name in fams, name
    done = {s.labels["outcome"]: s.value for s in fams["sandpit_executions"].samples}
    assert done["timeout"] >= 1 and done["completed"] >= 2, done
    ready = fams["sandpit_zygote_ready"].samples[0].value
    assert ready == 1


def test_agent_error_replies_are_counted(agent):
    st, _, _ = agent.post("/execute", {"code": 5}, timeout=10)
    assert st == 400
    fams = families(agent.get("/metrics")[1])
    errs = {s.labels["code"]: s.value for s in fams["sandpit_http_errors"].samples}
    assert errs["invalid_request"] >= 1, errs


@pytest.fixture
def make_orch(tmp_path):
    yield from orch_maker(tmp_path)


def test_orchestrator_exposition_parses_and_counts(tmp_path, make_orch):
    agents = agents_started(tmp_path)
    try:
        o = make_orch(*[x for ag in agents for x in ("--agent", f"python={ag.url}")])
        assert o.run_ok("print(2)")["process_status"] == "completed"
        assert o.run_ok("1/0")["process_status"] == "error"
        st, text, _ = o.get("/metrics")
        assert st == 200
        fams = families(text)
        run = "sandpit_orch_execution_duration_seconds"
        assert hist_count(fams, run, language="python", process_status="completed") == 1
        assert hist_count(fams, run, language="python", process_status="error") == 1
        call = "sandpit_orch_agent_call_duration_seconds"
        assert hist_count(fams, call, endpoint="execute", outcome="ok") >= 2
        assert hist_count(fams, "sandpit_orch_dispatch_wait_seconds", language="python") >= 2
        up = [s for s in fams["sandpit_orch_agent_up"].samples]
        assert len(up) == 2 and all(s.value == 1 for s in up), up
        assert {s.labels["url"] for s in up} == {ag.url for ag in agents}
        for name in ("sandpit_orch_jobs_active", "sandpit_orch_jobs",
                     "sandpit_orch_agent_in_flight", "sandpit_orch_agent_failures",
                     "sandpit_orch_requests"):
            assert name in fams, name
    finally:
        for ag in agents:
            ag.stop()
