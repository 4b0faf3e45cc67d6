"""Files in and out through sandpit-orchestrator (docs/orchestrator.md "Files in and out"):
`files` and `collect` on /api/v1/execute (and async, batch), the job API, the NVIDIA /execute
(an extra field; its own fields unchanged) and session cells; refused entries named before any
agent is asked; download URLs the orchestrator serves itself (proxied to the agent that ran the
execution), the 50 MB done-when file checked by sha256, and 404 for an execution it never
relayed."""
import base64
import hashlib
import time
import uuid

import pytest

from orch_fixtures import AGENT_BIN, ORCH_BIN, Agent, Orchestrator, log_on_failure
from test_files_io import by_path, raw_get

PREFIX = "/api/v1/executions/"


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    if not (ORCH_BIN.exists() and AGENT_BIN.exists()):
        pytest.fail("build/sandpit-orchestrator or build/sandpit-agent missing: run `make`")
    base = tmp_path_factory.mktemp("orch_files")
    ag = Agent(base / "agent", "--preload=")
    try:
        o = Orchestrator(base / "orch", "--agent", f"python={ag.url}", "--agent",
                         f"bash={ag.url}", "--health-interval", "0.5")
    except BaseException:
        ag.stop()
        raise
    yield o
    log_on_failure(o, ag)
    rc = o.stop()
    ag.stop()
    assert rc == 0, f"orchestrator exited with {rc}:\n{o.log_text()}"


def check_download(o, f, expect=None):
    assert f["url"].startswith(PREFIX), f
    st, body, hdrs = raw_get(o, f["url"])
    assert st == 200, (st, body[:300])
    assert hdrs["x-content-type-options"] == "nosniff"
    assert int(hdrs["content-length"]) == f["size"] == len(body)
    assert hashlib.sha256(body).hexdigest() == f["sha256"]
    if expect is not None:
        assert body == expect


def test_v1_execute_files_in_collect_and_the_50_mb_download(orch):
    st, res, _ = orch.post("/api/v1/execute", {
        "code": "import os\n"
                "print(open('in/x.txt').read())\n"
                "open('small.csv', 'w').write('a,b')\n"
                "with open('out/big.bin', 'wb') as f:\n"
                "    for i in range(50):\n"
                "        f.write(os.urandom(1024 * 1024))\n",
        "timeout": 120,
        "files": [{"path": "in/x.txt", "content": "aGVsbG8=", "encoding": "base64"},
                  {"path": "out/.keep", "content": ""}],
        "collect": ["*.csv", "out/**"]}, timeout=240)
    assert st == 200, (st, res)
    assert res["status"] == "success" and res["stdout"] == "hello\n", res
    files = by_path(res)
    assert set(files) == {"small.csv", "out/big.bin"}, files
    assert base64.b64decode(files["small.csv"]["content"]) == b"a,b"
    big = files["out/big.bin"]
    assert big["content"] is None and big["truncated"] is True and big["size"] == 50 << 20
    assert big["url"] == PREFIX + res["execution_id"] + "/files/out/big.bin"
    check_download(orch, big)
    check_download(orch, files["small.csv"], b"a,b")


def test_v1_refused_entries_named(orch):
    st, body, _ = orch.post("/api/v1/execute", {
        "code": "print(1)", "files": [{"path": "ok", "content": ""},
                                      {"path": "../x", "content": ""}]})
    assert st == 400 and body["error"]["field"] == "files[1].path", (st, body)
    st, body, _ = orch.post("/api/v1/execute", {"code": "print(1)", "collect": ["/etc/*"]})
    assert st == 400 and body["error"]["field"] == "collect[0]", (st, body)
    st, body, _ = orch.post("/api/v1/batch", {"executions": [
        {"code": "print(1)"},
        {"code": "print(2)", "files": [{"path": "a", "content": "!", "encoding": "base64"}]}]})
    assert st == 400 and body["error"]["field"] == "executions[1].files[0].content", (st, body)
    st, body, _ = orch.post("/api/run", {"language": "python", "code": "1",
                                         "files": [{"path": "/abs", "content": ""}]})
    assert st == 400 and body["error"]["field"] == "files[0].path", (st, body)


