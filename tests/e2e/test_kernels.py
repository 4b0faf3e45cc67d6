"""The Jupyter kernel protocol at the agent (issue 16, docs/kernels.md), driven with Debian's
independent clients: python3-websocket (websocket-client) for the channels, the way a
framework's remote executor drives a Kernel Gateway (create over REST, open the channels, send
execute_request, collect iopub until idle), and python3-jupyter-client's Session and adapter
to build requests and check the messages' shapes. Every wait is bounded; nothing here asserts
how fast anything is."""
import base64
import json
import socket
import struct
import time
import uuid

import pytest
import websocket
from jupyter_client import adapter
from jupyter_client.jsonutil import extract_dates

from conftest import Agent, wait_until
from kernel_client import KernelClient, stdout_of, types_of

TOKEN = "kg-token-0123456789abcdef"


# -- helpers ------------------------------------------------------------------------------------

class Kernels:
    """Creates kernels on an agent and deletes those left at the end of the test."""

    def __init__(self, ag, headers=None):
        self.ag = ag
        self.headers = headers or {}
        self.ids = []
        self.clients = []

    def create(self, body=None):
        st, k, _ = self.ag.post("/api/kernels", body if body is not None else {"name": "python3"},
                                headers=self.headers, timeout=90)
        assert st == 201, (st, k)
        self.ids.append(k["id"])
        return k

    def url(self, kid):
        return f"ws://127.0.0.1:{self.ag.port}/api/kernels/{kid}/channels"

    def connect(self, kid, headers=None):
        kc = KernelClient(self.url(kid), headers=headers)
        self.clients.append(kc)
        return kc

    def close(self):
        for kc in self.clients:
            try:
                kc.close()
            except Exception:
                pass
        for kid in self.ids:
            self.ag.delete(f"/api/kernels/{kid}", headers=self.headers)


@pytest.fixture
def kernels(agent):
    ks = Kernels(agent)
    yield ks
    ks.close()


def check_shape(m, parent=None):
    """A message as jupyter_client reads one: the header's fields, a date it parses, a content
    object, and adapter.adapt (the 5.x <-> 4.x translation) taking it."""
    for key in ("header", "parent_header", "metadata", "content", "channel", "buffers"):
        assert key in m, (key, m)
    h = m["header"]
    for key in ("msg_id", "msg_type", "session", "username", "date", "version"):
        assert key in h, (key, h)
    assert h["version"] == "5.3"
    assert extract_dates(dict(h))["date"].year >= 2020
    if parent is not None:
        assert m["parent_header"]["msg_id"] == parent
    adapter.adapt(json.loads(json.dumps(m)), "5")


