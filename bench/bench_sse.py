"""Live output's figure for bench.py (issue 16): how long a chunk takes from the program's flush
to the client, over server-sent events from the agent (POST /execute, Accept:
text/event-stream), against a floor measured in the same run: the same program's lines read from
a plain pipe by its parent process (two local processes, no sandbox, no HTTP).

The program prints time.time() with flush every 20 ms; the client notes each event's arrival
(time.time()) and takes the difference for every line. Both ends use the host's wall clock (the
sandbox has no time namespace). Reported as p50/p99; nothing asserted.
"""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "tests", "e2e"))
from sse_client import SseStream  # noqa: E402  (the tests' independent SSE client)

TICKS = "import time\nfor i in range({n}):\n    print(repr(time.time()), flush=True)\n" \
        "    time.sleep(0.02)\n"


def _pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def sse_delays(port, n):
    s = SseStream(port, "/execute", {"code": TICKS.format(n=n), "timeout": 60})
    delays = []
    for ev in s:
        now = time.time()
        if ev.type == "stdout":
            delays += [now - float(line) for line in ev.json()["text"].splitlines() if line]
    s.close()
    return delays


def pipe_delays(n):
    p = subprocess.Popen(["/usr/bin/python3.11", "-c", TICKS.format(n=n)], stdout=subprocess.PIPE)
    delays = []
    for line in p.stdout:
        delays.append(time.time() - float(line))
    p.wait()
    return delays


def figure_sse(rows, port, quick):
    n = 50 if quick else 250
    sse_delays(port, 5)  # warm-up
    sse = sse_delays(port, n)
    floor = pipe_delays(n)
    for p in (50, 99):
        a, b = _pct(sse, p), _pct(floor, p)
        rows.append((f"SSE: program flush to client, p{p} (pipe between 2 processes as floor)",
                     f"{a*1e3:.2f} ms", f"{b*1e3:.2f} ms", f"{(a - b)*1e3:+.2f} ms added"))
    return rows


if __name__ == "__main__":
    rows = figure_sse([], int(sys.argv[1]), "--quick" in sys.argv)
    for r in rows:
        print("  ".join(r))