def wait_v1(orch, eid, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st, res, _ = orch.get(f"/api/v1/status/{eid}")
        assert st == 200, (st, res)
        if res["status"] not in ("queued", "running"):
            return res
        time.sleep(0.05)
    raise AssertionError(f"{eid} still running")


def test_v1_async_and_batch(orch):
    st, acc, _ = orch.post("/api/v1/execute/async", {
        "code": "open('r.txt', 'w').write('async' * 400000)", "collect": ["r.txt"]})
    assert st == 202, (st, acc)
    res = wait_v1(orch, acc["execution_id"])
    assert res["status"] == "success", res
    f = by_path(res)["r.txt"]
    assert f["truncated"] is True, f
    check_download(orch, f, b"async" * 400000)
    st, body, _ = orch.post("/api/v1/batch", {"executions": [
        {"code": "open('a.txt', 'w').write('A')", "collect": ["*.txt"]},
        {"code": "print(open('i.txt').read())", "files": [{"path": "i.txt", "content": "I"}]}]})
    assert st == 200, (st, body)
    first, second = body["results"]
    check_download(orch, by_path(first)["a.txt"], b"A")
    assert second["stdout"] == "I\n" and "files" not in second, second


def test_job_api(orch):
    job = orch.submit_job("open('j.bin', 'wb').write(bytes(range(256)) * 10000)",
                          collect=["*.bin"])
    res = orch.wait_job(job, timeout=60)
    assert res["status"] == "completed", res
    f = by_path(res["result"])["j.bin"]
    check_download(orch, f, bytes(range(256)) * 10000)


def test_nvidia_execute_extra_field(orch):
    st, res, _ = orch.execute("print(open('in.txt').read().upper())\n"
                              "open('o.txt', 'w').write('nv')",
                              files=[{"path": "in.txt", "content": "tool"}], collect=["o.txt"])
    assert st == 200, (st, res)
    # The contract's own fields, as ever; the files ride in an extra one.
    assert res["process_status"] == "completed" and res["stdout"] == "TOOL\n", res
    f = by_path(res)["o.txt"]
    assert base64.b64decode(f["content"]) == b"nv"
    check_download(orch, f, b"nv")
    # Bash too: files are written before any language runs.
    st, res, _ = orch.execute("cat in.txt; echo bash > b.txt", language="bash",
                              files=[{"path": "in.txt", "content": "b-in"}], collect=["b.txt"])
    assert st == 200 and res["stdout"] == "b-in", (st, res)
    assert base64.b64decode(by_path(res)["b.txt"]["content"]) == b"bash\n"


def test_session_cell(orch):
    st, s, _ = orch.post("/api/v1/sessions", {})
    assert st == 201, (st, s)
    sid = s["session_id"]
    try:
        st, res, _ = orch.post(f"/api/v1/sessions/{sid}/execute", {
            "code": "open('c.csv', 'w').write(open('seed.txt').read() * 3)",
            "files": [{"path": "seed.txt", "content": "s"}], "collect": ["*.csv"]})
        assert st == 200 and res["status"] == "completed", (st, res)
        check_download(orch, by_path(res)["c.csv"], b"sss")
    finally:
        orch.delete(f"/api/v1/sessions/{sid}")


def test_unknown_execution_and_bad_urls(orch):
    st, body, hdrs = orch.get(f"{PREFIX}{uuid.uuid4()}/files/x.txt")
    assert st == 404 and body["error"]["field"] == "execution_id", (st, body)
    st, body, _ = orch.get(f"{PREFIX}not-a-uuid-at-all-not-a-uuid-at-all1/files/x")
    assert st in (400, 404), (st, body)
    st, body, _ = orch.post(f"{PREFIX}{uuid.uuid4()}/files/x.txt", {})
    assert st == 405, (st, body)
