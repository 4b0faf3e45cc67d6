"""The HTTP API: validation and error bodies, async executions, cancel, listing, history."""
import json
import os
import threading
import time
import uuid

import pytest

from conftest import pids_with_marker, spawn_code, wait_until


def assert_error_body(body, status, field=None, mentions=()):
    assert isinstance(body, dict), f"error body is not JSON: {body!r}"
    err = body.get("error")
    assert isinstance(err, dict), body
    assert isinstance(err.get("code"), str) and err["code"], body
    assert isinstance(err.get("message"), str) and err["message"], body
    if field is not None:
        assert err.get("field") == field, body
    msg = err["message"].lower()
    for word in mentions:
        assert word.lower() in msg, f"message does not mention {word!r}: {err['message']!r}"


def assert_healthy(agent):
    h = agent.health()
    assert h["zygote"]["state"] == "ready", h
    res = agent.execute("print(1)", timeout=10)
    assert res["status"] == "completed" and res["stdout"] == "1\n", res


# 14 bad input -------------------------------------------------------------------------------

JSON = {"Content-Type": "application/json"}

BAD_BODIES = [
    # (id, raw body, field, words the message must contain)
    ("not-json", "print(1)", None, ("json",)),
    ("malformed-json", '{"code": "print(1)"', None, ("json",)),
    ("empty-body", "", None, ()),
    ("array-body", '[{"code": "print(1)"}]', None, ("object",)),
    ("string-body", '"print(1)"', None, ("object",)),
    ("missing-code", '{"timeout": 5}', "code", ("code",)),
    ("code-not-string", '{"code": 42}', "code", ("code",)),
    ("code-null", '{"code": null}', "code", ("code",)),
    ("timeout-zero", '{"code": "print(1)", "timeout": 0}', "timeout", ("timeout",)),
    ("timeout-negative", '{"code": "print(1)", "timeout": -1}', "timeout", ("timeout",)),
    ("timeout-over-max", '{"code": "print(1)", "timeout": 100000}', "timeout", ("timeout",)),
    ("timeout-string", '{"code": "print(1)", "timeout": "5"}', "timeout", ("timeout",)),
    ("debug-mode-not-bool", '{"code": "print(1)", "debug_mode": "yes"}', "debug_mode",
     ("debug_mode",)),
    ("async-not-bool", '{"code": "print(1)", "async": 1}', "async", ("async",)),
    ("env-not-object", '{"code": "print(1)", "env": ["A=1"]}', "env", ("env",)),
    ("env-value-not-string", '{"code": "print(1)", "env": {"A": 1}}', "env", ("env",)),
    ("env-bad-name", '{"code": "print(1)", "env": {"A=B": "1"}}', "env", ("env",)),
    ("stdin-not-string", '{"code": "print(1)", "stdin": 5}', "stdin", ("stdin",)),
    ("language-not-string", '{"code": "print(1)", "language": 3}', "language", ("language",)),
    ("max-output-bytes-zero", '{"code": "print(1)", "max_output_bytes": 0}', "max_output_bytes",
     ("max_output_bytes",)),
]


@pytest.mark.parametrize("raw,field,mentions", [b[1:] for b in BAD_BODIES],
                         ids=[b[0] for b in BAD_BODIES])
def test_bad_request_bodies(agent, raw, field, mentions):
    st, body, _ = agent.post("/execute", raw, headers=JSON)
    assert st == 400, (st, body)
    assert_error_body(body, 400, field, mentions)


def test_unknown_language_names_available_ones(agent):
    st, body, _ = agent.post("/execute", {"code": "print(1)", "language": "cobol"})
    assert st == 400, (st, body)
    assert_error_body(body, 400, "language", ("cobol", "python"))


def test_language_aliases(agent):
    for lang in ("python", "python3", "py"):
        res = agent.execute("print(2)", language=lang)
        assert res["status"] == "completed" and res["language"] == "python", res


def test_body_over_10_mib_is_413(agent):
    code = "#" + "x" * (10 * (1 << 20) + 100)
    st, body, _ = agent.post("/execute", {"code": code}, timeout=60)
    assert st == 413, (st, body if not isinstance(body, str) else body[:200])
    assert_error_body(body, 413)
    assert_healthy(agent)


def test_body_just_under_the_cap_is_accepted(agent):
    code = "#" + "x" * (9 * (1 << 20)) + "\nprint('big')"
    res = agent.execute(code, timeout=20)
    assert res["status"] == "completed", {k: v for k, v in res.items() if k != "stdout"}
    assert res["stdout"] == "big\n"


