"""sandpit-orchestrator with its default spawned agent: the NVIDIA /execute contract, code
formats, the service endpoints and the job API."""
import re
import time
import uuid

import pytest

from orch_fixtures import ISO_LOG_RE, UUID_RE, log_on_failure, module_orch


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    yield from module_orch(tmp_path_factory, "orch_api", "--log-level", "debug")


@pytest.fixture(autouse=True)
def _logs(orch):
    yield
    log_on_failure(orch)


# -- POST /execute: the NVIDIA contract -------------------------------------------------------

def test_completed(orch):
    st, res, hdrs = orch.execute("print('hello')", timeout=10, language="python")
    assert st == 200, res
    assert res["process_status"] == "completed", res
    assert res["stdout"] == "hello\n"
    assert res["stderr"] == ""
    assert re.match(UUID_RE, res["execution_id"]), res
    assert res["language"] == "python"
    assert res["exit_code"] == 0
    assert isinstance(res["execution_time"], (int, float))
    assert re.match(UUID_RE, hdrs["x-request-id"]), hdrs
    assert hdrs["content-type"] == "application/json"


def test_language_defaults_to_python_and_aliases(orch):
    assert orch.run_ok("print(1)")["process_status"] == "completed"
    for lang in ("py", "python3", "PYTHON"):
        res = orch.run_ok("print(2)", language=lang)
        assert res["stdout"] == "2\n", res


def test_code_alias(orch):
    st, res, _ = orch.post("/execute", {"code": "print('via code')", "timeout": 5})
    assert st == 200, res
    assert res["process_status"] == "completed" and res["stdout"] == "via code\n", res


def test_error_has_traceback(orch):
    res = orch.run_ok("print('before')\nx = 1/0\n", timeout=10)
    assert res["process_status"] == "error", res
    assert res["stdout"] == "before\n"
    assert "Traceback (most recent call last):" in res["stderr"], res
    assert res["stderr"].endswith("ZeroDivisionError: division by zero\n"), res
    assert res["exit_code"] != 0


def test_error_without_traceback_still_says_why(orch):
    res = orch.run_ok("import sys\nsys.exit(3)\n")
    assert res["process_status"] == "error", res
    assert res["exit_code"] == 3, res
    assert res["stderr"].strip(), res


def test_timeout_keeps_partial_stdout(orch):
    t0 = time.monotonic()
    res = orch.run_ok("import time\nprint('partial', flush=True)\ntime.sleep(10)\n", timeout=1)
    took = time.monotonic() - t0
    assert res["process_status"] == "timeout", res
    assert res["stdout"] == "partial\n", res
    assert res["stderr"].endswith("Timed out\n"), res
    assert took < 6, took


def test_max_output_characters_cuts_each_stream(orch):
    code = "import sys\nprint('x' * 100)\nsys.stderr.write('é' * 50)\n"
    res = orch.run_ok(code, max_output_characters=10)
    assert res["process_status"] == "completed", res
    assert res["stdout"] == "x" * 10 + "<output cut>", res
    assert res["stderr"] == "é" * 10 + "<output cut>", res
    assert res["truncated"] is True
    # Unicode characters, not bytes: 4-byte characters count once.
    res = orch.run_ok("print('\\U0001F600' * 8, end='')", max_output_characters=3)
    assert res["stdout"] == "\U0001F600" * 3 + "<output cut>", res
    # A stream within the limit is left alone.
    res = orch.run_ok("print('ok')", max_output_characters=3)
    assert res["stdout"] == "ok\n" and res["truncated"] is False, res


def test_max_output_characters_with_timeout(orch):
    code = "import time\nprint('y' * 50, flush=True)\ntime.sleep(10)\n"
    res = orch.run_ok(code, timeout=1, max_output_characters=5)
    assert res["process_status"] == "timeout", res
    assert res["stdout"] == "yyyyy<output cut>", res
    assert res["stderr"].endswith("Timed out\n"), res


def test_markdown_fenced_code(orch):
    text = ("Here is the solution:\n\n```python\nx = 6 * 7\nprint(x)\n```\n\n"
            "It prints the answer.\n")
    res = orch.run_ok(text)
    assert res["process_status"] == "completed", res
    assert res["stdout"] == "42\n", res
    assert res["code_format"] == "markdown", res


