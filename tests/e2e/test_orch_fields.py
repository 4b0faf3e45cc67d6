"""Issue 13 items 4, 6 and 11 through the orchestrator: every execution field the agent takes
reaches it from every dialect, an unknown field is a 400 (job API, Nadoo) or a warning (NVIDIA),
never silence; the NVIDIA dialect follows its reference server (timeout required, a compile
error's stderr starts with the traceback header); error bodies name their field and id."""
import pytest

from orch_fixtures import ORCH_BIN, Orchestrator, log_on_failure, wait_until

FAST_AGENT = "--spawn-arg=--preload="
POLICY_PROBE = "import os\nprint(os.sep)"  # refused by the restricted policy


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    if not ORCH_BIN.exists():
        pytest.fail(f"{ORCH_BIN} not found: run `make`")
    o = Orchestrator(tmp_path_factory.mktemp("orch_fields"), FAST_AGENT)
    yield o
    log_on_failure(o)
    assert o.stop() == 0


def job(orch, body):
    st, res, _ = orch.post("/api/run", body)
    assert st == 202, res
    return orch.wait_job(res["jobId"])


def v1_async(orch, body):
    st, res, _ = orch.post("/api/v1/execute/async", body)
    assert st == 202, res
    eid = res["execution_id"]
    out = {}

    def done():
        _, out["r"], _ = orch.get(f"/api/v1/status/{eid}")
        return out["r"]["status"] not in ("queued", "running")

    assert wait_until(done, 30), out
    return out["r"]


# -- item 4: the policy is applied or refused, in every dialect ---------------------------------

def test_restricted_policy_is_applied_in_every_dialect(orch):
    res = orch.run_ok(POLICY_PROBE, policy="restricted")
    assert res["process_status"] == "error" and "PolicyViolation" in res["stderr"], res
    assert res["exit_reason"] == "policy", res
    st, res, _ = orch.post("/api/v1/execute", {"code": POLICY_PROBE, "policy": "restricted"})
    assert st == 200 and res["status"] == "error" and res["exit_reason"] == "policy", res
    j = job(orch, {"code": POLICY_PROBE, "policy": "restricted"})
    assert j["status"] == "failed" and j["result"]["exitReason"] == "policy", j
    r = v1_async(orch, {"code": POLICY_PROBE, "policy": "restricted"})
    assert r["status"] == "error" and r["exit_reason"] == "policy", r
    st, res, _ = orch.post("/api/v1/batch", {"executions": [
        {"code": POLICY_PROBE, "policy": "restricted"}, {"code": POLICY_PROBE}]})
    assert st == 200, res
    assert [x["exit_reason"] for x in res["results"]] == ["policy", "exited"], res
    # The standard policy still runs it.
    assert orch.run_ok(POLICY_PROBE)["stdout"] == "/\n"


def test_policy_override_refused_by_the_agent_is_a_clear_400(tmp_path):
    o = Orchestrator(tmp_path / "o", FAST_AGENT, "--spawn-arg=--policy=restricted")
    try:
        st, res, _ = o.execute(POLICY_PROBE, policy="standard")
        assert st == 400 and res["error"]["field"] == "policy", res
        assert "not allowed" in res["stderr"] and res["process_status"] == "error", res
        st, res, _ = o.post("/api/v1/execute", {"code": POLICY_PROBE, "policy": "standard"})
        assert st == 400 and res["error"]["field"] == "policy", res
        # Without the field the agent's own policy applies.
        res = o.run_ok(POLICY_PROBE)
        assert res["exit_reason"] == "policy", res
    finally:
        log_on_failure(o)
        assert o.stop() == 0


def test_bad_policy_is_a_400_before_any_job(orch):
    for path, body in (("/execute", {"generated_code": "1", "timeout": 5, "policy": "strict"}),
                       ("/api/run", {"code": "1", "policy": "strict"}),
                       ("/api/v1/execute", {"code": "1", "policy": "strict"})):
        st, res, _ = orch.post(path, body)
        assert st == 400 and res["error"]["field"] == "policy", (path, res)


# -- item 4: the other execution fields ---------------------------------------------------------

def test_debug_mode_and_trace_reach_the_agent(orch):
    code = "x = 41\ny = x + 1\nprint(y)"
    res = orch.run_ok(code, debug_mode=True, trace=True, trace_limit=50)
    assert "x" in res["debug_info"]["variables_after"], res
    assert "debug_info" not in orch.run_ok(code), "debug_info without debug_mode"
    st, res, _ = orch.post("/api/v1/execute", {"code": code, "debug_mode": True})
    assert st == 200 and "y" in res["debug_info"]["variables_after"], res
    j = job(orch, {"code": code, "debug_mode": True})
    assert "y" in j["result"]["debug_info"]["variables_after"], j