def test_unknown_path_is_404(agent):
    st, body, _ = agent.get("/no/such/thing")
    assert st == 404, (st, body)
    assert_error_body(body, 404)
    st, body, _ = agent.post("/executee", {"code": "print(1)"})
    assert st == 404, (st, body)
    assert_error_body(body, 404)


def test_wrong_method_is_405_with_allow(agent):
    st, body, headers = agent.get("/execute")
    assert st == 405, (st, body)
    assert "POST" in headers.get("allow", ""), headers
    assert_error_body(body, 405)
    st, body, headers = agent.post("/health", {})
    assert st == 405, (st, body)
    assert "GET" in headers.get("allow", ""), headers
    assert_error_body(body, 405)
    st, body, headers = agent.request("PUT", f"/execution/{uuid.uuid4()}", "{}")
    assert st == 405, (st, body)
    allow = headers.get("allow", "")
    assert "GET" in allow and "DELETE" in allow, headers


def test_unknown_execution_is_404_detail(agent):
    st, body, _ = agent.get(f"/execution/{uuid.uuid4()}")
    assert st == 404, (st, body)
    assert body.get("detail") == "Execution not found", body
    st, body, _ = agent.get("/execution/not-a-uuid")
    assert st == 404, (st, body)
    assert body.get("detail") == "Execution not found", body
    st, body, _ = agent.delete(f"/execution/{uuid.uuid4()}")
    assert st == 404, (st, body)
    assert body.get("detail") == "Execution not found", body


def test_agent_healthy_after_bad_requests(agent):
    for raw, _, _ in [b[1:] for b in BAD_BODIES]:
        agent.post("/execute", raw, headers=JSON)
    h = agent.health()
    assert h["status"] == "ok", h
    assert agent.proc.poll() is None
    assert_healthy(agent)


def test_root_and_metrics(agent):
    st, body, _ = agent.get("/")
    assert st == 200 and isinstance(body, dict), (st, body)
    st, body, headers = agent.get("/metrics")
    assert st == 200, (st, body)
    assert "text/plain" in headers.get("content-type", ""), headers
    assert "sandpit_requests_total" in body


def _zygote_cpu(agent, executions):
    """/health's zygote.cpu once the zygote has reported at least `executions` (its STATS go
    out at most every 100 ms)."""
    deadline = time.time() + 10
    while True:
        cpu = agent.health()["zygote"].get("cpu")
        if (cpu and cpu["executions"] >= executions) or time.time() > deadline:
            return cpu
        time.sleep(0.05)


def test_health_and_metrics_show_cpu_per_execution(make_agent):
    """Issue 18: operators see what an execution costs, the zygote's CPU and its children's
    (warm children's set-up and pre-warm, inits, the executions themselves)."""
    ag = make_agent()
    for _ in range(3):
        assert ag.execute("print(1+1)")["status"] == "completed"
    cpu = _zygote_cpu(ag, 3)
    assert cpu is not None and cpu["executions"] == 3, cpu
    assert cpu["children_s"] > 0 and cpu["zygote_s"] > 0, cpu
    total_ms = (cpu["children_s"] + cpu["zygote_s"]) * 1000
    assert abs(cpu["per_execution_ms"] - total_ms / 3) < 0.02 * total_ms, cpu
    st, body, _ = ag.get("/metrics")
    assert st == 200
    assert 'sandpit_zygote_cpu_seconds_total{part="children"}' in body, body
    assert "sandpit_zygote_executions_total 3" in body, body


