"""On the wire (issue 13 items 1, 2, 3, 7): every byte a program writes comes back in every
dialect, numbers keep Python's shortest round-trip form through every re-encoding, an unreadable
harness report never hides the program's own error, and a running execution shows its output so
far. One agent and one orchestrator in front of it (--agent), both real binaries on loopback."""
import http.client
import http.server
import json
import threading
import time

import pytest

from conftest import AGENT_BIN, Agent, wait_until
from orch_fixtures import ORCH_BIN, Orchestrator, log_on_failure

# stdout: NUL, an invalid byte (0xff), a valid é; stderr: NUL and a stray continuation byte.
BYTES_CODE = ("import sys\n"
              "sys.stdout.buffer.write(b'a\\x00b\\xffc\\xc3\\xa9\\n')\n"
              "sys.stderr.buffer.write(b'e\\x00\\x80f\\n')\n")
WANT_OUT = "a\x00b\ufffdc\u00e9\n"
WANT_ERR = "e\x00\ufffdf\n"


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    if not AGENT_BIN.exists():
        pytest.fail(f"{AGENT_BIN} not found: run `make`")
    ag = Agent(tmp_path_factory.mktemp("wire_agent"), {})
    yield ag
    ag.terminate()


@pytest.fixture(scope="module")
def orch(tmp_path_factory, agent):
    if not ORCH_BIN.exists():
        pytest.fail("build/sandpit-orchestrator missing: run `make`")
    o = Orchestrator(tmp_path_factory.mktemp("wire_orch"), "--agent", agent.url)
    yield o
    o.stop()


@pytest.fixture(autouse=True)
def _logs(request):
    yield
    if "orch" in request.fixturenames:
        log_on_failure(request.getfixturevalue("orch"))


