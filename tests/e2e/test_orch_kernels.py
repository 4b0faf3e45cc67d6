"""Kernels through sandpit-orchestrator (docs/kernels.md "Through the orchestrator"): the REST
calls proxied to the agent holding the kernel, the channels' WebSocket forwarded to it byte for
byte, Kernel Gateway token forms carrying the API key, and one key's kernels invisible to
another. Clients: Debian's python3-websocket and python3-jupyter-client (kernel_client.py)."""
import http.client
import json

import pytest
import websocket

from kernel_client import KernelClient, stdout_of, types_of
from orch_fixtures import AGENT_BIN, ORCH_BIN, agents_started, orch_maker

KEYS = ("kk-one", "kk-two")
H1 = {"X-API-Key": KEYS[0]}
H2 = {"X-API-Key": KEYS[1]}


@pytest.fixture(scope="module")
def agents(tmp_path_factory):
    if not (ORCH_BIN.exists() and AGENT_BIN.exists()):
        pytest.fail("build/sandpit-orchestrator or build/sandpit-agent missing: run `make`")
    started = agents_started(tmp_path_factory.mktemp("kern_agents"), ("a", "b"))
    yield started
    for ag in started:
        ag.stop()


@pytest.fixture
def orch(agents, tmp_path):
    def args_of(agent_list):
        args = []
        for ag in agent_list:
            args += ["--agent", f"python={ag.url}"]
        return [*args, "--health-interval", "0.5"]

    gen = orch_maker(tmp_path, args_of, env_extra={"SANDPIT_API_KEYS": ",".join(KEYS)})
    make = next(gen)
    yield make(agents)
    try:
        next(gen)
    except StopIteration:
        pass


def ws_url(o, kid, token=None):
    q = f"?token={token}" if token else ""
    return f"ws://127.0.0.1:{o.port}/api/kernels/{kid}/channels{q}"


def test_kernel_flow_through_the_orchestrator(orch, agents):
    st, specs, _ = orch.get("/api/kernelspecs", headers=H1)
    assert st == 200 and specs["default"] == "python3", specs
    st, k, _ = orch.post("/api/kernels", {"name": "python3"}, headers=H1, timeout=120)
    assert st == 201 and k["name"] == "python3", (st, k)
    kid = k["id"]
    # the id is the agent's: exactly one agent holds it
    held = [ag for ag in agents if ag.get(f"/api/kernels/{kid}")[0] == 200]
    assert len(held) == 1
    st, lst, _ = orch.get("/api/kernels", headers=H1)
    assert st == 200 and [x["id"] for x in lst] == [kid], lst
    kc = KernelClient(ws_url(orch, kid), headers=[f"X-API-Key: {KEYS[0]}"])
    try:
        assert kc.request("kernel_info_request")["content"]["protocol_version"] == "5.3"
        iopub, reply = kc.execute("print('through'); 2 + 3")
        assert stdout_of(iopub) == "through\n" and reply["content"]["status"] == "ok"
        assert "execute_result" in types_of(iopub)
        iopub, reply = kc.execute("1/0")
        assert reply["content"]["ename"] == "ZeroDivisionError"
        iopub, reply = kc.execute("v = input('? ')\nprint(v * 2)", allow_stdin=True,
                                  on_input=lambda p: "ab")
        assert stdout_of(iopub) == "abab\n"
        # a message over 1 MB crosses the pass-through both ways
        big = "z" * (2 << 20)
        iopub, reply = kc.execute(f"s = '{big}'\nprint(len(s))")
        assert stdout_of(iopub) == f"{2 << 20}\n"
        kc.ws.ping(b"pp")
        kc.ws.settimeout(30)
        op, frame = kc.ws.recv_data_frame(True)
        assert op == websocket.ABNF.OPCODE_PONG and frame.data == b"pp"
    finally:
        kc.close()
    st, body, _ = orch.post(f"/api/kernels/{kid}/interrupt", {}, headers=H1)
    assert st == 204, body
    st, body, _ = orch.post(f"/api/kernels/{kid}/restart", {}, headers=H1, timeout=120)
    assert st == 200 and body["id"] == kid, body
    st, body, _ = orch.delete(f"/api/kernels/{kid}", headers=H1)
    assert st == 204
    st, body, _ = orch.get(f"/api/kernels/{kid}", headers=H1)
    assert st == 404


def test_keys_and_kernel_gateway_token_forms(orch):
    st, k, _ = orch.post("/api/kernels", {}, headers={"Authorization": f"token {KEYS[0]}"},
                         timeout=120)
    assert st == 201, k
    kid = k["id"]
    try:
        st, body, _ = orch.get("/api/kernels")
        assert st == 401
        st, body, _ = orch.get(f"/api/kernels?token={KEYS[0]}")
        assert st == 200 and [x["id"] for x in body] == [kid]
        # another key sees nothing of it
        st, body, _ = orch.get("/api/kernels", headers=H2)
        assert st == 200 and body == []
        st, body, _ = orch.get(f"/api/kernels/{kid}", headers=H2)
        assert st == 404
        with pytest.raises(websocket.WebSocketBadStatusException) as exc:
            websocket.create_connection(ws_url(orch, kid, KEYS[1]), timeout=10)
        assert exc.value.status_code == 404
        with pytest.raises(websocket.WebSocketBadStatusException) as exc:
            websocket.create_connection(ws_url(orch, kid), timeout=10)
        assert exc.value.status_code == 401
        kc = KernelClient(ws_url(orch, kid, KEYS[0]))
        try:
            iopub, reply = kc.execute("!echo via-shell")
            assert stdout_of(iopub) == "via-shell\n"
        finally:
            kc.close()
    finally:
        orch.delete(f"/api/kernels/{kid}", headers=H1)


def test_unknown_kernel_and_bad_handshake(orch):
    st, body, _ = orch.get("/api/kernels/00000000-0000-4000-8000-000000000000", headers=H1)
    assert st == 404 and body["error"]["code"] == "not_found"
    st, body, _ = orch.get("/api/kernels/nope", headers=H1)
    assert st == 404
    st, k, _ = orch.post("/api/kernels", {}, headers=H1, timeout=120)
    assert st == 201
    try:
        conn = http.client.HTTPConnection("127.0.0.1", orch.port, timeout=30)
        conn.request("GET", f"/api/kernels/{k['id']}/channels", headers=H1)
        resp = conn.getresponse()
        assert resp.status == 400 and "websocket" in json.loads(resp.read())["error"]["message"]
        conn.close()
    finally:
        orch.delete(f"/api/kernels/{k['id']}", headers=H1)
