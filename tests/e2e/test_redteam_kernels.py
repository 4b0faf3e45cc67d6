"""Red team of the Jupyter kernels (docs/kernels.md): bytes a cell prints or sends on its side
channel (fd 0), and a client that breaks the protocol. The kernel must answer every well-formed
request after each of these, and its replies must still be the cell's own."""
import json
import time

import pytest
import websocket

from kernel_client import KernelClient, stdout_of, types_of


@pytest.fixture
def kern(agent):
    st, k, _ = agent.post("/api/kernels", {"name": "python3"}, timeout=90)
    assert st == 201, (st, k)
    kc = KernelClient(f"ws://127.0.0.1:{agent.port}/api/kernels/{k['id']}/channels",
                      headers=[f"X-Sandpit-Token: {agent.token}"] if agent.token else [])
    yield kc
    kc.close()
    agent.delete(f"/api/kernels/{k['id']}")


def test_nul_in_a_cells_output_keeps_its_result(kern):
    """It was: "KernelError: the cell's result could not be read" and status error."""
    iopub, reply = kern.execute("import os\nos.write(1, b'a\\x00b\\n')\nprint('c')\n6 * 7")
    assert reply["content"]["status"] == "ok", reply
    assert stdout_of(iopub) == "a\x00b\nc\n", iopub
    res = [m for m in iopub if m["msg_type"] == "execute_result"]
    assert res and res[0]["content"]["data"]["text/plain"] == "42", iopub


def test_nul_in_an_exception_and_a_prompt(kern):
    iopub, reply = kern.execute("raise ValueError('a\\x00b')")
    assert reply["content"]["status"] == "error", reply
    assert reply["content"]["ename"] == "ValueError" and reply["content"]["evalue"] == "a\x00b", reply
    prompts = []
    iopub, reply = kern.execute("print(input('p\\x00q'))", allow_stdin=True,
                                on_input=lambda p: prompts.append(p) or "ans")
    assert reply["content"]["status"] == "ok" and stdout_of(iopub) == "ans\n", (reply, iopub)
    assert prompts and prompts[0].startswith("p"), prompts


def test_a_cell_forging_side_channel_records(kern):
    """A cell writes records on fd 0 itself: a huge prompt is cut to 4096 bytes; a record of
    another kind or an absurd length closes the channel (its next input() is EOFError); the
    next cell has a fresh channel."""
    prompts = []
    forge = ("import json, os\n"
             "d = json.dumps({'prompt': 'P' * 200000, 'password': False}).encode()\n"
             "os.write(0, b'I' + len(d).to_bytes(4, 'big') + d)\n"
             "n = int.from_bytes(os.read(0, 4), 'big')\n"
             "print('got', os.read(0, n))\n")
    iopub, reply = kern.execute(forge, allow_stdin=True,
                                on_input=lambda p: prompts.append(p) or "x")
    assert reply["content"]["status"] == "ok", reply
    assert stdout_of(iopub) == "got b'x'\n" and len(prompts[0].encode()) <= 4096, prompts
    for bad in ("b'Z' + (2).to_bytes(4, 'big') + b'{}'", "b'I' + (1 << 31).to_bytes(4, 'big')"):
        iopub, reply = kern.execute(f"import os\nos.write(0, {bad})\nimport time\ntime.sleep(0.3)\n"
                                    "try:\n    input('q')\nexcept EOFError:\n    print('eof')\n",
                                    allow_stdin=True, on_input=lambda p: "never")
        assert stdout_of(iopub) == "eof\n", (bad, iopub, reply)
    prompts.clear()
    iopub, reply = kern.execute("print(input('again'))", allow_stdin=True,
                                on_input=lambda p: prompts.append(p) or "fine")
    assert stdout_of(iopub) == "fine\n" and prompts == ["again"], (iopub, prompts)


def test_protocol_abuse_then_a_normal_cell(kern):
    ws = kern.ws
    junk = ["not json", "{}", "[]", "null", '{"header": {"msg_type": 5}}',
            json.dumps({"header": {"msg_type": "execute_request", "msg_id": "x" * 100000},
                        "channel": "no-such", "content": {"code": "print(1)"}}),
            json.dumps({"header": {"msg_type": "input_reply", "msg_id": "r"}, "channel": "stdin",
                        "content": {"value": "unasked"}, "parent_header": {}}),
            json.dumps({"header": {"msg_type": "execute_request", "msg_id": "m"},
                        "channel": "shell", "content": {"code": 5}})]
    for j in junk:
        ws.send(j)
    for _ in range(50):  # an interrupt storm while idle
        kern.send("interrupt_request", {}, "control")
    # two requests with one msg_id: each gets its own reply
    req = kern.session.msg("execute_request", {"code": "print('one')", "silent": False,
                                               "store_history": True, "user_expressions": {},
                                               "allow_stdin": False, "stop_on_error": False})
    req["channel"] = "shell"
    ws.send(json.dumps(req, default=str))
    req["content"]["code"] = "print('two')"
    ws.send(json.dumps(req, default=str))
    replies, out, end = 0, "", time.monotonic() + 60
    while replies < 2 and time.monotonic() < end:
        m = kern.recv(max(0.1, end - time.monotonic()))
        if m["msg_type"] == "execute_reply" and m["parent_header"].get("msg_id") == req["header"]["msg_id"]:
            replies += 1
        if m["msg_type"] == "stream" and m["parent_header"].get("msg_id") == req["header"]["msg_id"]:
            out += m["content"]["text"]
    assert replies == 2 and out == "one\ntwo\n", (replies, out)
    iopub, reply = kern.execute("print('after')")
    assert reply["content"]["status"] == "ok" and stdout_of(iopub) == "after\n", types_of(iopub)


def test_shell_escape_lookalikes(kern):
    """`!` in strings, brackets, continued lines and after `!=` is Python, not a command."""
    code = ("s = '''\n!echo no1\n'''\n"
            "x = (1 !=\n  2)\n"
            "u = 'a' \\\n  '!echo no2'\n"
            "print(repr(s), x, u)\n"
            "!echo yes\n")
    iopub, reply = kern.execute(code)
    assert reply["content"]["status"] == "ok", reply
    assert stdout_of(iopub) == "'\\n!echo no1\\n' True a!echo no2\nyes\n", stdout_of(iopub)


def test_binary_frame_closes_with_1003(kern):
    kern.ws.send_binary(b"\x00\x01")
    kern.ws.settimeout(30)
    op, frame = kern.ws.recv_data_frame(True)
    while op != websocket.ABNF.OPCODE_CLOSE:
        op, frame = kern.ws.recv_data_frame(True)
    assert int.from_bytes(frame.data[:2], "big") == 1003, frame.data