def test_dict_format_code(orch):
    res = orch.run_ok("{'generated_code': 'print(5 + 5)', 'language': 'python'}")
    assert res["process_status"] == "completed", res
    assert res["stdout"] == "10\n", res
    assert res["code_format"] == "dict", res
    res = orch.run_ok('{"code": "print(\\"json dict\\")"}')
    assert res["stdout"] == "json dict\n", res


BAD_REQUESTS = [
    ("not_json", "print(1)", "body", "not valid JSON"),
    ("malformed", '{"generated_code": "print(1)"', "body", "not valid JSON"),
    ("empty", "", "body", "empty"),
    ("array", "[1, 2]", "body", "JSON object"),
    ("missing", {"timeout": 5, "language": "python"}, "generated_code", "generated_code"),
    ("mistyped_code", {"generated_code": 42}, "generated_code", "must be a string"),
    ("mistyped_timeout", {"generated_code": "1", "timeout": "5"}, "timeout", "timeout"),
    ("negative_timeout", {"generated_code": "1", "timeout": -1}, "timeout", "timeout"),
    ("huge_timeout", {"generated_code": "1", "timeout": 100000}, "timeout", "timeout"),
    ("mistyped_language", {"generated_code": "1", "language": 3}, "language", "language"),
    ("unknown_language", {"generated_code": "1", "language": "cobol", "timeout": 5}, "language",
     "cobol"),
    ("bad_max_chars", {"generated_code": "1", "max_output_characters": -5},
     "max_output_characters", "max_output_characters"),
    ("bad_scenario", {"generated_code": "1", "scenario": {"warp": 9}}, "scenario.warp", "warp"),
]


@pytest.mark.parametrize("name,body,field,needle", BAD_REQUESTS, ids=[b[0] for b in BAD_REQUESTS])
def test_bad_request_is_400_naming_the_problem(orch, name, body, field, needle):
    st, res, _ = orch.post("/execute", body)
    assert st == 400, (st, res)
    assert res["process_status"] == "error", res
    assert res["stdout"] == "", res
    assert needle in res["stderr"], res
    assert res["error"]["code"] == "invalid_request", res
    assert res["error"]["field"] == field, res
    assert needle in res["error"]["message"], res


def test_unknown_language_lists_available(orch):
    st, res, _ = orch.execute("1", language="brainfuck")
    assert st == 400, res
    assert "brainfuck" in res["stderr"] and "python" in res["stderr"], res


def test_too_large_body_is_413(orch):
    st, res, _ = orch.post("/execute", {"generated_code": "#" * (11 << 20)})
    assert st == 413, (st, str(res)[:200])
    assert res["process_status"] == "error" and res["error"]["code"] == "too_large", res


def test_scenario_on_execute_reaches_the_agent(orch):
    scn = {"networkLatencyMs": 50}
    res = orch.run_ok("print(1)", scenario=scn)
    assert res["process_status"] == "completed", res
    # the agent's word: the scenario as it applied it, what it could not, and the traffic
    assert res["scenario"] == scn, res
    assert isinstance(res["warnings"], list), res
    assert not any("not applied yet" in w for w in res["warnings"]), res
    assert set(res["network"]) >= {"bytes_up", "bytes_down", "connections"}, res
    assert res["artificial_delay_s"] == 0, res


def test_no_scenario_no_scenario_fields(orch):
    res = orch.run_ok("print(1)")
    for k in ("scenario", "warnings", "network", "artificial_delay_s"):
        assert k not in res, res


def test_request_id_kept_when_client_sends_one(orch):
    rid = str(uuid.uuid4())
    st, res, hdrs = orch.post("/execute", {"generated_code": "1", "timeout": 5},
                              headers={"X-Request-Id": rid})
    assert st == 200 and hdrs["x-request-id"] == rid and res["request_id"] == rid, (hdrs, res)


# -- service endpoints -------------------------------------------------------------------------

def test_health_lists_the_spawned_agent(orch):
    h = orch.health()
    assert h["status"] == "ok", h
    assert h["service"] == "sandpit-orchestrator"
    # the agent reports its runtimes; python is always there
    assert "python" in h["languages"] and h["languages"] == sorted(h["languages"]), h
    assert len(h["agents"]) == 1, h
    a = h["agents"][0]
    assert a["spawned"] is True and isinstance(a["pid"], int) and a["pid"] > 0, a
    assert a["state"] == "up" and "python" in a["languages"], a
    assert a["url"].startswith("http://127.0.0.1:"), a
    for k in ("in_flight", "failures", "requests", "restarts"):
        assert isinstance(a[k], int), a
    assert set(h["jobs"]) >= {"queued", "running", "kept"}, h


