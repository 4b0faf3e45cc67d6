"""POST /adjust-processor: a durable outbox delivered to a real HTTP backend on loopback."""
import http.server
import json
import socket
import threading
import time

from conftest import wait_until


class Backend:
    """A tiny HTTP backend: answers `codes` in order (then 200) and records every request."""

    def __init__(self, codes=(), port=0):
        self.codes = list(codes)
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append((self.path, json.loads(body)))
                code = outer.codes.pop(0) if outer.codes else 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def items(ag, processor_id=None):
    q = f"?processor_id={processor_id}" if processor_id else ""
    st, body, _ = ag.get("/adjustments" + q)
    assert st == 200, body
    return body["adjustments"]


def test_delivered_at_once(make_agent):
    be = Backend()
    try:
        ag = make_agent(backend_url=be.url)
        st, body, _ = ag.post("/adjust-processor", {"processor_id": "proc-1",
                                                    "adjustments": {"cpu": 2},
                                                    "reason": "slow", "execution_id": "e1"})
        assert st == 200, body
        assert body["status"] == "delivered"
        path, sent = be.requests[0]
        assert path == "/api/v1/processors/proc-1/adjust"
        assert sent == {"adjustments": {"cpu": 2}, "reason": "slow", "source": "sandbox",
                        "execution_id": "e1"}
        (it,) = items(ag)
        assert it["id"] == body["id"] and it["state"] == "delivered" and it["attempts"] == 1
    finally:
        be.stop()


def test_retried_with_backoff_until_delivered(make_agent):
    be = Backend(codes=[500, 503, 502])
    try:
        ag = make_agent(backend_url=be.url)
        st, body, _ = ag.post("/adjust-processor", {"processor_id": "p2",
                                                    "adjustments": {"mem": "2g"},
                                                    "reason": "oom"})
        assert st == 202 and body["status"] == "queued", body
        # Backoff 0.5 + 1 + 2 s: delivered on the fourth attempt.
        assert wait_until(lambda: items(ag)[0]["state"] == "delivered", 10)
        it = items(ag)[0]
        assert it["attempts"] == 4 and it["http_status"] == 200
        assert len(be.requests) == 4
    finally:
        be.stop()


def test_backend_down_until_after_restart(make_agent, tmp_path):
    port = free_port()
    state = tmp_path / "shared-state"
    ag = make_agent(backend_url=f"http://127.0.0.1:{port}", state_dir=str(state))
    st, body, _ = ag.post("/adjust-processor", {"processor_id": "p3", "adjustments": {"a": 1}})
    assert st == 202 and body["status"] == "queued"
    assert wait_until(lambda: items(ag)[0]["attempts"] >= 1, 5)
    assert items(ag)[0]["state"] == "pending"
    assert items(ag)[0]["last_error"]
    ag.terminate()
    be = Backend(port=port)
    try:
        ag2 = make_agent(backend_url=be.url, state_dir=str(state))
        assert wait_until(lambda: items(ag2) and items(ag2)[0]["state"] == "delivered", 10)
        assert items(ag2)[0]["id"] == body["id"]
        assert be.requests[0][0] == "/api/v1/processors/p3/adjust"
    finally:
        be.stop()


def test_4xx_is_rejected_not_retried(make_agent):
    be = Backend(codes=[422])
    try:
        ag = make_agent(backend_url=be.url)
        st, body, _ = ag.post("/adjust-processor", {"processor_id": "p4",
                                                    "adjustments": {"x": 1}})
        assert st == 422 and body["status"] == "rejected"
        assert wait_until(lambda: items(ag)[0]["state"] == "rejected", 5)
        time.sleep(1.2)  # longer than the first backoff: nothing may be resent
        assert len(be.requests) == 1
        assert "422" in items(ag)[0]["last_error"]
    finally:
        be.stop()


def test_no_backend_stays_queued_and_listed_by_processor(make_agent):
    ag = make_agent()
    for pid in ("a", "b", "a"):
        st, body, _ = ag.post("/adjust-processor", {"processor_id": pid, "adjustments": {}})
        assert st == 202 and body["status"] == "queued"
    assert len(items(ag)) == 3
    assert [i["processor_id"] for i in items(ag, "a")] == ["a", "a"]
    assert all(i["state"] == "pending" and i["attempts"] == 0 for i in items(ag))
    st, health, _ = ag.get("/health")
    assert health["adjustments"]["pending"] == 3


def test_validation_names_the_field(make_agent):
    ag = make_agent()
    cases = [
        ({"adjustments": {}}, "processor_id"),
        ({"processor_id": "", "adjustments": {}}, "processor_id"),
        ({"processor_id": "../x", "adjustments": {}}, "processor_id"),
        ({"processor_id": 5, "adjustments": {}}, "processor_id"),
        ({"processor_id": "p"}, "adjustments"),
        ({"processor_id": "p", "adjustments": [1]}, "adjustments"),
        ({"processor_id": "p", "adjustments": {}, "reason": 3}, "reason"),
    ]
    for body, field in cases:
        st, out, _ = ag.post("/adjust-processor", body)
        assert st == 400, (body, out)
        assert out["error"]["field"] == field, (body, out)
    st, out, _ = ag.post("/adjust-processor", b"{nope")
    assert st == 400 and out["error"]["field"] == "body"
    st, out, headers = ag.get("/adjust-processor")
    assert st == 405
    assert items(ag) == []
