"""End-to-end tests of build/sandpit-proxy: the shaping proxy's toxics, measured on loopback.

Each test starts sandpit-proxy processes (`--listen 127.0.0.1:0 --port-file`) and tiny origin
servers of its own on 127.0.0.1 (threads: http.server for HTTP, plain sockets for TCP). Every
socket has a timeout, every process is stopped with SIGTERM and must print its counters line
and exit 0. Measured figures are printed (run with -s to see them); tolerances are the ones in
docs/proxy.md.
"""
import http.server
import json
import os
import signal
import socket
import statistics
import subprocess
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("SANDPIT_BUILD_DIR") or (ROOT / "build"))
PROXY_BIN = BUILD_DIR / "sandpit-proxy"

IO_TIMEOUT_S = 10.0


# -- origin servers ------------------------------------------------------------------------------

class _Handler(http.server.BaseHTTPRequestHandler):
    """GET /small, GET /bytes/N, POST /echo; HTTP/1.0, so the server closes after each reply."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/bytes/"):
            body = b"x" * int(self.path.split("/")[2])
        else:
            body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Seen-Host", self.headers.get("Host", ""))
        self.send_header("X-Seen-Connection", self.headers.get("Connection", ""))
        self.send_header("X-Seen-Proxy-Connection", self.headers.get("Proxy-Connection", "-"))
        self.send_header("X-Seen-Path", self.path)
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def origin():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


class TcpServer:
    """Accepts on 127.0.0.1 and runs handler(conn) per connection on a thread."""

    def __init__(self, handler):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.handler = handler
        self.stopping = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stopping:
            try:
                conn, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            conn.settimeout(IO_TIMEOUT_S)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def stop(self):
        self.stopping = True
        self.thread.join(2)
        self.sock.close()


def echo_handler(conn):
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


@pytest.fixture
def tcp_servers():
    servers = []

    def make(handler):
        s = TcpServer(handler)
        servers.append(s)
        return s

    yield make
    for s in servers:
        s.stop()


# -- the proxy -----------------------------------------------------------------------------------

class Proxy:
    def __init__(self, tmp: Path, *args, env=None):
        if not PROXY_BIN.exists():
            pytest.fail(f"{PROXY_BIN} not found: run `make` in {ROOT}")
        tmp.mkdir(parents=True, exist_ok=True)
        self.port_file = tmp / "port"
        self.log_path = tmp / "proxy.log"
        self._log = open(self.log_path, "wb")
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SANDPIT_")}
        full_env.update(env or {})
        cmd = [str(PROXY_BIN), "--port-file", str(self.port_file), "--log-level", "debug"]
        if not any(str(a).startswith("--listen") for a in args):
            cmd += ["--listen", "127.0.0.1:0"]
        self.proc = subprocess.Popen(cmd + [str(a) for a in args], stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT, env=full_env)
        self.counters = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sandpit-proxy exited with {self.proc.returncode}:\n"
                                   + self.log_text())
            try:
                self.port = int(self.port_file.read_text().strip())
                return
            except (OSError, ValueError):
                time.sleep(0.01)
        self.proc.kill()
        raise RuntimeError("sandpit-proxy did not write its port file:\n" + self.log_text())

    def log_text(self):
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self):
        """SIGTERM; returns the counters line (a dict). Fails on a non-zero exit."""
        if self.counters is not None:
            return self.counters
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("sandpit-proxy ignored SIGTERM:\n" + self.log_text())
        self._log.close()
        text = self.log_path.read_text(errors="replace")
        assert rc == 0, f"sandpit-proxy exited {rc}:\n{text}"
        lines = [ln for ln in text.splitlines() if ln.startswith('{"bytes_up"')]
        assert lines, "no counters line:\n" + text
        self.counters = json.loads(lines[-1])
        return self.counters


@pytest.fixture
def make_proxy(tmp_path):
    made = []

    def make(*args, env=None):
        p = Proxy(tmp_path / f"proxy{len(made)}", *args, env=env)
        made.append(p)
        return p

    yield make
    errors = []
    for p in made:
        try:
            p.stop()
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


# -- clients -------------------------------------------------------------------------------------

def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT_S)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def read_all(s):
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            return b"".join(chunks)
        chunks.append(b)


def parse_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def proxy_request(proxy_port, request: bytes):
    """Sends a raw request to the proxy; returns (status, headers, body, seconds to EOF)."""
    t0 = time.perf_counter()
    with connect(proxy_port) as s:
        s.sendall(request)
        raw = read_all(s)
    return (*parse_response(raw), time.perf_counter() - t0)


def proxy_get(proxy_port, url, extra=b""):
    host = url.split("/")[2].encode()
    return proxy_request(proxy_port, b"GET " + url.encode() + b" HTTP/1.1\r\nHost: " + host +
                         b"\r\nProxy-Connection: keep-alive\r\n" + extra + b"\r\n")


def direct_get(port, path):
    t0 = time.perf_counter()
    with connect(port) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        raw = read_all(s)
    return (*parse_response(raw), time.perf_counter() - t0)


def connect_tunnel(proxy_port, target):
    """CONNECT through the proxy; returns (socket, status line, leftover bytes)."""
    s = connect(proxy_port)
    s.sendall(f"CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n".encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        b = s.recv(4096)
        if not b:
            break
        buf += b
    head, _, rest = buf.partition(b"\r\n\r\n")
    return s, head.split(b"\r\n")[0].decode(), rest


def median_time(fn, n=5):
    return statistics.median(fn() for _ in range(n))


def direct_baseline(port, n=7):
    """The fastest of n direct requests: the cost of a request with no toxic at all (a median
    would carry the noise of a busy machine into the added-latency figure)."""
    return min(direct_get(port, "/small")[3] for _ in range(n))


# -- HTTP forward proxy --------------------------------------------------------------------------

def test_forward_get_post_and_counters(make_proxy, origin):
    px = make_proxy("--allow", f"127.0.0.1:{origin}")
    st, h, body, _ = proxy_get(px.port, f"http://127.0.0.1:{origin}/small?q=1#frag")
    assert st == 200 and body == b"hello\n"
    # Origin-form on the wire, Host from the URL, hop-by-hop headers gone, Connection: close.
    assert h["x-seen-path"] == "/small?q=1"
    assert h["x-seen-host"] == f"127.0.0.1:{origin}"
    assert h["x-seen-connection"] == "close"
    assert h["x-seen-proxy-connection"] == "-"
    payload = os.urandom(300000)
    req = (f"POST http://127.0.0.1:{origin}/echo HTTP/1.1\r\nHost: x\r\n"
           f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
    st, _, body, _ = proxy_request(px.port, req)
    assert st == 200 and body == payload
    c = px.stop()
    print("counters:", c)
    assert c["connections"] == 2 and c["denied"] == 0 and c["failed"] == 0
    assert c["bytes_up"] > len(payload) and c["bytes_down"] > len(payload)


def test_not_allowed_is_403_with_reason(make_proxy, origin):
    px = make_proxy("--allow", "example.com,*.example.org", "--allow", f"127.0.0.1:{origin + 1}")
    st, h, body, _ = proxy_get(px.port, f"http://127.0.0.1:{origin}/small")
    assert st == 403
    assert h["content-type"] == "text/plain"
    assert h["connection"] == "close"
    assert h["x-sandpit-proxy"] == "denied"
    assert body == f"sandpit proxy: 127.0.0.1:{origin} is not in allowHosts\n".encode()
    st, _, body, _ = proxy_get(px.port, "http://example.org/")  # "*.example.org" is not the apex
    assert st == 403 and b"example.org:80 is not in allowHosts" in body
    s, line, _ = connect_tunnel(px.port, "evil.example.net:443")
    s.close()
    assert line.startswith("HTTP/1.1 403")
    c = px.stop()
    assert c["denied"] == 3 and c["failed"] == 0 and c["bytes_up"] == 0


def test_wildcard_never_reaches_loopback(make_proxy, origin):
    px = make_proxy("--allow", "*")
    st, _, body, _ = proxy_get(px.port, f"http://127.0.0.1:{origin}/small")
    assert st == 403 and b"internal address" in body
    st, _, body, _ = proxy_get(px.port, f"http://localhost:{origin}/small")
    assert st == 403 and b"internal address" in body
    assert px.stop()["denied"] == 2


def test_bad_requests_are_400(make_proxy, origin):
    px = make_proxy("--allow", "*")
    st, h, body, _ = proxy_request(px.port, b"GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
    assert st == 400 and h["x-sandpit-proxy"] == "bad-request" and b"absolute URL" in body
    st, _, body, _ = proxy_request(px.port, b"GET https://example.com/ HTTP/1.1\r\n\r\n")
    assert st == 400 and b"CONNECT" in body
    st, _, _, _ = proxy_request(px.port, b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")
    assert st == 400
    st, _, _, _ = proxy_request(px.port, b"GET http://x/ HTTP/1.1\r\nX: " + b"a" * 20000)
    assert st == 431


def test_unreachable_is_502(make_proxy, tcp_servers):
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    px = make_proxy("--allow", "127.0.0.1,no-such-host.invalid")
    st, h, body, _ = proxy_get(px.port, f"http://127.0.0.1:{port}/")
    assert st == 502 and h["x-sandpit-proxy"] == "upstream-failed"
    assert f"cannot reach 127.0.0.1:{port}".encode() in body
    st, _, body, secs = proxy_get(px.port, "http://no-such-host.invalid/")
    print(f"unresolvable name answered in {secs * 1e3:.1f} ms: {body!r}")
    assert st == 502
    c = px.stop()
    assert c["failed"] == 2 and c["denied"] == 0


def test_connect_tunnel(make_proxy, tcp_servers):
    echo = tcp_servers(echo_handler)
    px = make_proxy("--allow", f"127.0.0.1:{echo.port}")
    s, line, rest = connect_tunnel(px.port, f"127.0.0.1:{echo.port}")
    with s:
        assert line == "HTTP/1.1 200 Connection established" and rest == b""
        for size in (1, 1000, 200000):
            data = os.urandom(size)
            s.sendall(data)
            got = b""
            while len(got) < size:
                got += s.recv(65536)
            assert got == data
    c = px.stop()
    assert c["connections"] == 1
    # The proxy's own 200 is not payload.
    assert c["bytes_up"] == c["bytes_down"] == 201001


def test_tcp_forward(make_proxy, tcp_servers):
    echo = tcp_servers(echo_handler)
    px = make_proxy("--mode", "tcp", "--upstream", f"127.0.0.1:{echo.port}")
    data = os.urandom(3 << 20)
    with connect(px.port) as s:
        threading.Thread(target=s.sendall, args=(data,), daemon=True).start()
        got = bytearray()
        while len(got) < len(data):
            b = s.recv(1 << 20)
            assert b
            got += b
        assert bytes(got) == data
        s.shutdown(socket.SHUT_WR)  # half-close reaches the echo server, which closes
        assert s.recv(10) == b""
    c = px.stop()
    assert c == {"bytes_up": len(data), "bytes_down": len(data), "connections": 1, "denied": 0,
                 "failed": 0}


def test_help_and_environment(make_proxy, origin):
    out = subprocess.run([str(PROXY_BIN), "--help"], capture_output=True, text=True,
                         timeout=10).stdout
    for flag in ("--listen", "--mode", "--upstream", "--allow", "--latency-ms", "--jitter-ms",
                 "--bandwidth-kbps", "--timeout-ms", "--reset-after-ms", "--slice-bytes",
                 "--slice-delay-ms", "--limit-data-bytes", "--direction", "--egress",
                 "--port-file", "$SANDPIT_PROXY_LATENCY_MS"):
        assert flag in out
    # The environment fallback: SANDPIT_PROXY_*, never the agent's SANDPIT_* names.
    px = make_proxy(env={"SANDPIT_PROXY_ALLOW": f"127.0.0.1:{origin},example.com",
                         "SANDPIT_ALLOW": "*", "SANDPIT_LATENCY_MS": "5000"})
    st, _, _, secs = proxy_get(px.port, f"http://127.0.0.1:{origin}/small")
    assert st == 200 and secs < 2
    assert proxy_get(px.port, "http://example.net/")[0] == 403


def test_concurrent_connections_and_cap(make_proxy, origin, tcp_servers):
    px = make_proxy("--allow", "127.0.0.1")
    results = []

    def one(i):
        results.append(proxy_get(px.port, f"http://127.0.0.1:{origin}/bytes/{1000 + i}"))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(len(r[2]) for r in results) == [1000 + i for i in range(64)]
    assert all(r[0] == 200 for r in results)
    assert px.stop()["connections"] == 64

    # --max-connections: the connection past the cap is reset at accept, the others go on.
    echo = tcp_servers(echo_handler)
    capped = make_proxy("--mode", "tcp", "--upstream", f"127.0.0.1:{echo.port}",
                        "--max-connections", "2")
    a, b = connect(capped.port), connect(capped.port)
    for s in (a, b):
        s.sendall(b"x")
        assert s.recv(1) == b"x"
    with pytest.raises((ConnectionResetError, BrokenPipeError)):
        with connect(capped.port) as c:  # the reset may already fail the connect
            c.sendall(b"y")
            if not c.recv(1):
                raise ConnectionResetError
    a.close()
    b.close()


def test_out_of_fds_does_not_spin(make_proxy, tcp_servers):
    echo = tcp_servers(echo_handler)
    px = make_proxy("--mode", "tcp", "--upstream", f"127.0.0.1:{echo.port}")
    # Squeeze the running proxy to 24 fds: a few connections fit, the rest hit EMFILE.
    subprocess.run(["prlimit", f"--pid={px.proc.pid}", "--nofile=24:24"], check=True, timeout=10)
    socks = []
    for _ in range(12):
        try:
            socks.append(connect(px.port))
        except OSError:
            pass
    time.sleep(0.3)

    def cpu_s():
        f = open(f"/proc/{px.proc.pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")

    c0 = cpu_s()
    time.sleep(1.0)
    used = cpu_s() - c0
    print(f"{len(socks)} connections at a 24-fd limit; proxy CPU over 1 s idle: {used:.2f} s")
    assert used < 0.2
    for s in socks:
        s.close()
    time.sleep(0.3)
    with connect(px.port) as s:  # fds freed: it serves again
        s.sendall(b"again")
        assert s.recv(5) == b"again"
    assert "accept failed" in px.log_text() or "Too many open files" in px.log_text()


# -- toxics, measured ----------------------------------------------------------------------------

def test_latency_adds_200ms_one_direction(make_proxy, origin):
    plain = make_proxy("--allow", "127.0.0.1")
    slow = make_proxy("--allow", "127.0.0.1", "--latency-ms", "200")
    url = f"http://127.0.0.1:{origin}/small"
    d = direct_baseline(origin)
    p0 = median_time(lambda: proxy_get(plain.port, url)[3])
    p = median_time(lambda: proxy_get(slow.port, url)[3])
    print(f"direct {d * 1e3:.2f} ms, proxy {p0 * 1e3:.2f} ms, latency 200: {p * 1e3:.1f} ms "
          f"(+{(p - d) * 1e3:.1f} ms)")
    assert p >= 0.200  # the latency is a floor under every proxied request
    # What it adds over a direct request, with 10 ms of slack for the baseline's own noise (on a
    # loaded machine even the fastest direct request carries a few ms of scheduling).
    assert 0.190 <= p - d <= 0.260


def test_latency_direction_up_and_both(make_proxy, origin):
    up = make_proxy("--allow", "127.0.0.1", "--latency-ms", "200", "--direction", "up")
    both = make_proxy("--allow", "127.0.0.1", "--latency-ms", "200", "--direction", "both")
    url = f"http://127.0.0.1:{origin}/small"
    d = direct_baseline(origin)
    u = median_time(lambda: proxy_get(up.port, url)[3], 3)
    b = median_time(lambda: proxy_get(both.port, url)[3], 3)
    print(f"direct {d * 1e3:.1f} ms, up {u * 1e3:.1f} ms, both {b * 1e3:.1f} ms")
    assert u >= 0.200 and b >= 0.400  # floors, as above
    assert 0.190 <= u - d <= 0.260
    assert 0.390 <= b - d <= 0.480


def test_jitter_widens_the_spread(make_proxy, origin):
    steady = make_proxy("--allow", "127.0.0.1", "--latency-ms", "100")
    jittery = make_proxy("--allow", "127.0.0.1", "--latency-ms", "100", "--jitter-ms", "80")
    url = f"http://127.0.0.1:{origin}/small"
    a = [proxy_get(steady.port, url)[3] for _ in range(12)]
    b = [proxy_get(jittery.port, url)[3] for _ in range(12)]
    sa, sb = statistics.pstdev(a), statistics.pstdev(b)
    print(f"latency 100: {min(a) * 1e3:.0f}-{max(a) * 1e3:.0f} ms, stdev {sa * 1e3:.1f} ms; "
          f"jitter 80: {min(b) * 1e3:.0f}-{max(b) * 1e3:.0f} ms, stdev {sb * 1e3:.1f} ms")
    assert all(0.100 <= t < 0.140 for t in a)
    assert all(0.020 <= t < 0.220 for t in b)
    assert sb > 15e-3 and sb > 3 * sa
    assert max(b) - min(b) > 60e-3


def test_bandwidth_800kbps(make_proxy, origin):
    px = make_proxy("--allow", "127.0.0.1", "--bandwidth-kbps", "800")
    st, _, body, secs = proxy_get(px.port, f"http://127.0.0.1:{origin}/bytes/200000")
    print(f"200 KB at 800 kbit/s: {secs:.3f} s ({len(body) * 8 / secs / 1000:.0f} kbit/s)")
    assert st == 200 and len(body) == 200000
    assert 1.7 <= secs <= 2.3


def test_bandwidth_upload_direction(make_proxy, tcp_servers):
    got = []

    def sink(conn):
        n = 0
        while True:
            b = conn.recv(65536)
            if not b:
                break
            n += len(b)
        got.append((n, time.perf_counter()))
        conn.sendall(b"done")

    srv = tcp_servers(sink)
    px = make_proxy("--mode", "tcp", "--upstream", f"127.0.0.1:{srv.port}",
                    "--bandwidth-kbps", "1600", "--direction", "up")
    t0 = time.perf_counter()
    with connect(px.port) as s:
        s.sendall(b"u" * 100000)
        s.shutdown(socket.SHUT_WR)
        assert read_all(s) == b"done"
    secs = got[0][1] - t0
    print(f"100 KB up at 1600 kbit/s: {secs:.3f} s")
    assert got[0][0] == 100000 and 0.42 <= secs <= 0.58


def test_timeout_stalls_then_closes(make_proxy, origin, tcp_servers):
    px = make_proxy("--allow", "127.0.0.1", "--timeout-ms", "300")
    with connect(px.port) as s:
        t0 = time.perf_counter()
        s.sendall(f"GET http://127.0.0.1:{origin}/small HTTP/1.1\r\n\r\n".encode())
        data = read_all(s)
        secs = time.perf_counter() - t0
    print(f"timeout 300: closed after {secs * 1e3:.1f} ms with {len(data)} bytes")
    assert data == b"" and 0.250 <= secs <= 0.350
    echo = tcp_servers(echo_handler)
    tpx = make_proxy("--mode", "tcp", "--upstream", f"127.0.0.1:{echo.port}", "--timeout-ms",
                     "300")
    with connect(tpx.port) as s:
        t0 = time.perf_counter()
        s.sendall(b"ping")
        data = read_all(s)
        secs = time.perf_counter() - t0
    print(f"tcp timeout 300: closed after {secs * 1e3:.1f} ms with {len(data)} bytes")
    assert data == b"" and 0.250 <= secs <= 0.350
    assert px.stop()["bytes_down"] == 0 and tpx.stop()["bytes_up"] == 0


def test_reset_after(make_proxy, tcp_servers):
    def talker(conn):
        conn.sendall(b"hello")
        conn.settimeout(3)
        conn.recv(10)  # until the proxy resets us, at most 3 s

    srv = tcp_servers(talker)
    px = make_proxy("--mode", "tcp", "--upstream", f"127.0.0.1:{srv.port}",
                    "--reset-after-ms", "300")
    with connect(px.port) as s:
        t0 = time.perf_counter()
        got = b""
        while len(got) < 5:
            got += s.recv(10)
        assert got == b"hello"
        with pytest.raises(ConnectionResetError):
            s.recv(10)
        secs = time.perf_counter() - t0
    print(f"reset_after 300: ConnectionResetError after {secs * 1e3:.1f} ms")
    assert 0.250 <= secs <= 0.350


def test_slicer(make_proxy, tcp_servers):
    def blob(conn):
        conn.sendall(b"s" * 10000)

    srv = tcp_servers(blob)
    px = make_proxy("--mode", "tcp", "--upstream", f"127.0.0.1:{srv.port}",
                    "--slice-bytes", "500", "--slice-delay-ms", "10")
    sizes = []
    with connect(px.port) as s:
        t0 = time.perf_counter()
        while True:
            b = s.recv(65536)
            if not b:
                break
            sizes.append(len(b))
        secs = time.perf_counter() - t0
    print(f"slicer 500 B / 10 ms: {len(sizes)} recv()s of at most {max(sizes)} B in "
          f"{secs * 1e3:.0f} ms")
    assert sum(sizes) == 10000
    assert len(sizes) >= 15 and max(sizes) <= 1000
    assert secs >= 0.15


def test_limit_data(make_proxy, tcp_servers):
    def blob(conn):
        try:
            conn.sendall(b"L" * 100000)
            conn.recv(1)
        except OSError:
            pass

    srv = tcp_servers(blob)
    px = make_proxy("--mode", "tcp", "--upstream", f"127.0.0.1:{srv.port}",
                    "--limit-data-bytes", "10000")
    with connect(px.port) as s:
        data = read_all(s)
    print(f"limit_data 10000: received {len(data)} bytes, then EOF")
    assert data == b"L" * 10000
    assert px.stop()["bytes_down"] == 10000


def test_backpressure_bounds_the_queue(make_proxy, tcp_servers):
    """A slow reader behind a latency toxic: the proxy stops reading instead of buffering."""
    sent = [0]

    def firehose(conn):
        try:
            while sent[0] < (64 << 20):
                conn.sendall(b"f" * 65536)
                sent[0] += 65536
        except OSError:
            pass

    srv = tcp_servers(firehose)
    px = make_proxy("--mode", "tcp", "--upstream", f"127.0.0.1:{srv.port}", "--latency-ms", "50")
    with connect(px.port) as s:
        s.recv(1)
        time.sleep(1.0)  # the client reads nothing more
        rss_kb = int([ln for ln in open(f"/proc/{px.proc.pid}/status")
                      if ln.startswith("VmRSS:")][0].split()[1])
        print(f"server pushed {sent[0] >> 20} MiB into a stalled client; proxy RSS {rss_kb} kB")
        assert sent[0] < (32 << 20)
        assert rss_kb < 40000


# -- egress chaining -----------------------------------------------------------------------------

def test_egress_chaining(make_proxy, origin, tcp_servers):
    echo = tcp_servers(echo_handler)
    egress = make_proxy("--allow", f"127.0.0.1:{origin},127.0.0.1:{echo.port}")
    inner = make_proxy("--egress", f"127.0.0.1:{egress.port}",
                       "--allow", f"127.0.0.1:{origin},127.0.0.1:{echo.port},localhost:{origin}")
    st, h, body, _ = proxy_get(inner.port, f"http://127.0.0.1:{origin}/small")
    assert st == 200 and body == b"hello\n" and h["x-seen-path"] == "/small"
    s, line, _ = connect_tunnel(inner.port, f"127.0.0.1:{echo.port}")
    with s:
        assert line.endswith("200 Connection established")
        s.sendall(b"through two proxies")
        assert s.recv(100) == b"through two proxies"
    # Refused by the inner allow-list: the egress never sees it.
    assert proxy_get(inner.port, "http://example.com/")[0] == 403
    # Allowed inside, refused by the egress: a 502 naming the egress's answer.
    st, _, body, _ = proxy_get(inner.port, f"http://localhost:{origin}/small")
    assert st == 502 and b"egress proxy answered 403" in body
    ci, ce = inner.stop(), egress.stop()
    print("inner:", ci, "egress:", ce)
    assert ci["connections"] == 4 and ci["denied"] == 1 and ci["failed"] == 1
    assert ce["connections"] == 3 and ce["denied"] == 1
