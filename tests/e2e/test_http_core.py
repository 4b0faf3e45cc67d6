"""The HTTP core both daemons share (common/http_srv.c): the same answers from the agent and the
orchestrator for unknown paths, wrong methods, oversized bodies and URLs, request ids and the
error counters, all as JSON, with the raw socket as client."""
import json
import re
import socket
import uuid

import pytest

from orch_fixtures import ORCH_BIN, Orchestrator, log_on_failure

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
MAX_BODY = 10 << 20


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    if not ORCH_BIN.exists():
        pytest.fail(f"{ORCH_BIN} not found: run `make`")
    o = Orchestrator(tmp_path_factory.mktemp("http_core"))
    yield o
    log_on_failure(o)
    assert o.stop() == 0


@pytest.fixture(params=["agent", "orchestrator"])
def daemon(request, agent, orch):
    """(port, a path that takes only GET, a path that takes only POST)."""
    if request.param == "agent":
        return agent.port, "/health", "/execute"
    return orch.port, "/health", "/api/run"


def raw_request(port, head, body=b"", timeout=30.0):
    """Sends bytes as they are and reads the whole answer: (status, headers, body text)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(head + body)
        chunks = []
        while True:
            try:
                b = s.recv(65536)
            except ConnectionResetError:
                break
            if not b:
                break
            chunks.append(b)
    raw = b"".join(chunks)
    head_text, _, rest = raw.partition(b"\r\n\r\n")
    lines = head_text.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest.decode("utf-8", errors="replace")


def get(port, path, headers=()):
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
    return raw_request(port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n"
                       .encode())


def error_of(status, headers, text, code):
    assert headers.get("content-type") == "application/json", (status, headers, text)
    body = json.loads(text)
    err = body["error"]
    assert err["code"] == code, body
    assert err["message"], body
    assert UUID_RE.match(err["request_id"]), body
    assert headers["x-request-id"] == err["request_id"], (headers, body)
    return body


def errors_count(port, code):
    st, _, text = get(port, "/health")
    assert st == 200, text
    return json.loads(text)["errors"][code]


def test_unknown_path_is_json_404(daemon):
    port, _, _ = daemon
    st, hdrs, text = get(port, "/no/such/thing")
    assert st == 404
    assert "/no/such/thing" in error_of(st, hdrs, text, "not_found")["error"]["message"]


def test_wrong_method_is_json_405_with_allow(daemon):
    port, get_only, post_only = daemon
    before = errors_count(port, "method_not_allowed")
    st, hdrs, text = raw_request(
        port, f"DELETE {get_only} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    assert st == 405 and hdrs["allow"] == "GET", (st, hdrs)
    assert "GET" in error_of(st, hdrs, text, "method_not_allowed")["error"]["message"]
    st, hdrs, text = get(port, post_only)
    assert st == 405 and hdrs["allow"] == "POST", (st, hdrs)
    error_of(st, hdrs, text, "method_not_allowed")
    assert errors_count(port, "method_not_allowed") == before + 2


def test_agent_execution_path_allows_get_and_delete(agent):
    path = f"/execution/{uuid.uuid4()}"
    st, hdrs, text = raw_request(
        agent.port, f"PUT {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                    f"Connection: close\r\n\r\n".encode())
    assert st == 405 and hdrs["allow"] == "GET, DELETE", (st, hdrs, text)
    error_of(st, hdrs, text, "method_not_allowed")
    # Both methods reach the endpoint: an unknown id is "not found", not a routing error.
    for method in ("GET", "DELETE"):
        st, hdrs, text = raw_request(
            agent.port, f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                        .encode())
        assert st == 404, (method, st, text)
        assert json.loads(text)["detail"] == "Execution not found"


def test_agent_wrong_method_on_a_bad_id_is_405(agent):
    """The method is judged before the id, as the agent always did."""
    st, hdrs, text = raw_request(
        agent.port, b"POST /execution/nope HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n")
    assert st == 405 and hdrs["allow"] == "GET, DELETE", (st, hdrs, text)
    st, _, text = get(agent.port, "/debug/nope")
    assert st == 404 and json.loads(text)["detail"] == "Execution not found", text


def test_body_over_the_cap_is_json_413(daemon):
    port, _, post_only = daemon
    body = b"x" * (MAX_BODY + 1)
    st, hdrs, text = raw_request(
        port, f"POST {post_only} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode(), body)
    assert st == 413
    assert error_of(st, hdrs, text, "too_large")["error"]["field"] == "body"


def test_orchestrator_413_keeps_the_nvidia_fields(orch):
    body = json.dumps({"generated_code": "x" * (MAX_BODY + 1)}).encode()
    st, hdrs, text = raw_request(
        orch.port, f"POST /execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode(), body)
    res = error_of(st, hdrs, text, "too_large")
    assert st == 413 and res["process_status"] == "error" and res["stdout"] == "", res
    assert "exceeds" in res["stderr"], res


def test_long_url_is_json_414(daemon):
    port, _, _ = daemon
    st, hdrs, text = get(port, "/" + "a" * 20000)
    assert st == 414
    assert error_of(st, hdrs, text, "uri_too_long")["error"]["field"] == "url"
    # The daemon goes on serving.
    st, _, _ = get(port, "/health")
    assert st == 200


def test_request_id_kept_or_minted(daemon):
    port, _, _ = daemon
    rid = str(uuid.uuid4())
    st, hdrs, text = get(port, "/no/such", headers=[("X-Request-Id", rid)])
    assert hdrs["x-request-id"] == rid
    assert error_of(st, hdrs, text, "not_found")["error"]["request_id"] == rid
    # Not a UUID: replaced rather than echoed.
    st, hdrs, _ = get(port, "/health", headers=[("X-Request-Id", "<script>")])
    assert st == 200 and UUID_RE.match(hdrs["x-request-id"]), hdrs


def test_health_counts_every_error_code(daemon):
    port, _, _ = daemon
    st, _, text = get(port, "/health")
    errors = json.loads(text)["errors"]
    for code in ("invalid_request", "not_found", "method_not_allowed", "too_large",
                 "uri_too_long", "busy", "internal"):
        assert isinstance(errors.get(code), int), errors