def test_languages(orch):
    st, res, _ = orch.get("/languages")
    assert st == 200 and list(res) == ["languages"] and "python" in res["languages"], res


def test_root_and_metrics(orch):
    st, res, _ = orch.get("/")
    assert st == 200 and res["service"] == "sandpit-orchestrator", res
    st, text, hdrs = orch.get("/metrics")
    assert st == 200 and hdrs["content-type"].startswith("text/plain"), hdrs
    assert "sandpit_orch_requests_total" in text and "sandpit_orch_agent_up" in text, text


def test_unknown_path_and_wrong_method(orch):
    st, res, _ = orch.get("/nope")
    assert st == 404 and res["error"]["code"] == "not_found", res
    st, res, hdrs = orch.get("/execute")
    assert st == 405 and hdrs["allow"] == "POST", (res, hdrs)
    assert res["error"]["code"] == "method_not_allowed", res


# -- the job API ----------------------------------------------------------------------------------

def test_job_lifecycle_completed(orch):
    jid = orch.submit_job("print('job out')\n21 * 2")
    assert re.match(UUID_RE, jid), jid
    st = orch.wait_job(jid)
    assert st["status"] == "completed", st
    assert st["jobId"] == jid and st["language"] == "python"
    assert st["createdAt"] and st["startedAt"] and st["finishedAt"], st
    s, logs, _ = orch.get(f"/api/logs/{jid}")
    assert s == 200, logs
    assert logs["jobId"] == jid and logs["status"] == "completed"
    assert logs["logs"] and all(re.match(ISO_LOG_RE, line) for line in logs["logs"]), logs
    r = logs["result"]
    assert r["stdout"] == "job out\n" and r["output"] == "job out\n", r
    assert r["stderr"] == "" and r["exitCode"] == 0 and r["error"] is None, r
    assert isinstance(r["durationMs"], (int, float)) and r["durationMs"] >= 0, r
    assert r["warnings"] == [], r


def test_job_that_fails_is_failed(orch):
    jid = orch.submit_job("print('a')\n1/0\n")
    st = orch.wait_job(jid)
    assert st["status"] == "failed", st
    assert "ZeroDivisionError" in st["error"], st
    _, logs, _ = orch.get(f"/api/logs/{jid}")
    r = logs["result"]
    assert r["stdout"] == "a\n" and "ZeroDivisionError: division by zero" in r["stderr"], r
    assert r["exitCode"] not in (0, None) and "ZeroDivisionError" in r["error"], r
    assert any("failed" in line for line in logs["logs"]), logs


def test_job_that_times_out_is_failed(orch):
    jid = orch.submit_job("import time\nprint('t', flush=True)\ntime.sleep(10)\n", timeout=1)
    st = orch.wait_job(jid, timeout=15)
    assert st["status"] == "failed", st
    assert "Timed out" in st["error"], st
    _, logs, _ = orch.get(f"/api/logs/{jid}")
    assert logs["result"]["stdout"] == "t\n", logs


def test_job_cancel_stops_the_run(orch):
    jid = orch.submit_job("import time\nprint('started', flush=True)\ntime.sleep(30)\n")
    orch.wait_job(jid, statuses=("running",))
    # wait until the agent really runs it (the status names the execution)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        st = orch.get(f"/api/status/{jid}")[1]
        if st.get("executionId"):
            break
        time.sleep(0.02)
    t0 = time.monotonic()
    s, res, _ = orch.post(f"/api/cancel/{jid}")
    assert s == 200, res
    assert res["jobId"] == jid and res["status"] == "cancelled", res
    assert time.monotonic() - t0 < 5
    time.sleep(0.5)
    st = orch.get(f"/api/status/{jid}")[1]
    assert st["status"] == "cancelled", st
    # the agent really stopped it
    agent_url = st["agent"]
    port = int(agent_url.rsplit(":", 1)[1])
    from orch_fixtures import Http
    a = Http()
    a.port = port
    s, ex, _ = a.get(f"/execution/{st['executionId']}", headers=orch.agent_headers)
    assert s == 200 and ex["status"] == "cancelled", ex
    _, logs, _ = orch.get(f"/api/logs/{jid}")
    assert logs["status"] == "cancelled" and logs["result"]["error"] == "cancelled", logs
    # cancelling again is fine; cancelling a finished job is a conflict
    s, res, _ = orch.post(f"/api/cancel/{jid}")
    assert s == 200 and res["status"] == "cancelled", res
    done = orch.submit_job("1")
    orch.wait_job(done)
    s, res, _ = orch.post(f"/api/cancel/{done}")
    assert s == 409 and res["status"] == "completed", res