def png_size(b64):
    raw = base64.b64decode(b64)
    assert raw[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", raw[16:24])


# -- REST ---------------------------------------------------------------------------------------

def test_kernelspecs(agent):
    st, body, _ = agent.get("/api/kernelspecs")
    assert st == 200, body
    assert body["default"] == "python3"
    spec = body["kernelspecs"]["python3"]
    assert spec["name"] == "python3" and spec["resources"] == {}
    assert spec["spec"]["language"] == "python" and isinstance(spec["spec"]["argv"], list)
    assert spec["spec"]["display_name"]
    st, one, _ = agent.get("/api/kernelspecs/python3")
    assert st == 200 and one["name"] == "python3"
    st, body, _ = agent.get("/api/kernelspecs/ruby")
    assert st == 404 and body["error"]["code"] == "not_found"


def test_kernel_rest_lifecycle(agent, kernels):
    k = kernels.create()
    assert set(k) == {"id", "name", "last_activity", "execution_state", "connections"}, k
    uuid.UUID(k["id"])
    assert k["name"] == "python3" and k["execution_state"] == "idle" and k["connections"] == 0
    st, body, _ = agent.get("/api/kernels")
    assert st == 200 and any(x["id"] == k["id"] for x in body), body
    st, one, _ = agent.get(f"/api/kernels/{k['id']}")
    assert st == 200 and one["id"] == k["id"]
    # no body at all is a python3 kernel too
    k2 = kernels.create(body="")
    assert k2["name"] == "python3"
    st, body, _ = agent.post("/api/kernels", {"name": "julia-1.9"})
    assert st == 404 and body["error"]["code"] == "not_found", body
    missing = str(uuid.uuid4())
    for method, path in (("GET", f"/api/kernels/{missing}"), ("DELETE", f"/api/kernels/{missing}"),
                         ("POST", f"/api/kernels/{missing}/interrupt"),
                         ("POST", f"/api/kernels/{missing}/restart"),
                         ("GET", "/api/kernels/not-a-kernel-id")):
        st, body, _ = agent.request(method, path)
        assert st == 404 and body["error"]["code"] == "not_found", (method, path, st, body)
    st, body, hdrs = agent.request("PUT", f"/api/kernels/{k['id']}")
    assert st == 405 and "DELETE" in hdrs["allow"], (st, body)
    st, body, _ = agent.delete(f"/api/kernels/{k['id']}")
    assert st == 204 and body == "", (st, body)
    st, body, _ = agent.get(f"/api/kernels/{k['id']}")
    assert st == 404
    st, body, _ = agent.post(f"/api/kernels/{k2['id']}/interrupt", {})
    assert st == 204, body


# -- the flow a remote executor drives -----------------------------------------------------------

def test_execute_stream_result_and_shapes(kernels):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    info = kc.request("kernel_info_request")
    check_shape(info)
    assert info["channel"] == "shell"
    c = info["content"]
    assert c["status"] == "ok" and c["protocol_version"] == "5.3"
    assert c["language_info"]["name"] == "python"
    iopub, reply = kc.execute("import sys\nprint('hello')\nprint('warn', file=sys.stderr)\n6 * 7")
    msg_id = reply["parent_header"]["msg_id"]
    for m in iopub + [reply]:
        check_shape(m, msg_id)
    t = types_of(iopub)
    assert t[0] == "status" and iopub[0]["content"]["execution_state"] == "busy"
    assert t[1] == "execute_input" and iopub[1]["content"]["code"].startswith("import sys")
    assert t[-1] == "status" and iopub[-1]["content"]["execution_state"] == "idle"
    assert stdout_of(iopub) == "hello\n"
    err = [m["content"]["text"] for m in iopub
           if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"]
    assert "".join(err) == "warn\n"
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert len(res) == 1 and res[0]["content"]["data"]["text/plain"] == "42", res
    count = reply["content"]["execution_count"]
    assert res[0]["content"]["execution_count"] == count == iopub[1]["content"]["execution_count"]
    assert reply["content"]["status"] == "ok" and reply["channel"] == "shell"
    # state persists from cell to cell, as in a notebook
    iopub, reply = kc.execute("x = 5")
    iopub, reply = kc.execute("print(x + 1)")
    assert stdout_of(iopub) == "6\n" and reply["content"]["execution_count"] == count + 2


def test_streams_arrive_while_the_cell_runs(kernels):
    """The first line is on iopub before the cell is done (the cell waits for a file the test
    writes only once it has seen that line)."""
    k = kernels.create()
    kc = kernels.connect(k["id"])
    flag = f"go-{uuid.uuid4().hex}"
    code = ("import os, time\nprint('first', flush=True)\n_t = time.time() + 60\n"
            f"while not os.path.exists({flag!r}) and time.time() < _t:\n    time.sleep(0.02)\n"
            "print('second')\n")
    req = kc.send("execute_request", {"code": code, "silent": False, "store_history": True,
                                      "user_expressions": {}, "allow_stdin": False})
    seen = ""
    end = time.time() + 60
    while "first" not in seen and time.time() < end:
        m = kc.recv(60)
        if m["msg_type"] == "stream":
            seen += m["content"]["text"]
        assert m["msg_type"] != "execute_reply", "the cell ended before its first line was seen"
    assert "first" in seen
    # The kernel's session is one of the agent's sessions: its workspace (the cell's working
    # directory) takes the flag through the files API while the cell runs.
    sessions = kernels.ag.get("/sessions")[1]["sessions"]
    for s in sessions:
        kernels.ag.request("PUT", f"/sessions/{s['session_id']}/files/{flag}", b"")
    iopub, reply = [], None
    while reply is None:
        m = kc.recv(60)
        if m["msg_type"] == "execute_reply":
            reply = m
        elif m["msg_type"] == "stream":
            seen += m["content"]["text"]
    assert reply["parent_header"]["msg_id"] == req["header"]["msg_id"]
    assert seen == "first\nsecond\n", seen


def test_display_data_matplotlib_png(kernels):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    iopub, reply = kc.execute("import matplotlib.pyplot as plt\n"
                              "fig = plt.figure(figsize=(4, 3), dpi=50)\n"
                              "plt.plot([1, 2, 3], [3, 1, 2])\nplt.show()\n")
    assert reply["content"]["status"] == "ok", reply
    shown = [m for m in iopub if m["msg_type"] == "display_data"]
    assert len(shown) == 1, types_of(iopub)
    data = shown[0]["content"]["data"]
    assert "text/plain" in data and png_size(data["image/png"]) == (200, 150)
    assert shown[0]["content"]["transient"] == {}
    # a DataFrame's trailing value: execute_result with its HTML
    iopub, reply = kc.execute("import pandas as pd\npd.DataFrame({'a': [1, 2]})")
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert len(res) == 1 and "<table" in res[0]["content"]["data"]["text/html"]


def test_error_with_traceback_and_stop_on_error(kernels):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    kc.execute("def f(x):\n    return 1 / x\n")
    iopub, reply = kc.execute("f(0)")
    errs = [m for m in iopub if m["msg_type"] == "error"]
    assert len(errs) == 1, types_of(iopub)
    e = errs[0]["content"]
    assert e["ename"] == "ZeroDivisionError" and e["evalue"] == "division by zero"
    assert isinstance(e["traceback"], list) and all(isinstance(x, str) for x in e["traceback"])
    text = "\n".join(e["traceback"])
    assert "<cell 1>" in text and "return 1 / x" in text, text  # the line of the earlier cell
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "ZeroDivisionError" and reply["content"]["traceback"]
    # no traceback on stderr: the error message carries it, as IPython's does
    assert not [m for m in iopub if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"]
    # stop_on_error: a request queued behind a failing one is aborted
    kc.send("execute_request", {"code": "import time; time.sleep(1); 1/0", "stop_on_error": True})
    second = kc.send("execute_request", {"code": "print('not run')"})
    end, aborted = time.time() + 60, None
    while aborted is None and time.time() < end:
        m = kc.recv(60)
        if m["msg_type"] == "execute_reply" and \
                m["parent_header"]["msg_id"] == second["header"]["msg_id"]:
            aborted = m
    assert aborted and aborted["content"]["status"] == "aborted", aborted
    # a syntax error is an error too, and the kernel goes on
    iopub, reply = kc.execute("def (")
    assert reply["content"]["ename"] == "SyntaxError", reply["content"]
    iopub, reply = kc.execute("print('alive')")
    assert stdout_of(iopub) == "alive\n"


def test_input_with_input_reply(kernels):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    prompts = []

    def answer(prompt):
        prompts.append(prompt)
        return "Ada" if len(prompts) == 1 else "36"

    iopub, reply = kc.execute("name = input('name? ')\nage = int(input('age? '))\n"
                              "print(name, age + 1)", allow_stdin=True, on_input=answer)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert prompts == ["name? ", "age? "] and stdout_of(iopub) == "Ada 37\n"
    # allow_stdin false: IPython's StdinNotImplementedError
    iopub, reply = kc.execute("input('x')", allow_stdin=False)
    assert reply["content"]["ename"] == "StdinNotImplementedError", reply["content"]
    # a huge prompt is cut before it reaches the client
    got = []
    kc.execute("input('p' * 100000)", allow_stdin=True,
               on_input=lambda p: got.append(p) or "")
    assert got and len(got[0]) == 4096


def _wait_stream(kc, text, timeout=60):
    seen, end = "", time.time() + timeout
    while text not in seen and time.time() < end:
        m = kc.recv(max(0.1, end - time.time()))
        if m["msg_type"] == "stream":
            seen += m["content"]["text"]
    assert text in seen, seen


LOOP = "import time\nprint('looping', flush=True)\nwhile True:\n    time.sleep(0.05)\n"


@pytest.mark.parametrize("how", ["control", "rest"])
def test_interrupt_a_sleep_loop(agent, kernels, how):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    kc.execute("kept = 'still here'")
    req = kc.send("execute_request", {"code": LOOP, "allow_stdin": False})
    _wait_stream(kc, "looping")
    if how == "control":
        rep = kc.request("interrupt_request", {}, channel="control")
        assert rep["channel"] == "control" and rep["content"]["status"] == "ok"
    else:
        st, body, _ = agent.post(f"/api/kernels/{k['id']}/interrupt", {})
        assert st == 204, body
    end, reply = time.time() + 60, None
    while reply is None and time.time() < end:
        m = kc.recv(60)
        if m["msg_type"] == "execute_reply" and \
                m["parent_header"]["msg_id"] == req["header"]["msg_id"]:
            reply = m
    assert reply and reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt", reply["content"]
    iopub, reply = kc.execute("print(kept)")
    assert stdout_of(iopub) == "still here\n"


def test_interrupt_while_waiting_for_input(kernels):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    req = kc.send("execute_request", {"code": "input('never answered')", "allow_stdin": True})
    end = time.time() + 60
    while time.time() < end:
        m = kc.recv(60)
        if m["msg_type"] == "input_request":
            break
    kc.request("interrupt_request", {}, channel="control")
    while True:
        m = kc.recv(60)
        if m["msg_type"] == "execute_reply" and \
                m["parent_header"]["msg_id"] == req["header"]["msg_id"]:
            break
    assert m["content"]["ename"] == "KeyboardInterrupt"


def test_shell_escape(kernels):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    iopub, reply = kc.execute("!echo hi")
    assert reply["content"]["status"] == "ok", reply["content"]
    assert stdout_of(iopub) == "hi\n"
    iopub, reply = kc.execute("import os\n!pwd\nprint(os.getcwd())\n!exit 3\nprint(_exit_code)\n"
                              "s = '!not a command'\nprint(s)\n"
                              "if True:\n    !echo indented\n")
    out = stdout_of(iopub).split("\n")
    assert out[0] == out[1], out  # the workspace is the command's directory
    assert out[2:5] == ["3", "!not a command", "indented"], out
    iopub, reply = kc.execute("!echo data > made.txt\nprint(open('made.txt').read())")
    assert stdout_of(iopub) == "data\n\n"
    # pip runs and ends with its own error (no network here, and Debian's pip refuses a system
    # install); never a SyntaxError
    iopub, reply = kc.execute("!pip install --no-input surely-not-a-real-package-zz\n"
                              "print('exit', _exit_code)", timeout=240)
    out = stdout_of(iopub)
    assert reply["content"]["status"] == "ok", reply["content"]
    assert "SyntaxError" not in out and "error" in out.lower(), out
    assert "exit 0" not in out and "exit " in out, out


def test_shell_escape_refused_under_restricted(make_agent):
    ag = make_agent(policy="restricted")
    ks = Kernels(ag)
    try:
        k = ks.create()
        kc = ks.connect(k["id"])
        iopub, reply = kc.execute("!echo hi")
        c = reply["content"]
        assert c["status"] == "error" and "restricted policy" in c["evalue"], c
        iopub, reply = kc.execute("print('fine')")
        assert stdout_of(iopub) == "fine\n"
    finally:
        ks.close()


def test_restart_keeps_the_channel_and_clears_state(agent, kernels):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    kc.execute("y = 1")
    st, body, _ = agent.post(f"/api/kernels/{k['id']}/restart", {}, timeout=90)
    assert st == 200 and body["id"] == k["id"] and body["execution_state"] == "idle", body
    states = []
    end = time.time() + 30
    while "idle" not in states[1:] and time.time() < end:
        m = kc.recv(30)
        if m["msg_type"] == "status":
            states.append(m["content"]["execution_state"])
    assert states[:1] == ["restarting"] and "idle" in states, states
    iopub, reply = kc.execute("print('y' in dir())")
    assert stdout_of(iopub) == "False\n"
    assert reply["content"]["execution_count"] == 1


def test_delete_closes_the_channels(agent, kernels):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    st, _, _ = agent.delete(f"/api/kernels/{k['id']}")
    assert st == 204
    kc.ws.settimeout(30)
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while True:
            kc.ws.recv()
    with pytest.raises(websocket.WebSocketBadStatusException) as exc:
        websocket.create_connection(kernels.url(k["id"]), timeout=10)
    assert exc.value.status_code == 404


def test_shutdown_request(kernels):
    k = kernels.create()
    kc = kernels.connect(k["id"])
    rep = kc.request("shutdown_request", {"restart": True}, channel="control")
    assert rep["content"] == {"status": "ok", "restart": True}
    iopub, reply = kc.execute("print(2)")
    assert stdout_of(iopub) == "2\n"


def test_a_reaped_session_is_replaced_on_the_next_request(make_agent):
    """The session behind an idle kernel ends at --session-idle-s; the kernel's next request
    gets a fresh one (status restarting, then the cell runs), as a Gateway restarts a dead
    kernel."""
    ag = make_agent(**{"session-idle-s": 1})
    ks = Kernels(ag)
    try:
        k = ks.create()
        kc = ks.connect(k["id"])
        kc.execute("gone_soon = 1")
        assert wait_until(lambda: not [s for s in ag.get("/sessions")[1]["sessions"]
                                       if s["state"] != "dead"], 30)
        req = kc.send("execute_request", {"code": "print('gone_soon' in dir())"})
        states, out, reply = [], "", None
        end = time.time() + 90
        while reply is None and time.time() < end:
            m = kc.recv(90)
            if m["msg_type"] == "status":
                states.append(m["content"]["execution_state"])
            elif m["msg_type"] == "stream":
                out += m["content"]["text"]
            elif m["msg_type"] == "execute_reply" and \
                    m["parent_header"]["msg_id"] == req["header"]["msg_id"]:
                reply = m
        assert "restarting" in states, states
        assert reply["content"]["status"] == "ok" and out == "False\n", (reply, out)
    finally:
        ks.close()
