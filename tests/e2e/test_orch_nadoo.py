"""The Nadoo dialect of sandpit-orchestrator (/api/v1): X-API-Key, synchronous, asynchronous
and batch executions, languages, health; with its default spawned agent."""
import re
import time
import uuid

import pytest

from orch_fixtures import AGENT_BIN, ORCH_BIN, UUID_RE, Orchestrator, log_on_failure

KEY = "nadoo-" + uuid.uuid4().hex
KEYS = f"other-key, {KEY}"
AUTH = {"X-API-Key": KEY}
FIELDS = {"execution_id", "status", "language", "stdout", "stderr", "exit_code",
          "execution_time", "error"}


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    if not (ORCH_BIN.exists() and AGENT_BIN.exists()):
        pytest.fail("build/sandpit-orchestrator or build/sandpit-agent missing: run `make`")
    # Keys from the environment, the documented way (flags show in ps).
    o = Orchestrator(tmp_path_factory.mktemp("orch_nadoo"), env_extra={"SANDPIT_API_KEYS": KEYS})
    yield o
    rc = o.stop()
    assert rc == 0, f"orchestrator exited with {rc} after SIGTERM:\n{o.log_text()}"


@pytest.fixture(autouse=True)
def _logs(request):
    yield
    if "orch" in request.fixturenames:
        log_on_failure(request.getfixturevalue("orch"))


def run(orch, body, path="/api/v1/execute", timeout=60.0):
    return orch.post(path, body, headers=AUTH, timeout=timeout)


def run_ok(orch, body, **kw):
    st, res, _ = run(orch, body, **kw)
    assert st == 200, (st, res)
    assert set(res) >= FIELDS, res
    return res


