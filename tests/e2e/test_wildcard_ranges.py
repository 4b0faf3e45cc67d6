"""A wildcard allowHosts entry never reaches private/special ranges nor our own services, and the
agent answers 401 without its token (issue 17 item 2).

Everything happens in two network namespaces this test creates (never the host's interfaces):
A holds the agent (started with setns into A, plus a private mount namespace that puts a test
hosts file over /etc/hosts); B holds a tiny HTTP server. A veth pair joins them with addresses
in 10/8, 100.64/10 (CGNAT), 172.16/12 and fd00::/8 (ULA). A also carries 5.5.77.1, a public-
looking address of the agent's own host, where the agent listens (--host 0.0.0.0). The test
talks to the agent from a thread that has entered A (setns is per thread for the network).
"""
import ctypes
import http.client
import json
import os
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from conftest import AGENT_BIN, DEFAULT_HARNESS

CLONE_NEWNET = 0x40000000
CLONE_NEWNS = 0x00020000
MS_BIND, MS_REC, MS_SLAVE = 4096, 16384, 1 << 19
SERVER_PORT = 8080
TOKEN = "wild-" + uuid.uuid4().hex

_libc = ctypes.CDLL(None, use_errno=True)

PRIVATE = {  # address (as a URL host) -> what the proxy calls its range
    "10.77.0.2": "private (10/8)",
    "100.64.77.2": "carrier-grade NAT (100.64/10)",
    "172.16.77.2": "private (172.16/12)",
    "[fd00:77::2]": "unique local (fc00::/7)",
    "[::ffff:10.77.0.2]": "private (10/8)",
}

SERVER = r'''
import socket, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        body = b"hello-from-B"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
class S(ThreadingHTTPServer):
    address_family = socket.AF_INET6
    def server_bind(self):
        self.socket.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        super().server_bind()
srv = S(("::", int(sys.argv[1])), H)
print("ready", flush=True)
srv.serve_forever()
'''

# Runs in the sandbox: GET each URL through HTTP_PROXY; prints {url: [status, body]}.
FETCH = r'''
import json, sys, urllib.error, urllib.request
out = {}
for url in json.loads(sys.stdin.read()):
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            out[url] = [r.status, r.read().decode(errors="replace")]
    except urllib.error.HTTPError as e:
        out[url] = [e.code, e.read().decode(errors="replace")]
    except Exception as e:
        out[url] = [0, repr(e)]
print(json.dumps(out))
'''


def _ip(*args):
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=20)


