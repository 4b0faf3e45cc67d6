"""Issue 13, the agent's parts: where a timeout happened (13), /adjust-processor's answers and
its state-directory lock (8), simulateMemoryLeak ends the execution as oom (10), the agent's
--help and GET / (11)."""
import subprocess
import time

import pytest

from conftest import AGENT_BIN
from test_adjust import Backend, items

UUID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def short(res):
    return {k: v for k, v in res.items() if k != "debug_info"}


# -- 8: /adjust-processor ------------------------------------------------------------------------

def first_answer(make_agent, code):
    """(status, body, items) of one adjustment whose first attempt the backend answers code."""
    be = Backend(codes=[code])
    try:
        ag = make_agent(backend_url=be.url)
        st, body, _ = ag.post("/adjust-processor", {"processor_id": "p", "adjustments": {"a": 1}})
        return st, body, items(ag)
    finally:
        be.stop()


def test_adjust_rejected_first_attempt_answers_a_rejection(make_agent):
    st, body, its = first_answer(make_agent, 422)
    assert st == 422, body
    assert body["status"] == "rejected" and body["http_status"] == 422, body
    assert body["error"]["field"] == "adjustments" and "422" in body["error"]["message"]
    assert [(it["id"], it["state"]) for it in its] == [(body["id"], "rejected")]


def test_adjust_retryable_failure_is_queued_with_its_reason(make_agent):
    st, body, _ = first_answer(make_agent, 503)
    assert st == 202 and body["status"] == "queued", body
    assert body["http_status"] == 503 and "503" in body["last_error"], body


def test_adjust_without_backend_says_so(make_agent):
    ag = make_agent()
    st, body, _ = ag.post("/adjust-processor", {"processor_id": "p-nb", "adjustments": {"a": 1}})
    assert st == 202 and body["status"] == "queued", body
    assert "no backend is configured" in body["last_error"], body
    (it,) = items(ag)
    assert it["state"] == "pending" and "no backend is configured" in it["last_error"], it