def wait_status(orch, eid, timeout=30.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        st, last, _ = orch.get(f"/api/v1/status/{eid}", headers=AUTH)
        assert st == 200, (st, last)
        if last["status"] not in ("queued", "running"):
            return last
        time.sleep(0.02)
    raise AssertionError(f"{eid} still {last!r}")


# -- X-API-Key ----------------------------------------------------------------------------------

@pytest.mark.parametrize("headers,needle", [
    ({}, "missing X-API-Key"),
    ({"X-API-Key": "wrong"}, "does not hold a valid key"),
    ({"X-API-Key": KEY + "x"}, "does not hold a valid key"),
    ({"X-API-Key": KEY[:-1]}, "does not hold a valid key"),
    ({"X-API-Key": ""}, "valid key"),
])
def test_key_required(orch, headers, needle):
    for method, path, body in (("POST", "/api/v1/execute", {"code": "print(1)"}),
                               ("GET", "/api/v1/languages", None),
                               ("GET", f"/api/v1/status/{uuid.uuid4()}", None),
                               ("POST", "/api/v1/batch", {"executions": [{"code": "1"}]})):
        st, res, hdrs = orch.request(method, path, body, headers=headers)
        assert st == 401, (path, st, res)
        assert hdrs["content-type"] == "application/json"
        assert res["error"]["code"] == "unauthorized", res
        assert res["error"]["field"] == "X-API-Key", res
        assert needle in res["error"]["message"], res


def test_every_key_works_and_health_is_open(orch):
    assert run_ok(orch, {"code": "print(1)"})["status"] == "success"
    st, res, _ = orch.post("/api/v1/execute", {"code": "print(1)"},
                           headers={"X-API-Key": "other-key"})
    assert st == 200 and res["status"] == "success", res
    st, res, _ = orch.get("/api/v1/health")
    assert st == 200 and res["status"] == "healthy" and res["auth_required"] is True, res
    # every door wants the key (issue 15): the NVIDIA dialect too, in either header
    st, res, _ = orch.execute("print(1)")
    assert st == 401 and res["error"]["field"] == "X-API-Key", res
    st, res, _ = orch.execute("print(1)", headers={"Authorization": f"Bearer {KEY}"})
    assert st == 200 and res["process_status"] == "completed", res
    # the keys never reach the log
    assert KEY not in orch.log_text(100000), "API key in the log"


def test_no_keys_no_auth(tmp_path):
    o = Orchestrator(tmp_path / "open")
    try:
        st, res, _ = o.post("/api/v1/execute", {"code": "print(3)"})
        assert st == 200 and res["stdout"] == "3\n", res
        assert o.get("/api/v1/health")[1]["auth_required"] is False
    finally:
        log_on_failure(o)
        assert o.stop() == 0


# -- POST /api/v1/execute ---------------------------------------------------------------------

def test_execute_success(orch):
    res = run_ok(orch, {"code": "print('hi')\n", "language": "python", "timeout": 10})
    assert res["status"] == "success", res
    assert res["stdout"] == "hi\n" and res["stderr"] == "", res
    assert res["exit_code"] == 0 and res["error"] is None, res
    assert res["language"] == "python", res
    assert re.match(UUID_RE, res["execution_id"]), res
    assert isinstance(res["execution_time"], (int, float)), res
    assert "warnings" not in res and "scenario" not in res, res


def test_execute_trailing_slash_and_alias(orch):
    res = run_ok(orch, {"code": "print(2)", "language": "py"}, path="/api/v1/execute/")
    assert res["status"] == "success" and res["stdout"] == "2\n", res


def test_execute_error(orch):
    res = run_ok(orch, {"code": "print('a')\n1/0\n"})
    assert res["status"] == "error", res
    assert res["stdout"] == "a\n" and "ZeroDivisionError" in res["stderr"], res
    assert "ZeroDivisionError" in res["error"] and res["exit_code"] not in (0, None), res


def test_execute_timeout(orch):
    t0 = time.monotonic()
    res = run_ok(orch, {"code": "import time\nprint('p', flush=True)\ntime.sleep(10)\n",
                        "timeout": 1})
    assert time.monotonic() - t0 < 6
    assert res["status"] == "timeout" and res["stdout"] == "p\n" and res["error"], res


def test_stdin_input_and_env(orch):
    code = "import os, sys\nprint(sys.stdin.read().upper(), os.environ.get('GREETING'))\n"
    res = run_ok(orch, {"code": code, "stdin": "abc", "env": {"GREETING": "hello"}})
    assert res["stdout"] == "ABC hello\n", res
    res = run_ok(orch, {"code": code, "input": "xyz"})
    assert res["stdout"] == "XYZ None\n", res


def test_code_formats(orch):
    res = run_ok(orch, {"code": "Here you go:\n```python\nprint('md')\n```\nDone."})
    assert res["stdout"] == "md\n", res
    res = run_ok(orch, {"code": "{'code': \"print('dict')\"}"})
    assert res["stdout"] == "dict\n", res


def test_other_language(orch):
    langs = orch.get("/api/v1/languages", headers=AUTH)[1]["languages"]
    if "sh" not in [lang["name"] for lang in langs]:
        pytest.skip("no sh runtime on this host")
    res = run_ok(orch, {"code": "echo \"$((6*7))\"; exit 3", "language": "sh"})
    assert res["status"] == "error" and res["exit_code"] == 3, res
    assert res["stdout"] == "42\n" and res["language"] == "sh", res


def test_scenario(orch):
    t0 = time.monotonic()
    res = run_ok(orch, {"code": "print(1)", "scenario": {"artificialDelayMs": 300}})
    assert time.monotonic() - t0 >= 0.3
    assert res["status"] == "success" and res["artificial_delay_s"] == pytest.approx(0.3), res
    assert res["scenario"] == {"artificialDelayMs": 300} and res["warnings"] == [], res
    res = run_ok(orch, {"code": "print(1)", "scenario": {"simulateCrash": True}})
    assert res["status"] == "error" and "SIGSEGV" in (res["error"] + res["stderr"]), res
    res = run_ok(orch, {"code": "print(1)", "scenario": {"networkLatencyMs": 10}})
    assert "connections" in res["network"], res


@pytest.mark.parametrize("body,field,needle", [
    ("{not json", "body", "JSON"),
    ("[1]", "body", "object"),
    ({"language": "python"}, "code", "code"),
    ({"code": 1}, "code", "string"),
    ({"code": "1", "language": "cobol"}, "language", "cobol"),
    ({"code": "1", "timeout": 0}, "timeout", "> 0"),
    ({"code": "1", "timeout": "5"}, "timeout", "number"),
    ({"code": "1", "stdin": 5}, "stdin", "string"),
    ({"code": "1", "stdin": "a", "input": "b"}, "input", "not both"),
    ({"code": "1", "env": {"A": 1}}, "env", "string"),
    ({"code": "1", "scenario": {"cpuLimit": -1}}, "scenario.cpuLimit", ">= 0"),
    ({"code": "1", "scenario": {"bogus": 1}}, "scenario.bogus", "bogus"),
])
@pytest.mark.parametrize("path", ["/api/v1/execute", "/api/v1/execute/async"])
def test_bad_request(orch, path, body, field, needle):
    st, res, hdrs = run(orch, body, path=path)
    assert st == 400, (st, res)
    assert hdrs["content-type"] == "application/json"
    assert res["error"]["code"] == "invalid_request", res
    assert res["error"]["field"] == field, res
    assert needle in res["error"]["message"], res


def test_too_large(orch):
    st, res, _ = run(orch, {"code": "#" * (11 << 20)})
    assert st == 413 and res["error"]["code"] == "too_large", (st, str(res)[:200])


# -- async and status -------------------------------------------------------------------------

def test_async_lifecycle(orch):
    st, res, _ = run(orch, {"code": "import time\ntime.sleep(0.5)\nprint('async')",
                            "scenario": {"artificialDelayMs": 100}},
                     path="/api/v1/execute/async")
    assert st == 202, (st, res)
    assert res["status"] == "queued" and re.match(UUID_RE, res["execution_id"]), res
    eid = res["execution_id"]
    st, early, _ = orch.get(f"/api/v1/status/{eid}", headers=AUTH)
    assert st == 200 and early["status"] in ("queued", "running", "success"), early
    done = wait_status(orch, eid)
    assert done["status"] == "success" and done["stdout"] == "async\n", done
    assert done["execution_id"] == eid and done["exit_code"] == 0, done
    assert done["scenario"] == {"artificialDelayMs": 100}, done
    assert done["artificial_delay_s"] == pytest.approx(0.1), done
    assert set(done) >= FIELDS, done
    # the alias path answers the same
    st, again, _ = orch.get(f"/api/v1/execute/status/{eid}", headers=AUTH)
    assert st == 200 and again == done, again


def test_async_error_and_timeout(orch):
    st, a, _ = run(orch, {"code": "1/0"}, path="/api/v1/execute/async")
    st2, b, _ = run(orch, {"code": "import time\ntime.sleep(9)", "timeout": 1},
                    path="/api/v1/execute/async")
    assert st == st2 == 202, (a, b)
    ra = wait_status(orch, a["execution_id"])
    assert ra["status"] == "error" and "ZeroDivisionError" in ra["error"], ra
    rb = wait_status(orch, b["execution_id"])
    assert rb["status"] == "timeout" and rb["error"], rb


def test_status_unknown(orch):
    st, res, _ = orch.get(f"/api/v1/status/{uuid.uuid4()}", headers=AUTH)
    assert st == 404 and res["error"]["field"] == "execution_id", res
    st, res, _ = orch.get("/api/v1/status/not-an-id", headers=AUTH)
    assert st == 404 and res["error"]["code"] == "not_found", res


# -- batch ------------------------------------------------------------------------------------

def test_batch_order_and_outcomes(orch):
    body = {"executions": [
        {"code": "print('first')"},
        {"code": "1/0"},
        {"code": "import time\ntime.sleep(9)", "timeout": 1},
        {"code": "print(input())", "input": "fourth"},
        {"code": "print(5)", "scenario": {"artificialDelayMs": 50}},
    ]}
    st, res, _ = run(orch, body, path="/api/v1/batch")
    assert st == 200, (st, res)
    r = res["results"]
    assert [x["status"] for x in r] == ["success", "error", "timeout", "success", "success"], r
    assert r[0]["stdout"] == "first\n" and r[3]["stdout"] == "fourth\n", r
    assert "ZeroDivisionError" in r[1]["error"], r
    assert r[4]["artificial_delay_s"] == pytest.approx(0.05), r
    assert all(set(x) >= FIELDS for x in r), r


def test_batch_runs_concurrently(orch):
    n = 4
    body = {"executions": [{"code": "import time\ntime.sleep(1)\nprint(%d)" % i}
                           for i in range(n)]}
    t0 = time.monotonic()
    st, res, _ = run(orch, body, path="/api/v1/batch")
    took = time.monotonic() - t0
    assert st == 200, res
    assert [x["stdout"] for x in res["results"]] == [f"{i}\n" for i in range(n)], res
    assert took < n * 1.0 - 0.5, took


@pytest.mark.parametrize("body,field,needle", [
    ({}, "executions", "array"),
    ({"executions": []}, "executions", "1 to 32"),
    ({"executions": [{"code": "1"}] * 33}, "executions", "got 33"),
    ({"executions": [{"code": "1"}, {"language": "python"}]}, "executions[1].code", "code"),
    ({"executions": ["print(1)"]}, "executions[0]", "object"),
    ({"executions": [{"code": "1"}, {"code": "1", "language": "cobol"}]},
     "executions[1].language", "cobol"),
    ({"executions": [{"code": "1", "scenario": {"jitterMs": -1}}]},
     "executions[0].scenario.jitterMs", ">= 0"),
])
def test_batch_bad_request(orch, body, field, needle):
    st, res, _ = run(orch, body, path="/api/v1/batch")
    assert st == 400, (st, res)
    assert res["error"]["field"] == field and needle in res["error"]["message"], res


# -- languages and health ---------------------------------------------------------------------

def test_languages(orch):
    st, res, _ = orch.get("/api/v1/languages", headers=AUTH)
    assert st == 200, res
    names = [lang["name"] for lang in res["languages"]]
    assert "python" in names and names == sorted(names) and res["count"] == len(names), res
    py = res["languages"][names.index("python")]
    assert py["version"] and "3." in py["version"], py
    assert "py" in py["aliases"] and py["available"] is True and py["agents_up"] >= 1, py
    assert all(a.startswith("http://") for a in py["agents"]), py


def test_language_info(orch):
    st, res, _ = orch.get("/api/v1/language/py/info", headers=AUTH)
    assert st == 200 and res["name"] == "python" and res["available"] is True, res
    assert res["version"], res
    st, res, _ = orch.get("/api/v1/language/cobol/info", headers=AUTH)
    assert st == 404 and res["error"]["field"] == "language", res
    assert "cobol" in res["error"]["message"], res
    st, res, _ = orch.get("/api/v1/language/a%20b/info", headers=AUTH)
    assert st == 404 and res["error"]["code"] == "not_found", res


def test_health(orch):
    st, res, _ = orch.get("/api/v1/health")
    assert st == 200, res
    assert res["status"] == "healthy" and res["agents_up"] >= 1, res
    assert "python" in res["languages"], res
    # wrong method, unknown path
    st, res, hdrs = orch.post("/api/v1/health", {})
    assert st == 405 and hdrs["allow"] == "GET", res
    st, res, _ = orch.get("/api/v1/nope", headers=AUTH)
    assert st == 404 and res["error"]["code"] == "not_found", res