def raw(port, method, path, body=None, timeout=60.0):
    """(status, raw body bytes): the text as sent, before any JSON reader rounds it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data,
                     headers={"Content-Type": "application/json"} if data else {})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def raw_json(port, method, path, body=None, timeout=60.0):
    st, text = raw(port, method, path, body, timeout)
    assert st < 500, (st, text)
    return st, json.loads(text), text


def wait_job(orch, job_id, path="/api/logs/"):
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        st, body, _ = raw_json(orch.port, "GET", path + job_id)
        assert st == 200, body
        if body["status"] not in ("queued", "running", "pending"):
            return body
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not finish")


# item 1: every byte, every dialect -------------------------------------------------------------

def test_bytes_agent(agent):
    st, res, text = raw_json(agent.port, "POST", "/execute", {"code": BYTES_CODE})
    assert st == 200
    assert b"\\u0000" in text
    assert res["status"] == "completed", res
    assert res["stdout"] == WANT_OUT and res["output"] == WANT_OUT
    assert res["stderr"] == WANT_ERR
    assert res["stdout_replaced"] is True and res["stderr_replaced"] is True
    # Valid output is not flagged.
    res = agent.execute("print('a\\x00b\\u00e9')")
    assert res["stdout"] == "a\x00b\u00e9\n"
    assert res["stdout_replaced"] is False and res["stderr_replaced"] is False


def test_bytes_nvidia(orch):
    st, res, _ = raw_json(orch.port, "POST", "/execute",
                          {"generated_code": BYTES_CODE, "timeout": 10, "language": "python"})
    assert st == 200, res
    assert res["process_status"] == "completed", res
    assert res["stdout"] == WANT_OUT and res["stderr"] == WANT_ERR
    assert res["stdout_replaced"] is True and res["stderr_replaced"] is True
    # The issue's own example.
    res = orch.run_ok('print("a\\u0000b")', timeout=10)
    assert res["process_status"] == "completed" and res["stdout"] == "a\x00b\n"


def test_bytes_jobs(orch):
    st, body, _ = raw_json(orch.port, "POST", "/api/run", {"language": "python",
                                                           "code": BYTES_CODE})
    assert st in (200, 202), body
    job = wait_job(orch, body["jobId"])
    assert job["status"] == "completed", job
    assert job["result"]["stdout"] == WANT_OUT and job["result"]["stderr"] == WANT_ERR
    assert job["result"]["stdout_replaced"] is True


def test_bytes_nadoo_sync_async_batch(orch):
    st, res, _ = raw_json(orch.port, "POST", "/api/v1/execute",
                          {"code": BYTES_CODE, "language": "python"})
    assert st == 200 and res["status"] == "success", res
    assert res["stdout"] == WANT_OUT and res["stderr"] == WANT_ERR
    assert res["stdout_replaced"] is True and res["stderr_replaced"] is True

    st, res, _ = raw_json(orch.port, "POST", "/api/v1/execute/async",
                          {"code": BYTES_CODE, "language": "python"})
    assert st in (200, 202), res
    res = wait_job(orch, res["execution_id"], "/api/v1/status/")
    assert res["status"] == "success", res
    assert res["stdout"] == WANT_OUT and res["stderr"] == WANT_ERR
    assert res["stdout_replaced"] is True

    st, res, _ = raw_json(orch.port, "POST", "/api/v1/batch",
                          {"executions": [{"code": BYTES_CODE, "language": "python"},
                                          {"code": "print('ok')", "language": "python"}]})
    assert st == 200, res
    results = res["results"] if isinstance(res, dict) else res
    assert results[0]["stdout"] == WANT_OUT and results[0]["stdout_replaced"] is True
    assert results[1]["stdout"] == "ok\n" and results[1]["stdout_replaced"] is False


# item 2: numbers --------------------------------------------------------------------------------

NUM_CODE = "third = 1/3\nfifth = 0.2\nbig = 1e300\ntiny = 5e-324\nthird"


def assert_shortest(text):
    assert b"0.3333333333333333" in text, text
    assert b"0.333333333," not in text and b"0.333333333}" not in text
    assert b"0.20000000000000001" not in text and b"0.33333333333333331" not in text


def test_numbers_agent(agent):
    st, res, text = raw_json(agent.port, "POST", "/execute", {"code": NUM_CODE})
    assert st == 200 and res["status"] == "completed", res
    assert res["result"] == 1 / 3
    assert b'"result":0.3333333333333333' in text
    assert_shortest(text)
    # debug_info carries the globals' values as the program held them.
    values = {k: v.get("value") for k, v in res["debug_info"]["variables_after"].items()}
    assert values["fifth"] == 0.2 and values["big"] == 1e300 and values["tiny"] == 5e-324
    assert b'"value":0.2,' in text or b'"value":0.2}' in text, text
    assert b"1e+300" in text and b"5e-324" in text


def test_numbers_orchestrator(orch):
    st, res, text = raw_json(orch.port, "POST", "/execute",
                             {"generated_code": NUM_CODE, "timeout": 10})
    assert st == 200 and res["process_status"] == "completed", res
    assert b'"result":0.3333333333333333' in text
    # input_data goes to the agent and back as written.
    st, res, text = raw_json(orch.port, "POST", "/execute",
                             {"generated_code": "print(repr(input_data['x']))\ninput_data['x']",
                              "timeout": 10, "input_data": {"x": 0.2}})
    assert st == 200 and res["stdout"] == "0.2\n", res
    assert b'"result":0.2,' in text or b'"result":0.2}' in text, text


class Backend:
    """Records the raw bodies of adjustments forwarded by the outbox."""

    def __init__(self):
        self.bodies = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                outer.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_numbers_adjustments_forwarded(make_agent):
    be = Backend()
    try:
        ag = make_agent(backend_url=be.url)
        st, text = raw(ag.port, "POST", "/adjust-processor",
                       {"processor_id": "p1", "adjustments": {"rate": 0.2, "share": 1 / 3},
                        "reason": "r"})
        assert st in (200, 202), text
        assert wait_until(lambda: be.bodies, 10)
        sent = be.bodies[0]
        assert json.loads(sent)["adjustments"] == {"rate": 0.2, "share": 1 / 3}
        assert b'"rate":0.2,' in sent and b'"share":0.3333333333333333}' in sent, sent
        st, text = raw(ag.port, "GET", "/adjustments")
        assert st == 200 and b'"rate":0.2,' in text, text
    finally:
        be.stop()


# item 3: a report that cannot be read ------------------------------------------------------------

@pytest.mark.parametrize("frame", [b'{"result": 100000000000000000000}', b"not json", b"[1]"])
def test_hostile_frame_keeps_the_programs_error(agent, frame):
    code = f"import os\nos.write(3, {frame!r})\n1/0\n"
    res = agent.execute(code)
    assert res["status"] == "failed", res
    assert res["exit_code"] == 1 and res["exit_reason"] == "exited"
    assert "ZeroDivisionError: division by zero" in res["stderr"]
    assert res["error"] == "ZeroDivisionError: division by zero", res
    assert res["error_type"] == "ZeroDivisionError"
    assert "could not be read" in res["report_error"]


def test_big_int_frame_on_success_completes(agent):
    res = agent.execute("import os\nos.write(3, b'{\"result\": 100000000000000000000}')\n"
                        "print('done')\n")
    assert res["status"] == "completed" and res["stdout"] == "done\n", res
    assert res["exit_code"] == 0 and res["error"] is None


# item 7: output so far ----------------------------------------------------------------------------

def test_running_execution_shows_output_so_far(agent):
    code = ("import sys, time\nprint('early', flush=True)\nsys.stderr.write('warn\\n')\n"
            "sys.stderr.flush()\ntime.sleep(3)\nprint('late')\n")
    st, body, _ = agent.post("/execute", {"code": code, "async": True})
    assert st == 202, body
    eid = body["execution_id"]
    seen = {}

    def running_with_output():
        st, res, _ = agent.get(f"/execution/{eid}")
        assert st == 200, res
        # stdout and stderr are two pipes: the agent may read one before the other.
        if res["status"] == "running" and res.get("stdout") == "early\n" and res.get("stderr"):
            seen.update(res)
            return True
        return False

    assert wait_until(running_with_output, 10), "never saw the output while running"
    assert seen["stderr"] == "warn\n" and seen["output"] == "early\n"
    assert seen["truncated"] is False
    # ?wait= answered before the end: the same view.
    st, res, _ = agent.get(f"/execution/{eid}?wait=0.2")
    assert st == 200 and res["status"] == "running" and res["stdout"] == "early\n", res
    assert wait_until(lambda: agent.get(f"/execution/{eid}")[1]["status"] == "completed", 15)
    assert agent.get(f"/execution/{eid}")[1]["stdout"] == "early\nlate\n"


def test_running_output_is_capped(agent):
    code = ("import sys, time\nsys.stdout.write('x' * 5000)\nsys.stdout.flush()\n"
            "time.sleep(3)\n")
    st, body, _ = agent.post("/execute", {"code": code, "async": True, "max_output_bytes": 1024})
    assert st == 202, body
    eid = body["execution_id"]
    got = {}

    def cut_while_running():
        res = agent.get(f"/execution/{eid}")[1]
        if res["status"] == "running" and res.get("stdout_truncated"):
            got.update(res)
            return True
        return False

    assert wait_until(cut_while_running, 10)
    assert got["stdout"].startswith("x" * 1024) and got["stdout"].endswith("<output cut>")
    assert got["truncated"] is True
    agent.delete(f"/execution/{eid}")
