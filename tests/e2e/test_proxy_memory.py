"""The proxy's queues are charged by what they cost and capped per execution (issue 17 item 6,
the proxy half): with five minutes of latency (the agent's --max-timeout bounds it) nothing is released, so every byte the program sends
stays queued in the agent. 1-byte segments used to cost ~48 bytes each against a 1 MiB payload
cap per direction and connection (3.8 MB of sends grew the agent by 143 MB). Now a session's
queues cost at most PROXY_SESSION_MAX (4 MiB) and the senders stall (TCP backpressure): the
agent's RSS grows by a small multiple of that at most.

A bound, not a reproduction: on this 2-core VM the kernel stalls a 1-byte sender after ~1 KB
per loopback connection, so 200 connections reach ~220k segments; the agent before the fix grew
by ~7.6 MiB here (37 bytes per byte sent), after it by ~4.5 MiB. tests/unit/test_toxics.c
test_relay_cost checks the accounting itself exactly.

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

# Runs in the sandbox (C, so it floods faster than the proxy reads): 200 connections to the TCP
# forward (SANDPIT_UPSTREAM = 127.0.0.1:3129), 1-byte sends with TCP_NODELAY round-robin (each
# connection's byte leaves as its own segment) until every socket
# has been blocked for 1 s, 6 s have passed or 3M bytes went out (a bound for the old code).
FLOOD = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>
#define NCONN 200
static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}
int main(void)
{
    const char *up = getenv("SANDPIT_UPSTREAM");
    const char *colon = up ? strrchr(up, ':') : NULL;
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fds[NCONN], one = 1;
    long sent = 0;
    double end, last;
    if (!colon)
        return 2;
    a.sin_port = htons(atoi(colon + 1));
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    for (int i = 0; i < NCONN; i++) {
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fds[i], (struct sockaddr *)&a, sizeof(a)) < 0)
            return 3;
        setsockopt(fds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
    end = now() + 6;
    last = now();
    while (sent < 3000000 && now() < end && now() - last < 1) {
        for (int i = 0; i < NCONN; i++) {
            if (send(fds[i], "x", 1, MSG_NOSIGNAL) == 1) {
                sent++;
                last = now();
            }
        }
    }
    printf("{\"sent\": %ld}\n", sent);
    return 0;
}
"""


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
            res = ag.execute(FLOOD, language="c", timeout=30, timeout_http=90, scenario={
                "networkLatencyMs": 300000, "toxicDirection": "both",
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