def in_netns(ns, fn):
    """Runs fn() on a thread that has entered network namespace ns; returns its value."""
    box = {}

    def run():
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        try:
            if _libc.setns(fd, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(fd)
        try:
            box["v"] = fn()
        except BaseException as e:  # re-raised on the caller's thread
            box["e"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join()
    if "e" in box:
        raise box["e"]
    return box["v"]


def _enter(ns, hosts):
    """preexec_fn: into ns's network, with hosts over /etc/hosts in a mount namespace of its own
    (so the proxy's getaddrinfo resolves our test names)."""
    def pre():
        fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            os._exit(90)
        os.close(fd)
        if _libc.unshare(CLONE_NEWNS) != 0:
            os._exit(91)
        if _libc.mount(b"none", b"/", None, MS_REC | MS_SLAVE, None) != 0:
            os._exit(92)
        if _libc.mount(str(hosts).encode(), b"/etc/hosts", None, MS_BIND, None) != 0:
            os._exit(93)
        os.setsid()
    return pre


class NsAgent:
    """sandpit-agent inside namespace A, with a token; HTTP to it from inside A."""

    def __init__(self, ns, tmp, hosts):
        self.ns = ns
        tok = tmp / "token"
        tok.write_text(TOKEN + "\n")
        tok.chmod(0o600)
        self.port_file = tmp / "port"
        self.log = tmp / "agent.log"
        args = [str(AGENT_BIN), "--host", "0.0.0.0", "--port", "0", "--port-file",
                str(self.port_file), "--work-dir", str(tmp / "work"), "--state-dir",
                str(tmp / "state"), "--harness-dir", str(DEFAULT_HARNESS), "--warm-pool", "1",
                "--agent-token-file", str(tok)]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANDPIT_")}
        with open(self.log, "wb") as lf:
            self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=lf,
                                         stderr=subprocess.STDOUT, env=env,
                                         preexec_fn=_enter(ns, hosts))
        self.port = None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                self.port = self.port or int(self.port_file.read_text().strip())
                st, body = self.request("GET", "/health", token=None)
                if st == 200 and (body.get("zygote") or {}).get("state") == "ready":
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError("agent in netns not ready:\n" + self.log.read_text())

    def request(self, method, path, body=None, token=TOKEN, host="127.0.0.1", timeout=60):
        def call():
            c = http.client.HTTPConnection(host, self.port, timeout=timeout)
            hdrs = {"Content-Type": "application/json"}
            if token:
                hdrs["X-Sandpit-Token"] = token
            try:
                c.request(method, path, body=json.dumps(body) if body is not None else None,
                          headers=hdrs)
                r = c.getresponse()
                raw = r.read()
            finally:
                c.close()
            try:
                return r.status, json.loads(raw)
            except ValueError:
                return r.status, raw.decode(errors="replace")
        return in_netns(self.ns, call)

    def fetch(self, urls, allow):
        st, res = self.request("POST", "/execute", {
            "code": FETCH, "timeout": 40, "stdin": json.dumps(urls),
            "scenario": {"allowHosts": allow}})
        assert st == 200 and res["status"] == "completed", (st, res)
        return json.loads(res["stdout"].strip().splitlines()[-1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    if os.geteuid() != 0 or not shutil.which("ip") or not AGENT_BIN.exists():
        pytest.skip("needs root, iproute2 and a built agent")
    tag = uuid.uuid4().hex[:6]
    a, b = f"spwa-{tag}", f"spwb-{tag}"
    tmp = tmp_path_factory.mktemp("wild")
    hosts = tmp / "hosts"
    hosts.write_text("127.0.0.1 localhost\n::1 localhost\n10.77.0.2 private.example.com\n"
                     "5.5.77.1 self.example.com\n")
    hosts.chmod(0o644)
    server = agent = None
    try:
        _ip("netns", "add", a)
        _ip("netns", "add", b)
        _ip("-n", a, "link", "add", "va", "type", "veth", "peer", "name", "vb", "netns", b)
        for ns, me, dev in ((a, 1, "va"), (b, 2, "vb")):
            _ip("-n", ns, "link", "set", "lo", "up")
            for net in ("10.77.0.%d/24", "100.64.77.%d/24", "172.16.77.%d/24"):
                _ip("-n", ns, "addr", "add", net % me, "dev", dev)
            _ip("-n", ns, "-6", "addr", "add", f"fd00:77::{me}/64", "dev", dev, "nodad")
            _ip("-n", ns, "link", "set", dev, "up")
        _ip("-n", a, "addr", "add", "5.5.77.1/32", "dev", "lo")
        server = subprocess.Popen(["ip", "netns", "exec", b, "/usr/bin/python3", "-c", SERVER,
                                   str(SERVER_PORT)], stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, start_new_session=True)
        assert server.stdout.readline().strip() == b"ready"
        agent = NsAgent(a, tmp, hosts)
        yield agent
    finally:
        if agent:
            agent.stop()
        if server:
            server.kill()
            server.wait()
        for ns in (a, b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def test_wildcard_refuses_private_ranges_and_exact_entries_reach_them(nets):
    urls = [f"http://{h}:{SERVER_PORT}/" for h in PRIVATE]
    got = nets.fetch(urls, ["*"])
    for h, what in PRIVATE.items():
        st, body = got[f"http://{h}:{SERVER_PORT}/"]
        assert st == 403 and "internal address" in body and what in body, (h, st, body)
    exact = [u for u in urls if "ffff" not in u]
    allow = [u.split("//")[1].rstrip("/") for u in exact]  # host:port, [v6]:port
    got = nets.fetch(exact, allow)
    for u in exact:
        assert got[u] == [200, "hello-from-B"], (u, got[u])


def test_wildcard_suffix_and_dns_are_judged_on_the_resolved_address(nets):
    url = f"http://private.example.com:{SERVER_PORT}/"
    for allow in (["*"], ["*.example.com"], ["*.com"]):
        st, body = nets.fetch([url], allow)[url]
        assert st == 403 and "resolves to an internal address (private (10/8))" in body, (
            allow, st, body)
    assert nets.fetch([url], ["private.example.com"])[url] == [200, "hello-from-B"]


def test_wildcard_never_reaches_the_agent_itself_and_the_agent_wants_its_token(nets):
    urls = [f"http://5.5.77.1:{nets.port}/executions",
            f"http://self.example.com:{nets.port}/executions"]
    got = nets.fetch(urls, ["*", "*.example.com"])
    for u in urls:
        st, body = got[u]
        assert st == 403 and "an address of the agent's own host" in body, (u, st, body)
    # Named exactly, the port is reached: the agent's API still refuses without the token.
    got = nets.fetch(urls[:1], ["5.5.77.1"])
    st, body = got[urls[0]]
    assert st == 401 and "X-Sandpit-Token" in body, (st, body)
    assert TOKEN not in body


def test_agent_token_gate(nets):
    for path, method in (("/executions", "GET"), ("/execute", "POST"), ("/metrics", "GET"),
                         ("/", "GET"), ("/no-such-route", "GET"), ("/healthz", "GET"),
                         ("/health-live", "GET")):
        for token in (None, "wrong-" + TOKEN, TOKEN[:-1], ""):
            st, body = nets.request(method, path, {} if method == "POST" else None, token=token)
            assert st == 401, (path, token, st, body)
            assert body["error"]["code"] == "unauthorized", body
            assert body["error"]["field"] == "X-Sandpit-Token", body
    st, body = nets.request("GET", "/executions")
    assert st == 200 and "executions" in body, body
    st, body = nets.request("GET", "/health", token=None)
    assert st == 200 and body["auth"] == "token", body
    # The probes' paths under /health are open too; nothing else that starts with its letters.
    st, body = nets.request("GET", "/health/live", token=None)
    assert (st, body) == (200, {"status": "live"}), body
    st, body = nets.request("GET", "/health/ready", token=None)
    assert st == 200 and body["status"] == "ready", body
    assert TOKEN not in Path(nets.log).read_text()
