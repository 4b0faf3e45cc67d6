"""The proxy's queues are charged by what they cost and capped per execution (issue 17 item 6,
the proxy half): with an hour of latency nothing is released, so every byte the program sends
stays queued in the agent. 1-byte segments on many connections used to cost ~48 bytes each
with a 1 MiB payload cap per direction and connection (3.8 MB of sends grew the agent by
143 MB). Now the session's queues cost at most PROXY_SESSION_MAX (4 MiB) and the senders are
stalled (TCP backpressure): the agent's RSS grows by a small multiple of that at most.

The agent runs with a token (the conftest fixture sends it), the sink on the host's loopback.
"""
import json
import socket
import threading
import time
import uuid

SESSION_CAP = 4 << 20   # netshape/proxy_relay.c PROXY_SESSION_MAX
BOUND = 5 * SESSION_CAP  # RSS growth allowed: the cap plus allocator and bookkeeping slack
TOKEN = "mem-" + uuid.uuid4().hex

# Runs in the sandbox: 16 connections to the TCP forward (SANDPIT_UPSTREAM = 127.0.0.1:3129),
# 1-byte sends with TCP_NODELAY for up to 8 s, until every socket is blocked for 1 s.
FLOOD = r'''
import json, os, socket, time
host, port = os.environ["SANDPIT_UPSTREAM"].rsplit(":", 1)
socks = []
for _ in range(16):
    s = socket.create_connection((host, int(port)), timeout=5)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    socks.append(s)
sent, end, last_progress = 0, time.monotonic() + 8, time.monotonic()
while time.monotonic() < end and time.monotonic() - last_progress < 1:
    for s in socks:
        try:
            sent += s.send(b"\x01")
            last_progress = time.monotonic()
        except BlockingIOError:
            pass
print(json.dumps({"sent": sent}))
'''


def _rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class _Sink:
    """Accepts on 127.0.0.1 and holds the connections (the latency lets nothing through)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


def test_tiny_segments_under_huge_latency_stay_bounded(make_agent):
    ag = make_agent(agent_token=TOKEN, warm_pool=1)
    sink = _Sink()
    peak, stop = [0], threading.Event()

    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], _rss(ag.pid))
            time.sleep(0.05)

    try:
        ag.execute("print(1)")  # warm the paths a run uses before the baseline
        base = _rss(ag.pid)
        t = threading.Thread(target=sample)
        t.start()
        try:
            res = ag.execute(FLOOD, timeout=30, timeout_http=90, scenario={
                "networkLatencyMs": 3600000, "toxicDirection": "both",
                "upstream": f"127.0.0.1:{sink.port}"})
        finally:
            stop.set()
            t.join()
    finally:
        sink.close()
    assert res["status"] == "completed", res
    sent = json.loads(res["stdout"].strip().splitlines()[-1])["sent"]
    grew = peak[0] - base
    print(f"\nsent {sent} 1-byte segments; agent RSS {base >> 20} MiB -> peak {peak[0] >> 20} MiB "
          f"(+{grew / 2**20:.1f} MiB, bound {BOUND >> 20} MiB); network {res.get('network')}")
    # The flood got far enough to matter: past the cap's worth of queued 1-byte chunks.
    assert sent > SESSION_CAP // 576, sent
    assert grew < BOUND, (grew, sent)
    # Nothing was delivered: the latency holds every byte.
    assert (res.get("network") or {}).get("bytes_up", 0) == 0, res.get("network")
