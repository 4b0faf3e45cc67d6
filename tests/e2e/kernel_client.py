"""A Jupyter kernel client as a framework's remote executor drives one (smolagents' and
AutoGen's Jupyter executors, jupyter_server's own gateway client): REST to create the kernel,
one WebSocket (Debian's python3-websocket) for the channels, jupyter_client's Session to build
each request, iopub collected until the kernel says idle. Shared by test_kernels.py and
test_orch_kernels.py."""
import json
import time

import websocket
from jupyter_client.session import Session


class KernelClient:
    """One kernel's channels over one WebSocket."""

    def __init__(self, ws_url, headers=None, timeout=60):
        self.ws = websocket.create_connection(ws_url, header=headers or [], timeout=timeout)
        self.session = Session(username="test", key=b"")
        self.pending = []  # messages read while waiting for another

    def close(self):
        self.ws.close()

    def send(self, msg_type, content=None, channel="shell"):
        msg = self.session.msg(msg_type, content or {})
        msg["channel"] = channel
        msg["buffers"] = []
        # Session.msg's header date is a datetime: the JSON form carries it as a string.
        self.ws.send(json.dumps(msg, default=str))
        return msg

    def recv(self, timeout=60):
        if self.pending:
            return self.pending.pop(0)
        self.ws.settimeout(timeout)
        return json.loads(self.ws.recv())

    def execute(self, code, timeout=90, allow_stdin=False, stop_on_error=True, on_input=None):
        """Sends execute_request; returns (iopub messages for it until idle, execute_reply).
        on_input(prompt) answers an input_request."""
        req = self.send("execute_request", {"code": code, "silent": False, "store_history": True,
                                            "user_expressions": {}, "allow_stdin": allow_stdin,
                                            "stop_on_error": stop_on_error})
        msg_id = req["header"]["msg_id"]
        iopub, reply, idle = [], None, False
        end = time.time() + timeout
        while not (idle and reply):
            m = self.recv(max(0.1, end - time.time()))
            if m.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if m["channel"] == "iopub":
                iopub.append(m)
                if m["msg_type"] == "status" and m["content"]["execution_state"] == "idle":
                    idle = True
            elif m["channel"] == "shell" and m["msg_type"] == "execute_reply":
                reply = m
            elif m["channel"] == "stdin" and m["msg_type"] == "input_request":
                self.send("input_reply", {"value": on_input(m["content"]["prompt"])}, "stdin")
        return iopub, reply

    def request(self, msg_type, content=None, channel="shell", timeout=60):
        """A request and its reply (the message of <type>_reply with it as parent)."""
        req = self.send(msg_type, content, channel)
        want = msg_type.replace("_request", "_reply")
        end = time.time() + timeout
        while True:
            m = self.recv(max(0.1, end - time.time()))
            if m["msg_type"] == want and m["parent_header"].get("msg_id") == req["header"]["msg_id"]:
                return m


def stdout_of(iopub):
    return "".join(m["content"]["text"] for m in iopub
                   if m["msg_type"] == "stream" and m["content"]["name"] == "stdout")


def types_of(iopub):
    return [m["msg_type"] for m in iopub]
