"""The WebSocket under the kernel channels (issue 16, docs/kernels.md "WebSocket"): ping/pong,
fragmented and masked frames, messages over 1 MB and past the cap, a client that vanishes
mid-message, hundreds of sockets at once, the handshake's refusals, and Kernel Gateway token
auth. Clients: Debian's python3-websocket, and raw frames on its socket where a well-behaved
client cannot misbehave. Nothing here asserts how fast anything is."""
import http.client
import json
import os
import struct

import pytest
import websocket

from conftest import wait_until
from kernel_client import KernelClient, stdout_of
from test_kernels import Kernels, kernels  # noqa: F401 (the fixture)

TOKEN = "kg-token-0123456789abcdef"
CAP = 8 << 20  # KERNEL_MAX_MSG


def _frame(opcode, payload, fin=True, mask=True):
    """One raw frame (RFC 6455 5.2)."""
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + struct.pack(">H", n)
    else:
        head += bytes([mbit | 127]) + struct.pack(">Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def _close_code(ws, timeout=30):
    """The close code the server sends (reads until its close frame)."""
    ws.settimeout(timeout)
    while True:
        op, frame = ws.recv_data_frame(True)
        if op == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack(">H", frame.data[:2])[0]


def _connections(ag):
    return ag.get("/health")[1]["kernels"]["connections"]


def test_ping_pong(kernels):
    kc = kernels.connect(kernels.create()["id"])
    kc.ws.ping(b"are you there")
    kc.ws.settimeout(30)
    op, frame = kc.ws.recv_data_frame(True)
    assert op == websocket.ABNF.OPCODE_PONG and frame.data == b"are you there"


def test_fragmented_message(kernels):
    kc = kernels.connect(kernels.create()["id"])
    msg = kc.session.msg("execute_request", {"code": "print('in pieces')", "allow_stdin": False})
    msg["channel"] = "shell"
    data = json.dumps(msg, default=str).encode()
    parts = [data[i:i + 7] for i in range(0, len(data), 7)]
    kc.ws.send_frame(websocket.ABNF.create_frame(parts[0], websocket.ABNF.OPCODE_TEXT, fin=0))
    for p in parts[1:-1]:
        kc.ws.send_frame(websocket.ABNF.create_frame(p, websocket.ABNF.OPCODE_CONT, fin=0))
        if parts.index(p) == 3:  # a ping between fragments is answered
            kc.ws.ping(b"mid")
    kc.ws.send_frame(websocket.ABNF.create_frame(parts[-1], websocket.ABNF.OPCODE_CONT, fin=1))
    out = ""
    while "in pieces" not in out:
        m = kc.recv(60)
        if m["msg_type"] == "stream":
            out += m["content"]["text"]


def test_message_over_1mb(kernels):
    kc = kernels.connect(kernels.create()["id"])
    big = "a" * (3 << 20)
    iopub, reply = kc.execute(f"s = '{big}'\nprint(len(s))\nprint(s[:100000])")
    assert reply["content"]["status"] == "ok", reply["content"]
    out = stdout_of(iopub)
    assert out.startswith(f"{3 << 20}\n") and len(out) > 100000


def test_message_past_the_cap_closes_1009(agent, kernels):
    kc = kernels.connect(kernels.create()["id"])
    kc.ws.send("x" * (CAP + 1024))
    assert _close_code(kc.ws) == 1009
    # the kernel is fine: another connection works
    kc2 = kernels.connect(kernels.ids[0])
    assert kc2.request("kernel_info_request")["content"]["status"] == "ok"


def test_unmasked_frame_is_a_protocol_error(kernels):
    kc = kernels.connect(kernels.create()["id"])
    kc.ws.sock.sendall(_frame(websocket.ABNF.OPCODE_TEXT, b'{"x": 1}', mask=False))
    assert _close_code(kc.ws) == 1002


def test_binary_messages_are_refused_1003(kernels):
    kc = kernels.connect(kernels.create()["id"])
    kc.ws.send_binary(b"\x00\x01")
    assert _close_code(kc.ws) == 1003


def test_client_vanishes_mid_message(agent, kernels):
    kid = kernels.create()["id"]
    before = _connections(agent)
    for _ in range(5):
        kc = KernelClient(kernels.url(kid))
        frame = _frame(websocket.ABNF.OPCODE_TEXT, b"y" * (2 << 20))
        kc.ws.sock.sendall(frame[:len(frame) // 2])  # half of a 2 MB frame, then gone
        kc.ws.sock.shutdown(2)
        kc.ws.sock.close()
    assert wait_until(lambda: _connections(agent) == before, 30), _connections(agent)
    kc = kernels.connect(kid)
    iopub, reply = kc.execute("print('still serving')")
    assert stdout_of(iopub) == "still serving\n"


def test_200_sockets_at_once(agent, kernels):
    kid = kernels.create()["id"]
    clients = [KernelClient(kernels.url(kid)) for _ in range(200)]
    try:
        assert wait_until(lambda: _connections(agent) >= 200, 30)
        sent = [kc.send("kernel_info_request", {}, channel="control") for kc in clients]
        for kc, req in zip(clients, sent):
            while True:
                m = kc.recv(60)
                if m["parent_header"].get("msg_id") == req["header"]["msg_id"]:
                    break
            assert m["msg_type"] == "kernel_info_reply"
        # iopub goes to every socket: a cell's output reaches all 200
        clients[0].send("execute_request", {"code": "print('to all')"})
        for kc in clients:
            seen = ""
            while "to all" not in seen:
                m = kc.recv(60)
                if m["msg_type"] == "stream":
                    seen += m["content"]["text"]
    finally:
        for kc in clients:
            kc.close()
    assert wait_until(lambda: _connections(agent) == 0, 30), _connections(agent)


def _raw_get(port, path, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def test_handshake_refusals(agent, kernels):
    kid = kernels.create()["id"]
    path = f"/api/kernels/{kid}/channels"
    st, body, _ = _raw_get(agent.port, path, {})
    assert st == 400 and "websocket" in json.loads(body)["error"]["message"].lower()
    st, body, _ = _raw_get(agent.port, path, {"Upgrade": "websocket", "Connection": "Upgrade",
                                              "Sec-WebSocket-Version": "8",
                                              "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="})
    assert st == 400 and json.loads(body)["error"]["field"] == "Sec-WebSocket-Version"
    st, body, _ = _raw_get(agent.port, path, {"Upgrade": "websocket", "Connection": "Upgrade",
                                              "Sec-WebSocket-Version": "13",
                                              "Sec-WebSocket-Key": "short"})
    assert st == 400


def test_token_auth_kernel_gateway_forms(make_agent):
    ag = make_agent(agent_token=TOKEN)
    ks = Kernels(ag, headers={"Authorization": f"token {TOKEN}"})
    try:
        k = ks.create()
        port = ag.port
        st, _, _ = _raw_get(port, "/api/kernels", {})
        assert st == 401
        st, _, _ = _raw_get(port, "/api/kernels", {"Authorization": "token wrong-token-000000000"})
        assert st == 401
        st, body, _ = _raw_get(port, "/api/kernels", {"Authorization": f"token {TOKEN}"})
        assert st == 200 and json.loads(body)[0]["id"] == k["id"]
        st, _, _ = _raw_get(port, f"/api/kernels?token={TOKEN}", {})
        assert st == 200
        st, _, _ = _raw_get(port, "/api/kernelspecs", {"X-Sandpit-Token": TOKEN})
        assert st == 200
        # the Kernel Gateway forms open the kernel routes only
        st, _, _ = _raw_get(port, f"/executions?token={TOKEN}", {})
        assert st == 401
        with pytest.raises(websocket.WebSocketBadStatusException) as exc:
            websocket.create_connection(ks.url(k["id"]), timeout=10)
        assert exc.value.status_code == 401
        kc = ks.connect(k["id"], headers=[f"Authorization: token {TOKEN}"])
        assert kc.request("kernel_info_request")["content"]["status"] == "ok"
        kc2 = KernelClient(ks.url(k["id"]) + f"?token={TOKEN}")
        ks.clients.append(kc2)
        assert kc2.request("kernel_info_request")["content"]["status"] == "ok"
    finally:
        ks.close()
