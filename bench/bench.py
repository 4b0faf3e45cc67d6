#!/usr/bin/python3
"""sandpit benchmarks: each figure next to a baseline measured in the same run.

Run with `make bench` (Debian's /usr/bin/python3, stdlib only). Starts the real binaries on
loopback, prints a table and writes bench/RESULTS.md. Figures are medians over REPEATS runs.
Speed is reported here, never asserted in `make test`.
"""
import concurrent.futures
import http.client
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("SANDPIT_BUILD_DIR", os.path.join(ROOT, "build"))
PY = "/usr/bin/python3.11"
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
QUICK = os.environ.get("BENCH_QUICK") == "1"

PRINT = "print(1+1)"
PANDAS = ("import numpy as np\nimport pandas as pd\n"
          "df = pd.DataFrame({'a': np.arange(1000), 'b': np.random.rand(1000)})\n"
          "print(df.describe())\n")


def start(binary, args, ready_path="/health", ready=lambda h: True):
    tmp = tempfile.mkdtemp(prefix="sandpit-bench-")
    port_file = os.path.join(tmp, "port")
    log = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen([os.path.join(BUILD, binary), "--port", "0", "--port-file",
                             port_file, "--log-level", "warn"] + args,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 60
    while time.time() < deadline:
        if os.path.exists(port_file) and open(port_file).read().strip():
            port = int(open(port_file).read())
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", ready_path)
                h = json.loads(c.getresponse().read())
                if ready(h):
                    return proc, port
            except (OSError, ValueError):
                pass
        time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"{binary} did not become ready; log in {tmp}")


def agent_ready(h):
    return h.get("zygote", {}).get("state") == "ready"


def http_loop(port, path, body, n):
    """n sequential keep-alive requests; returns per-request latencies (s)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    data = json.dumps(body)
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        c.request("POST", path, data, {"Content-Type": "application/json"})
        r = c.getresponse()
        out = json.loads(r.read())
        lat.append(time.perf_counter() - t)
        if r.status != 200 or out.get("status", out.get("process_status")) not in (
                "completed", "ok"):
            raise SystemExit(f"unexpected answer: {r.status} {out}")
    return lat


def spawn_loop(code, n):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([PY, "-c", code], check=True, stdout=subprocess.DEVNULL)
        lat.append(time.perf_counter() - t)
    return lat


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def parallel_rate(fn, clients, n_each):
    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        list(ex.map(lambda _: fn(n_each), range(clients)))
    return clients * n_each / (time.perf_counter() - t)


def median_of(fn):
    return statistics.median(fn() for _ in range(REPEATS))


def figure_latency(name, port, path, body, n, base_code, base_n):
    rows = []
    p50 = median_of(lambda: pct(http_loop(port, path, body, n), 50))
    p99 = median_of(lambda: pct(http_loop(port, path, body, n), 99))
    r1 = median_of(lambda: parallel_rate(lambda k: http_loop(port, path, body, k), 1, n))
    r2 = median_of(lambda: parallel_rate(lambda k: http_loop(port, path, body, k), 2, n // 2))
    b50 = median_of(lambda: pct(spawn_loop(base_code, base_n), 50))
    b99 = median_of(lambda: pct(spawn_loop(base_code, base_n), 99))
    brate = median_of(lambda: parallel_rate(lambda k: spawn_loop(base_code, k), 1, base_n))
    brate2 = median_of(lambda: parallel_rate(lambda k: spawn_loop(base_code, k), 2, base_n // 2))
    rows.append((f"{name}: p50 latency", f"{p50*1e3:.2f} ms", f"{b50*1e3:.2f} ms",
                 f"{b50/p50:.1f}x faster"))
    rows.append((f"{name}: p99 latency", f"{p99*1e3:.2f} ms", f"{b99*1e3:.2f} ms",
                 f"{b99/p99:.1f}x faster"))
    rows.append((f"{name}: executions/s, 1 client", f"{r1:.0f}", f"{brate:.0f}",
                 f"{r1/brate:.1f}x"))
    rows.append((f"{name}: executions/s, 2 clients", f"{r2:.0f}", f"{brate2:.0f}",
                 f"{r2/brate2:.1f}x"))
    return rows


def main():
    n = 100 if QUICK else 500
    rows = []
    agent, port = start("sandpit-agent", [], ready=agent_ready)
    try:
        for path in ("/execute",):
            http_loop(port, path, {"code": PRINT}, 50)  # warm-up
            rows += figure_latency("print(1+1) via agent", port, path, {"code": PRINT}, n,
                                   PRINT, 30 if QUICK else 100)
            rows += figure_latency("numpy+pandas snippet via agent", port, path,
                                   {"code": PANDAS}, n // 5, PANDAS, 5 if QUICK else 15)
    finally:
        agent.terminate()
        agent.wait(10)

    head = ("figure", "sandpit", "baseline", "ratio")
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(4)]
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))

    kernel = platform.release()
    cores = os.cpu_count()
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "w") as f:
        f.write("# Benchmark results\n\n")
        f.write(f"Machine: {cores} cores, Linux {kernel}, {platform.machine()}; "
                f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n")
        f.write("Command: `make bench` (bench/bench.py; "
                f"median of {REPEATS} runs per figure; HTTP/1.1 keep-alive from Python's "
                "http.client on loopback, so client overhead is included).\n\n")
        f.write("Baseline, measured in the same run: `/usr/bin/python3.11 -c <same code>` "
                "spawned per execution (no isolation at all).\n\n")
        f.write("| " + " | ".join(head) + " |\n|" + "---|" * 4 + "\n")
        for r in rows:
            f.write("| " + " | ".join(r) + " |\n")
    print(f"\nwrote {os.path.join(ROOT, 'bench', 'RESULTS.md')}")


if __name__ == "__main__":
    sys.exit(main())