def test_state_dir_is_locked_against_a_second_agent(make_agent, tmp_path):
    state = tmp_path / "one-state"
    ag = make_agent(state_dir=str(state))
    p = subprocess.run([str(AGENT_BIN), "--port", "0", "--state-dir", str(state),
                        "--work-dir", str(tmp_path / "w2")],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert str(state) in p.stderr and "in use by another agent" in p.stderr, p.stderr
    assert ag.health()["status"] == "ok"
    # Once the first agent has gone, the directory is free again.
    assert ag.terminate() == 0
    ag2 = make_agent(state_dir=str(state))
    assert ag2.health()["status"] == "ok"


# -- 11: --help and GET / ------------------------------------------------------------------------

def test_help_names_no_future_languages():
    out = subprocess.run([str(AGENT_BIN), "--help"], capture_output=True, text=True,
                         timeout=10).stdout
    assert "later other languages" not in out
    assert "--languages" in out


def test_root_lists_every_endpoint_it_serves(agent):
    st, body, _ = agent.get("/")
    assert st == 200, body
    eps = body["endpoints"]
    assert "POST /adjust-processor" in eps and "GET /adjustments" in eps, eps
    assert "POST /sessions/{id}/execute" in eps and "PUT /sessions/{id}/files/{path}" in eps, eps
    for ep in eps:
        method, path = ep.split(" ", 1)
        sid = path.startswith("/sessions/")
        path = path.replace("{id}", "s-00000000-000000000000" if sid else UUID)
        path = path.replace("{path}", "a.txt").replace("{dir}", ".").replace("{name}", "python3")
        # Each one is served: anything but "no such endpoint" / "method not allowed".
        st, rbody, _ = agent.request(method, path, {} if method == "POST" else None)
        assert st not in (405,), (ep, st, rbody)
        # A 404 of a served route names the id it could not find; "no such endpoint" names none.
        found = ("session_id", "kernel_id", "kernel_name", "execution_id", "workspace")
        assert st != 404 or "Execution not found" in str(rbody) or (
            rbody["error"].get("field") in found), (ep, st, rbody)


# -- 10: simulateMemoryLeak ----------------------------------------------------------------------

def test_memory_leak_ends_the_program_as_oom(agent):
    code = 'import time\nprint("start", flush=True)\ntime.sleep(8)\nprint("end")\n'
    scn = {"simulateMemoryLeak": True, "leakMbPerSec": 400, "memoryLimitMb": 200}
    t0 = time.monotonic()
    res = agent.execute(code, timeout=20, scenario=scn)
    wall = time.monotonic() - t0
    iso = agent.health().get("isolation") or {}
    mem = iso.get("cgroup_memory")
    if not (mem.get("on") if isinstance(mem, dict) else mem):
        pytest.skip("no memory cgroup here: the leak ends as signaled (documented)")
    assert res["status"] == "failed" and res["exit_reason"] == "oom", short(res)
    assert res["stdout"] == "start\n", short(res)  # it never got to "end"
    assert wall < 6, wall


# -- 13: a timeout says where ----------------------------------------------------------------------

SPIN = ("def spin(n):\n"
        "    total = 0\n"
        "    while total >= 0:\n"
        "        total += n\n"
        "\n"
        "items = [1, 2, 3]\n"
        "print('before', flush=True)\n"
        "spin(len(items))\n")


def warm(ag):
    """One quick run first: a cold first start may take longer than the 1 s timeouts below
    (then the deadline comes before the code starts, which says so)."""
    assert ag.execute("print(1)", timeout=30)["status"] == "completed"


def test_timeout_reports_the_line_function_and_locals(agent):
    warm(agent)
    res = agent.execute(SPIN, timeout=1)
    assert res["status"] == "timeout" and res["exit_reason"] == "timeout", short(res)
    assert res["stdout"] == "before\n", short(res)
    line = res["stderr"].splitlines()[-1]
    assert line.startswith("Timed out at line ") and " in spin(): " in line, res["stderr"]
    where = res["debug_info"]["timeout"]
    assert where["function"] == "spin" and where["lineno"] in (3, 4), where
    assert line == f"Timed out at line {where['lineno']} in spin(): {where['line']}"
    outer, inner = where["stack"]
    assert (outer["name"], outer["lineno"], outer["line"]) == ("<module>", 8, "spin(len(items))")
    assert inner["locals"]["n"]["value"] == 3 and inner["locals"]["total"]["type"] == "int"
    assert res["debug_info"]["variables_after"]["items"]["value"] == [1, 2, 3]
    st, dbg, _ = agent.get(f"/debug/{res['execution_id']}")
    assert st == 200 and dbg["debug_info"]["timeout"] == where, dbg


def test_timeout_location_bounds_a_slow_repr(agent):
    code = ("class Slow:\n"
            "    def __repr__(self):\n"
            "        while True:\n"
            "            pass\n"
            "x = Slow()\n"
            "import time\n"
            "time.sleep(30)\n")
    warm(agent)
    t0 = time.monotonic()
    res = agent.execute(code, timeout=1)
    wall = time.monotonic() - t0
    assert res["status"] == "timeout", short(res)
    assert res["stderr"] == "Timed out at line 7 in <module>: time.sleep(30)\n", res["stderr"]
    assert res["debug_info"]["variables_after"]["x"]["repr"] == "<repr timed out>"
    assert wall < 3.5, wall


def test_timeout_without_debug_mode_still_prints_the_line(agent):
    warm(agent)
    res = agent.execute("import time\nwhile True:\n    time.sleep(0.01)\n", timeout=1,
                        debug_mode=False)
    assert res["status"] == "timeout", short(res)
    assert res["stderr"] == "Timed out at line 3 in <module>: time.sleep(0.01)\n", res["stderr"]
    assert res["debug_info"] is None


@pytest.mark.parametrize("code", [
    "import os\nos.system('sleep 30')\n",  # blocked in C (waitpid retries): never back in Python
    "import signal, time\nsignal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2])\n"
    "time.sleep(30)\n",  # the request cannot even be delivered
])
def test_program_stuck_in_c_still_times_out_on_time(agent, code):
    t0 = time.monotonic()
    res = agent.execute(code, timeout=1)
    wall = time.monotonic() - t0
    assert res["status"] == "timeout" and res["exit_reason"] == "timeout", short(res)
    assert "Timed out at" not in res["stderr"]
    assert wall < 3.5, wall
    assert agent.health()["status"] == "ok"


EXEC_SPIN = {"javascript": "while (true) {}\n", "c": "int main(void) { for (;;) {} }\n",
             "bash": "while true; do :; done\n"}


def test_exec_runtimes_are_killed_at_once_without_a_report(agent):
    langs = [lang for lang in EXEC_SPIN if lang in agent.health()["languages"]]
    if not langs:
        pytest.skip("no exec runtime installed")
    res = agent.execute(EXEC_SPIN[langs[0]], language=langs[0], timeout=1)
    assert res["status"] == "timeout", short(res)
    assert "Timed out at" not in res["stderr"] and res["debug_info"] is None, short(res)


def test_nvidia_dialect_stderr_ends_with_timed_out(tmp_path):
    from orch_fixtures import Orchestrator
    o = Orchestrator(tmp_path)
    try:
        assert o.run_ok("print(1)", timeout=30)["process_status"] == "completed"
        st, res, _ = o.execute(SPIN, timeout=1, language="python")
        assert st == 200 and res["process_status"] == "timeout", res
        lines = res["stderr"].splitlines()
        assert lines[-1] == "Timed out", res
        assert lines[-2].startswith("Timed out at line ") and "in spin():" in lines[-2], res
        assert res["stdout"] == "before\n"
    finally:
        o.stop()