def test_job_api_honours_stdin_env_and_input_data(orch):
    code = ("import os, sys\nprint(sys.stdin.read().strip(), os.environ['GREETING'],"
            " input_data['n'])")
    body = {"code": code, "stdin": "from-stdin\n", "env": {"GREETING": "hi"},
            "input_data": {"n": 7}}
    j = job(orch, body)
    assert j["status"] == "completed" and j["result"]["stdout"] == "from-stdin hi 7\n", j
    r = v1_async(orch, body)
    assert r["stdout"] == "from-stdin hi 7\n", r
    st, res, _ = orch.post("/api/v1/execute", body)
    assert st == 200 and res["stdout"] == "from-stdin hi 7\n", res
    res = orch.run_ok(code, stdin="from-stdin\n", env={"GREETING": "hi"}, input_data={"n": 7})
    assert res["stdout"] == "from-stdin hi 7\n", res
    # Checked as the agent checks them, before a job is queued.
    st, res, _ = orch.post("/api/run", {"code": "1", "env": {"1A": "x"}})
    assert st == 400 and res["error"]["field"] == "env", res


def test_max_output_bytes_reaches_the_agent(orch):
    res = orch.run_ok("print('x' * 5000)", max_output_bytes=100)
    assert res["truncated"] is True and len(res["stdout"]) < 200, res
    j = job(orch, {"code": "print('x' * 5000)", "max_output_bytes": 100})
    assert len(j["result"]["stdout"]) < 200, j


# -- item 4: unknown fields are never silent ---------------------------------------------------

def test_unknown_field_is_a_warning_in_the_nvidia_dialect(orch):
    res = orch.run_ok("print(1)", lang="python", execution_id="abc")
    assert res["process_status"] == "completed", res
    assert "unknown field 'lang' ignored (did you mean 'language'?)" in res["warnings"], res
    assert "unknown field 'execution_id' ignored" in res["warnings"], res
    # Merged with what the agent says of a scenario.
    res = orch.run_ok("print(1)", lang="python", scenario={"artificialDelayMs": 1})
    assert res["warnings"][0].startswith("unknown field 'lang'"), res
    assert "warnings" not in orch.run_ok("print(1)"), "warnings without a reason"


@pytest.mark.parametrize("path,body,field", [
    ("/api/run", {"code": "1", "lang": "python"}, "lang"),
    ("/api/run", {"code": "1", "Timeout": 3}, "Timeout"),
    ("/api/v1/execute", {"code": "1", "lang": "python"}, "lang"),
    ("/api/v1/execute/async", {"code": "1", "debug": True}, "debug"),
    ("/api/v1/batch", {"executions": [{"code": "1"}, {"code": "1", "lang": "js"}]},
     "executions[1].lang"),
])
def test_unknown_field_is_a_400_in_the_job_and_nadoo_dialects(orch, path, body, field):
    st, res, _ = orch.post(path, body)
    assert st == 400, res
    assert res["error"]["field"] == field and "unknown field" in res["error"]["message"], res
    if "lang" in field:
        assert "did you mean 'language'?" in res["error"]["message"], res


# -- item 6: the NVIDIA dialect as its reference server ----------------------------------------

def test_nvidia_syntax_error_has_a_traceback(orch):
    res = orch.run_ok("print(")
    assert res["process_status"] == "error", res
    assert res["stderr"].startswith("Traceback (most recent call last):\n"), res
    # The agent's error line ("... (line 1)") is not appended again under the compiler's.
    assert res["stderr"].count("SyntaxError") == 1, res
    # A runtime error's traceback is not doubled.
    res = orch.run_ok("1/0")
    assert res["stderr"].count("Traceback (most recent call last):") == 1, res


def test_nvidia_requires_timeout_other_dialects_default_it(orch):
    st, res, _ = orch.execute("print(1)", timeout=None)
    assert st == 400 and res["process_status"] == "error", res
    assert res["error"]["field"] == "timeout" and "timeout" in res["stderr"], res
    st, res, _ = orch.post("/api/v1/execute", {"code": "print(1)"})
    assert st == 200 and res["status"] == "success", res
    assert job(orch, {"code": "print(1)"})["status"] == "completed"


# -- item 11: error bodies, async status, odd ids ----------------------------------------------

def test_conflict_names_field_and_request_id(orch):
    st, res, _ = orch.post("/api/run", {"code": "print(1)"})
    jid = res["jobId"]
    assert orch.wait_job(jid)["status"] == "completed"
    st, res, hdrs = orch.post(f"/api/cancel/{jid}")
    assert st == 409, res
    assert res["error"]["field"] == "jobId" and res["error"]["request_id"] == hdrs["x-request-id"]
    assert res["status"] == "completed" and res["jobId"] == jid, res


def test_async_v1_status_has_no_warnings_without_a_scenario(orch):
    r = v1_async(orch, {"code": "print(1)"})
    assert r["status"] == "success" and "warnings" not in r, r
    r = v1_async(orch, {"code": "print(1)", "scenario": {"artificialDelayMs": 1}})
    assert r["warnings"] == [], r


@pytest.mark.parametrize("path,field", [
    ("/api/status/%00%ff", "jobId"), ("/api/logs/a%00b", "jobId"),
    ("/api/v1/status/%00%ff", "execution_id"),
])
def test_nul_and_bad_utf8_in_an_id_are_a_404_naming_it(orch, path, field):
    st, res, _ = orch.get(path)
    assert st == 404 and res["error"]["field"] == field, res
    msg = res["error"]["message"]
    assert "no such endpoint" not in msg and "%00" in msg, res