def test_job_scenario_reaches_the_agent(orch):
    scn = {"networkLatencyMs": 100, "simulateCrash": False, "allowHosts": ["example.com"]}
    jid = orch.submit_job("print(1)", scenario=scn)
    st = orch.wait_job(jid)
    assert st["status"] == "completed", st
    assert isinstance(st["warnings"], list) and st["result"]["scenario"] == scn, st
    _, logs, _ = orch.get(f"/api/logs/{jid}")
    r = logs["result"]
    assert r["scenario"] == scn, r
    assert isinstance(r["warnings"], list) and logs["warnings"] == r["warnings"], logs
    assert not any("not applied yet" in w for w in r["warnings"]), r
    assert "connections" in r["network"] and r["artificial_delay_s"] == 0, r
    assert any("with a scenario" in line for line in logs["logs"]), logs


def test_job_scenario_crash(orch):
    jid = orch.submit_job("print('up', flush=True)\n", scenario={"simulateCrash": True})
    st = orch.wait_job(jid)
    assert st["status"] == "failed", st
    r = st["result"]
    assert r["exitReason"] == "signaled" and "SIGSEGV" in r["error"], r
    assert r["scenario"] == {"simulateCrash": True}, r


@pytest.mark.parametrize("body,field,needle", [
    ({"language": "python"}, "code", "code"),
    ({"code": 5}, "code", "string"),
    ({"code": "1", "scenario": "fast"}, "scenario", "object"),
    ({"code": "1", "scenario": {"latencyMs": 1}}, "scenario.latencyMs", "latencyMs"),
    ({"code": "1", "scenario": {"bandwidthKbps": 0}}, "scenario.bandwidthKbps", "> 0"),
    ({"code": "1", "scenario": {"networkLatencyMs": -1}}, "scenario.networkLatencyMs", ">= 0"),
    ({"code": "1", "scenario": {"simulateCrash": "yes"}}, "scenario.simulateCrash", "boolean"),
    ({"code": "1", "scenario": {"upstream": "nohost"}}, "scenario.upstream", "host:port"),
    ({"code": "1", "scenario": {"allowHosts": [1]}}, "scenario.allowHosts", "allowHosts"),
    ({"code": "1", "language": "cobol"}, "language", "cobol"),
    ("{not json", "body", "JSON"),
])
def test_job_bad_requests(orch, body, field, needle):
    st, res, _ = orch.post("/api/run", body)
    assert st == 400, (st, res)
    assert res["error"]["code"] == "invalid_request" and res["error"]["field"] == field, res
    assert needle in res["error"]["message"], res


def test_job_list_and_lookups(orch):
    a = orch.submit_job("1/0")
    b = orch.submit_job("1/0")
    orch.wait_job(a)
    orch.wait_job(b)
    st, res, _ = orch.get("/api/jobs?status=failed")
    assert st == 200, res
    ids = [j["jobId"] for j in res["jobs"]]
    assert ids.index(b) < ids.index(a), ids  # newest first
    assert all(j["status"] == "failed" for j in res["jobs"]), res
    assert res["total"] >= 2 and res["count"] == len(res["jobs"]), res
    st, res, _ = orch.get("/api/jobs?limit=1")
    assert st == 200 and len(res["jobs"]) == 1, res
    st, res, _ = orch.get("/api/jobs?status=bogus")
    assert st == 400 and res["error"]["field"] == "status", res
    st, res, _ = orch.get(f"/api/status/{uuid.uuid4()}")
    assert st == 404 and res["error"]["code"] == "not_found", res
    st, res, _ = orch.get("/api/logs/not-an-id")
    assert st == 404, res
    st, res, _ = orch.post(f"/api/cancel/{uuid.uuid4()}")
    assert st == 404, res


def test_job_markdown_code(orch):
    jid = orch.submit_job("```python\nprint('md job')\n```")
    orch.wait_job(jid)
    _, logs, _ = orch.get(f"/api/logs/{jid}")
    assert logs["result"]["stdout"] == "md job\n", logs