def test_timeline_records_each_execution(make_agent, tmp_path):
    """--timeline (the bench's breakdown): one JSON line per execution, its marks in order."""
    path = tmp_path / "timeline.jsonl"
    ag = make_agent(timeline=str(path))
    for _ in range(2):
        assert ag.execute("print(1+1)")["status"] == "completed"
    # A line is written when every process of the execution is reaped, which, for one answered
    # on its end message, is after the answer.
    deadline = time.time() + 10
    while len(path.read_text().splitlines()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert len(lines) == 2, lines
    # Each process's marks in order; across them, only what one waits for in the other (a
    # job may be handed to a child still warming up, "forked" runs beside the child's start).
    child = ["child", "cgroup", "ns", "mount", "cred", "seccomp", "prewarm", "job", "run",
             "ran", "exit"]
    zygote = ["fork_start", "init", "forked", "handed", "answered", "reaped", "done"]
    for rec in lines:
        for order in (child, zygote):
            walls = [rec[m][0] for m in order]
            assert all(w > 0 for w in walls), rec
            assert walls == sorted(walls), rec
        for before, after in (("init", "child"), ("handed", "job"), ("exit", "answered"),
                              ("exit", "reaped")):
            assert rec[before][0] <= rec[after][0], (before, after, rec)
        assert rec["child_cpu_us"] > 0, rec
        # [wall, cpu, minor faults]: the child's faults only grow along its marks.
        faults = [rec[m][2] for m in child]
        assert faults == sorted(faults) and rec["child_minflt"] >= faults[-1] > 0, rec


def _prewarm_faults(make_agent, tmp_path, name, env):
    """(/health zygote.prefault_pages, median page faults of a child's pre-warm run)."""
    path = tmp_path / name
    ag = make_agent(timeline=str(path), env_extra=env)
    for _ in range(3):
        res = ag.execute("import random\nprint(random.random())")
        assert res["status"] == "completed" and res["exit_code"] == 0, res
    pages = ag.health()["zygote"]["prefault_pages"]
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    faults = sorted(r["prewarm"][2] - r["seccomp"][2] for r in recs)
    return pages, faults[len(faults) // 2]


def test_prefault_copies_the_pages_every_child_writes_at_once(make_agent, tmp_path):
    """--prefault (on by default): the zygote learned at start which of its pages a child's
    pre-warm writes (/health zygote.prefault_pages) and each child copies them in one pass
    right after the fork, so its pre-warm takes a fraction of the page faults it takes with
    --prefault off. Counts, not times: they hold on a loaded machine."""
    if tuple(int(x) for x in os.uname().release.split(".")[:2]) < (5, 14):
        pytest.skip("MADV_POPULATE_WRITE needs Linux 5.14")
    pages_on, on = _prewarm_faults(make_agent, tmp_path, "on.jsonl", None)
    pages_off, off = _prewarm_faults(make_agent, tmp_path, "off.jsonl",
                                        {"SANDPIT_PREFAULT": "0"})
    assert pages_off == 0 and pages_on > 100, (pages_on, pages_off)
    assert off > 100 and on * 3 < off, (on, off)


# async, cancel ------------------------------------------------------------------------------

def poll_until_final(agent, eid, timeout=15.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        st, body, _ = agent.get(f"/execution/{eid}")
        assert st == 200, (st, body)
        seen.append(body["status"])
        if body["status"] not in ("pending", "running"):
            return body, seen
        time.sleep(0.05)
    raise AssertionError(f"execution {eid} not final after {timeout}s; statuses {seen[-5:]}")


def test_async_execution(agent):
    st, body, _ = agent.post("/execute", {"code": "import time\ntime.sleep(0.5)\nprint('later')\n21*2",
                                          "async": True})
    assert st == 202, (st, body)
    assert set(body) >= {"execution_id", "status"}, body
    assert body["status"] == "pending", body
    eid = body["execution_id"]
    st, mid, _ = agent.get(f"/execution/{eid}")
    assert st == 200 and mid["status"] in ("pending", "running"), mid
    final, seen = poll_until_final(agent, eid)
    assert final["status"] == "completed", final
    assert final["stdout"] == "later\n"
    assert final["result"] == 42
    assert final["execution_id"] == eid


def test_delete_cancels_a_running_async_execution(agent):
    code, marker, sleep_arg = spawn_code("time.sleep(30)")
    st, body, _ = agent.post("/execute", {"code": code, "async": True, "timeout": 60})
    assert st == 202, (st, body)
    eid = body["execution_id"]
    # The code's processes are visible from here before the cancel (proves the scan works).
    assert wait_until(lambda: len(pids_with_marker(marker)) >= 3, 10), "marker processes never ran"
    time.sleep(0.5)  # lets the code print "running 4" (output so far is kept on cancel)
    t0 = time.monotonic()
    st, body, _ = agent.delete(f"/execution/{eid}")
    elapsed = time.monotonic() - t0
    assert st == 200, (st, body)
    assert body.get("message") == "Execution cancelled", body
    assert body.get("status") == "cancelled", body
    assert elapsed < 2.0, elapsed
    st, got, _ = agent.get(f"/execution/{eid}")
    assert st == 200 and got["status"] == "cancelled", got
    assert got["exit_reason"] == "cancelled", got
    assert "running 4" in got["stdout"], got
    left = pids_with_marker(marker) + pids_with_marker(sleep_arg)
    assert not left, f"processes survived the cancel: {left}"
    assert_healthy(agent)


def test_delete_finished_execution_does_not_change_it(agent):
    res = agent.execute("print('done')")
    st, body, _ = agent.delete(f"/execution/{res['execution_id']}")
    assert st == 200, (st, body)
    assert body.get("status") == "completed", body
    st, got, _ = agent.get(f"/execution/{res['execution_id']}")
    assert got["status"] == "completed", got


def test_sync_request_sees_cancel(make_agent):
    """A synchronous client whose execution is cancelled from elsewhere gets its answer."""
    ag = make_agent()
    out = {}

    def run():
        try:
            out["r"] = ag.post("/execute", {"code": "import time\ntime.sleep(30)", "timeout": 60},
                               timeout=15)
        except OSError as e:
            out["r"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()

    def find():
        st, body, _ = ag.get("/executions")
        items = _items(body)
        return items[0]["execution_id"] if items else None

    eid = wait_until(find, 5)
    assert eid, "the sync execution never showed up in /executions"
    st, body, _ = ag.delete(f"/execution/{eid}")
    assert st == 200 and body.get("status") == "cancelled", (st, body)
    t.join(5)
    assert not t.is_alive(), "the synchronous client was not answered after the cancel"
    assert not isinstance(out["r"], Exception), out["r"]
    st, body, _ = out["r"]
    assert st == 200, (st, body)
    assert body["status"] == "cancelled", body
    assert body["execution_id"] == eid, body


# listing, history ---------------------------------------------------------------------------

def _items(body):
    if isinstance(body, list):
        return body
    assert isinstance(body, dict) and isinstance(body.get("executions"), list), body
    return body["executions"]


def test_list_newest_first_with_paging_and_processor_filter(agent):
    proc = "proc-" + uuid.uuid4().hex
    ids = [agent.execute(f"print({i})", processor_id=proc)["execution_id"] for i in range(3)]
    other = agent.execute("print('other')", processor_id="other-" + uuid.uuid4().hex)

    st, body, _ = agent.get("/executions?limit=2&offset=0")
    assert st == 200, (st, body)
    items = _items(body)
    assert [x["execution_id"] for x in items] == [other["execution_id"], ids[2]], items

    st, body, _ = agent.get("/executions?limit=2&offset=1")
    assert st == 200
    assert [x["execution_id"] for x in _items(body)] == [ids[2], ids[1]]

    st, body, _ = agent.get(f"/executions?processor_id={proc}")
    assert st == 200, (st, body)
    items = _items(body)
    assert [x["execution_id"] for x in items] == ids[::-1], items
    assert all(x["processor_id"] == proc for x in items)
    # Summaries: no output unless asked for (?output=1), then the full results.
    assert "stdout" not in items[0] and items[0]["status"] == "completed", items[0]
    st, body, _ = agent.get(f"/executions?processor_id={proc}&output=1")
    assert st == 200 and _items(body)[0]["stdout"] == "2\n", (st, body)

    st, body, _ = agent.get(f"/executions?processor_id={proc}&limit=1&offset=2")
    assert [x["execution_id"] for x in _items(body)] == [ids[0]]


@pytest.mark.parametrize("query", ["limit=0", "limit=-1", "limit=abc", "offset=-1", "offset=x"])
def test_list_bad_query_is_400(agent, query):
    st, body, _ = agent.get(f"/executions?{query}")
    assert st == 400, (st, body)
    assert_error_body(body, 400, query.split("=")[0], (query.split("=")[0],))


def test_history_evicts_oldest(make_agent):
    ag = make_agent(history=3)
    ids = [ag.execute(f"print({i})")["execution_id"] for i in range(4)]
    st, body, _ = ag.get(f"/execution/{ids[0]}")
    assert st == 404, (st, body)
    assert body.get("detail") == "Execution not found"
    for eid in ids[1:]:
        st, body, _ = ag.get(f"/execution/{eid}")
        assert st == 200 and body["status"] == "completed", (st, body)
    st, body, _ = ag.get("/executions")
    assert [x["execution_id"] for x in _items(body)] == ids[:0:-1]


def test_debug_endpoint(agent):
    res = agent.execute("x = 1\nprint(x)")
    st, body, _ = agent.get(f"/debug/{res['execution_id']}")
    assert st == 200, (st, body)
    assert body.get("execution_id") == res["execution_id"], body
    assert "debug_info" in body, body
    st, body, _ = agent.get(f"/debug/{uuid.uuid4()}")
    assert st == 404, (st, body)


# long polls and several waiters on one execution ----------------------------------------------

def test_long_poll_returns_when_finished(make_agent):
    agent = make_agent()
    st, body, _ = agent.post("/execute", {"code": "import time\ntime.sleep(0.5)\nprint('lp')",
                                          "async": True})
    assert st == 202, body
    t0 = time.monotonic()
    st, got, _ = agent.get(f"/execution/{body['execution_id']}?wait=10", timeout=15)
    elapsed = time.monotonic() - t0
    assert st == 200, (st, got)
    assert got["status"] == "completed" and got["stdout"] == "lp\n", got
    assert elapsed < 3, elapsed


def test_long_poll_expires_with_the_current_state(make_agent):
    agent = make_agent()
    st, body, _ = agent.post("/execute", {"code": "import time\ntime.sleep(5)", "async": True})
    assert st == 202, body
    eid = body["execution_id"]
    try:
        t0 = time.monotonic()
        st, got, _ = agent.get(f"/execution/{eid}?wait=0.3", timeout=10)
        elapsed = time.monotonic() - t0
        assert st == 200, (st, got)
        assert got["status"] in ("pending", "running"), got
        assert 0.25 <= elapsed < 2, elapsed
        st, got, _ = agent.get(f"/execution/{eid}?wait=abc")
        assert st == 400, (st, got)
        assert_error_body(got, 400, "wait", ("wait",))
    finally:
        agent.delete(f"/execution/{eid}")


def _bg(fn):
    out = {}

    def run():
        try:
            out["r"] = fn()
        except Exception as e:  # noqa: BLE001 - reported by the caller
            out["r"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def test_two_long_polls_on_one_execution_are_both_answered(make_agent):
    ag = make_agent()
    st, body, _ = ag.post("/execute", {"code": "import time\ntime.sleep(1)\nprint('x')",
                                       "async": True})
    assert st == 202, body
    path = f"/execution/{body['execution_id']}?wait=20"
    t1, o1 = _bg(lambda: ag.get(path, timeout=10))
    time.sleep(0.2)
    t2, o2 = _bg(lambda: ag.get(path, timeout=10))
    t1.join(5)
    t2.join(5)
    assert not t2.is_alive(), "the second long-poll was not answered"
    assert not t1.is_alive(), "the first long-poll was not answered when a second one arrived"
    for o in (o1, o2):
        assert not isinstance(o["r"], Exception), o["r"]
        assert o["r"][0] == 200 and o["r"][1]["status"] == "completed", o["r"]


def test_sync_client_answered_despite_a_long_poll(make_agent):
    ag = make_agent()
    t, out = _bg(lambda: ag.post("/execute", {"code": "import time\ntime.sleep(1)\nprint('sync')"},
                                 timeout=10))

    def find():
        items = _items(ag.get("/executions").body)
        return items[0]["execution_id"] if items else None

    eid = wait_until(find, 5)
    assert eid
    st, got, _ = ag.get(f"/execution/{eid}?wait=0.2")
    assert st == 200 and got["status"] == "running", (st, got)
    t.join(5)
    assert not t.is_alive(), "the synchronous client was not answered after a long-poll on its id"
    assert not isinstance(out["r"], Exception), out["r"]
    st, body, _ = out["r"]
    assert st == 200 and body["status"] == "completed" and body["stdout"] == "sync\n", body


def test_long_poll_right_after_async_submit(make_agent):
    """Back-to-back async submit + long-poll, as a polling client does: every poll answers."""
    ag = make_agent()
    for i in range(60):
        st, body, _ = ag.post("/execute", {"code": "import time\ntime.sleep(0.05)\nprint(%d)" % i,
                                           "async": True})
        assert st == 202, body
        t0 = time.monotonic()
        try:
            st, got, _ = ag.get(f"/execution/{body['execution_id']}?wait=5", timeout=3)
        except OSError as e:
            raise AssertionError(f"iteration {i}: long-poll not answered within 3 s "
                                 f"(execution takes 0.05 s): {e!r}") from None
        assert st == 200 and got["status"] == "completed", (i, st, got)
        assert got["stdout"] == f"{i}\n", got
        assert time.monotonic() - t0 < 2


def test_without_prewarm_runs_the_same(make_agent, tmp_path):
    """--prewarm=0 (docs/performance.md: the pre-warm run's CPU against the latency it saves):
    a warm child runs no throwaway execution; the results are the same, and the timeline shows
    no pre-warm work (its mark comes at once after seccomp, without the run's page faults)."""
    path = tmp_path / "timeline.jsonl"
    ag = make_agent(env_extra={"SANDPIT_PREWARM": "0"}, timeline=str(path))
    for _ in range(2):
        r = ag.execute("import sys\nprint(1+1)\nsys.exit(3)")
        assert r["stdout"] == "2\n" and r["exit_code"] == 3 and r["status"] == "failed", r
    deadline = time.time() + 10
    while len(path.read_text().splitlines()) < 2 and time.time() < deadline:
        time.sleep(0.05)
    for rec in (json.loads(x) for x in path.read_text().splitlines()):
        assert rec["prewarm"][2] - rec["seccomp"][2] < 5, rec  # page faults of the pre-warm
