#!/usr/bin/python3
"""sandpit benchmarks: each figure next to a baseline measured in the same run.

Run with `make bench` (Debian's /usr/bin/python3, stdlib only); `make bench-sessions` (or
`bench.py sessions`) runs only the sessions' figures (bench_sessions.py) and replaces their
section of RESULTS.md. Starts the real binaries on
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

import bench_floor
import bench_sessions
import bench_sse

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
    # An agent locks its state directory: each one gets its own.
    own = ["--state-dir", os.path.join(tmp, "state")] if binary == "sandpit-agent" else []
    proc = subprocess.Popen([os.path.join(BUILD, binary), "--port", "0", "--port-file",
                             port_file, "--log-level", "warn"] + own + args,
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


def pss_kb(pid):
    """Proportional set size of one process (kB), from smaps_rollup."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def descendants(pid):
    """Every process below pid (by PPid), transitively."""
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


def submit_async(port, code, timeout=30):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    c.request("POST", "/execute", json.dumps({"code": code, "async": True, "timeout": timeout,
                                              "debug_mode": False}),
              {"Content-Type": "application/json"})
    r = c.getresponse()
    body = json.loads(r.read())
    return r.status, body.get("execution_id")


def wait_result(port, eid, secs=60):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=secs + 10)
    c.request("GET", f"/execution/{eid}?wait={secs}")
    return json.loads(c.getresponse().read())


def figure_memory(rows):
    """PSS per sleeping execution, and agent/zygote RSS drift over many executions."""
    agent, port = start("sandpit-agent", ["--max-concurrent", "200"], ready=agent_ready)
    try:
        h = json.loads(http_get(port, "/health"))
        zpid = h["zygote"]["pid"]
        time.sleep(1)  # the warm pool fills
        base = {p: pss_kb(p) for p in descendants(zpid)}
        n = 20 if QUICK else 100
        ids = [submit_async(port, "import time; time.sleep(6)")[1] for _ in range(n)]
        time.sleep(2.5)
        now = descendants(zpid)
        extra = sum(pss_kb(p) for p in now if p not in base)
        per = extra / n / 1024
        rows.append((f"PSS per sleeping execution ({n} at once, incl. its init)",
                     f"{per:.2f} MB", "1.3 MB floor measured by the issue", "-"))
        for eid in ids:
            wait_result(port, eid)
        count = 1000 if QUICK else 10000
        http_loop(port, "/execute", {"code": PRINT, "debug_mode": False}, 200)
        a0, z0 = rss_kb(agent.pid), rss_kb(zpid)
        parallel_rate(lambda k: http_loop(port, "/execute", {"code": PRINT, "debug_mode": False},
                                          k), 4, count // 4)
        a1, z1 = rss_kb(agent.pid), rss_kb(zpid)
        rows.append((f"agent RSS before/after {count} executions", f"{a0/1024:.1f} / {a1/1024:.1f} MB",
                     "-", f"{(a1 - a0) / a0 * 100:+.1f}%"))
        rows.append((f"zygote RSS before/after {count} executions", f"{z0/1024:.1f} / {z1/1024:.1f} MB",
                     "-", f"{(z1 - z0) / z0 * 100:+.1f}%"))
    finally:
        agent.terminate()
        agent.wait(30)


def http_get(port, path):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    c.request("GET", path)
    return c.getresponse().read()


def figure_scale(rows):
    """1,000 concurrent time.sleep(2) executions on one agent; /health latency meanwhile."""
    n = 200 if QUICK else 1000
    agent, port = start("sandpit-agent", ["--max-concurrent", str(n), "--max-queue", str(n)],
                        ready=agent_ready)
    try:
        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(32) as ex:
            ids = list(ex.map(lambda _: submit_async(port, "import time; time.sleep(2)"), range(n)))
        health = []
        stop = time.perf_counter() + 2.5
        while time.perf_counter() < stop:
            t = time.perf_counter()
            http_get(port, "/health")
            health.append(time.perf_counter() - t)
            time.sleep(0.01)
        with concurrent.futures.ThreadPoolExecutor(64) as ex:
            results = list(ex.map(lambda i: wait_result(port, i[1], 120), ids))
        total = time.perf_counter() - t0
        ok = sum(1 for r in results if r.get("status") == "completed")
        rejected = sum(1 for st, _ in ids if st != 202)
        rows.append((f"{n} concurrent time.sleep(2): completed", f"{ok}/{n} in {total:.1f} s",
                     f"{rejected} rejected", "-"))
        rows.append(("/health latency meanwhile: p50 / p99",
                     f"{pct(health, 50)*1e3:.1f} / {pct(health, 99)*1e3:.1f} ms", "-", "-"))
    finally:
        agent.terminate()
        agent.wait(60)


def figure_throughput(rows):
    """16 concurrent clients for 30 s: executions/s and errors."""
    secs = 5 if QUICK else 30
    agent, port = start("sandpit-agent", [], ready=agent_ready)
    errors = [0]
    done = [0]
    try:
        http_loop(port, "/execute", {"code": PRINT}, 20)
        stop = time.perf_counter() + secs

        def client(_):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            body = json.dumps({"code": PRINT, "debug_mode": False})
            while time.perf_counter() < stop:
                try:
                    c.request("POST", "/execute", body, {"Content-Type": "application/json"})
                    r = c.getresponse()
                    out = json.loads(r.read())
                    if r.status != 200 or out.get("status") != "completed":
                        errors[0] += 1
                    else:
                        done[0] += 1
                except (OSError, ValueError):
                    errors[0] += 1
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        t0 = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(16) as ex:
            list(ex.map(client, range(16)))
        rate = done[0] / (time.perf_counter() - t0)
        rows.append((f"16 clients for {secs} s: executions/s, errors", f"{rate:.0f}/s, {errors[0]} errors",
                     "-", "-"))
    finally:
        agent.terminate()
        agent.wait(30)


PROXY_PEER = r"""
import socket, sys, threading
mode = sys.argv[1]
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(16)
print(s.getsockname()[1], flush=True)

def serve(c):
    c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = bytearray(1 << 20)
    while True:
        n = c.recv_into(buf)
        if not n:
            break
        if mode == "echo":
            c.sendall(memoryview(buf)[:n])
    c.close()

while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""


def figure_proxy(rows):
    """sandpit-proxy with no toxics (tcp mode) against a direct loopback connection, same run:
    64-byte round trips on a kept connection, and bulk throughput. Peers are separate Python
    processes, so client, peer and proxy each get a process (on 2 cores they share them)."""
    import socket
    peers, proxies = [], []
    tmp = tempfile.mkdtemp(prefix="sandpit-bench-proxy-")

    def peer(mode):
        p = subprocess.Popen([sys.executable, "-c", PROXY_PEER, mode], stdout=subprocess.PIPE,
                             text=True)
        peers.append(p)
        return int(p.stdout.readline())

    def proxy(upstream_port):
        pf = os.path.join(tmp, f"port{len(proxies)}")
        p = subprocess.Popen([os.path.join(BUILD, "sandpit-proxy"), "--mode", "tcp", "--listen",
                              "127.0.0.1:0", "--upstream", f"127.0.0.1:{upstream_port}",
                              "--port-file", pf, "--log-level", "warn"],
                             stderr=subprocess.DEVNULL)
        proxies.append(p)
        deadline = time.time() + 10
        while time.time() < deadline:
            if os.path.exists(pf):
                return int(open(pf).read())
            time.sleep(0.01)
        raise SystemExit("sandpit-proxy did not start")

    def rtts(port, n=2000):
        c = socket.create_connection(("127.0.0.1", port), timeout=10)
        c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        msg, out = b"m" * 64, []
        for _ in range(n):
            t = time.perf_counter()
            c.sendall(msg)
            got = 0
            while got < 64:
                got += len(c.recv(64 - got))
            out.append(time.perf_counter() - t)
        c.close()
        return out

    def bulk(port, total):
        c = socket.create_connection(("127.0.0.1", port), timeout=30)
        chunk = memoryview(bytes(1 << 20))
        t = time.perf_counter()
        for _ in range(total >> 20):
            c.sendall(chunk)
        c.shutdown(socket.SHUT_WR)
        c.recv(1)  # the sink closes once it has read everything
        secs = time.perf_counter() - t
        c.close()
        return total / secs / 1e6

    try:
        echo, sink = peer("echo"), peer("sink")
        pecho, psink = proxy(echo), proxy(sink)
        total = (256 if QUICK else 1024) << 20
        rtts(echo, 200), rtts(pecho, 200)  # warm-up
        d50 = median_of(lambda: pct(rtts(echo), 50))
        p50 = median_of(lambda: pct(rtts(pecho), 50))
        d99 = median_of(lambda: pct(rtts(echo), 99))
        p99 = median_of(lambda: pct(rtts(pecho), 99))
        dmb = median_of(lambda: bulk(sink, total))
        pmb = median_of(lambda: bulk(psink, total))
        rows.append(("proxy, no toxics: 64 B round trip p50 (direct as baseline)",
                     f"{p50*1e6:.0f} us", f"{d50*1e6:.0f} us", f"{(p50 - d50)*1e6:+.0f} us added"))
        rows.append(("proxy, no toxics: 64 B round trip p99 (direct as baseline)",
                     f"{p99*1e6:.0f} us", f"{d99*1e6:.0f} us", f"{(p99 - d99)*1e6:+.0f} us added"))
        rows.append((f"proxy, no toxics: bulk {total >> 20} MiB, tcp mode (direct as baseline)",
                     f"{pmb:.0f} MB/s", f"{dmb:.0f} MB/s", f"{pmb/dmb:.2f}x"))
    finally:
        for p in proxies + peers:
            p.terminate()
            p.wait(10)


def sessions_rows():
    bench_sessions.from_bench.update(start=start, agent_ready=agent_ready, pct=pct,
                                     http_loop=http_loop, http_get=http_get,
                                     descendants=descendants, median_of=median_of)
    rows = []
    bench_sessions.figure_sessions(rows, QUICK)
    return rows


SESSIONS_HEAD = "## Sessions"
SPEED_HEAD = "## Speed against the machine's floors"


def speed_section():
    """Issue 18: floors, ratios and the breakdown, measured interleaved (bench_floor.py)."""
    load0 = os.getloadavg()[0]
    bench_floor.from_bench.update(start=start, agent_ready=agent_ready, pct=pct,
                                  http_loop=http_loop, http_get=http_get, BUILD=BUILD, ROOT=ROOT,
                                  PY=PY, PANDAS=PANDAS)
    rounds = max(REPEATS, 3)
    rows, med, bd, bd_bare = bench_floor.figure_speed(QUICK, rounds)
    head5 = ("figure", "sandpit", "floor", "ratio", "goal")
    bhead = ("phase (median over the executions of the run)", "where", "wall", "CPU",
             "page faults")
    brows = bench_floor.breakdown_rows(bd, "preloaded") + bench_floor.breakdown_rows(
        bd_bare, "bare")
    print_rows(rows, head5)
    print()
    print_rows(brows, bhead)
    out = [SPEED_HEAD, "",
           f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} "
           f"cores, load average {load0:.1f} before the run and {os.getloadavg()[0]:.1f} at the "
           f"end (its own clients included). Floors and figures interleaved in {rounds} rounds; each value is the "
           "median over rounds of a per-round p50. Floors: `build/bench-floor` (bench/floor.c), "
           "the agent's interpreter started as the zygote starts it (harness, preloads, "
           "gc.freeze(), huge pages), without isolation or HTTP; `python3.11 -c` for F_fresh. "
           "'bare' = an agent with `--preload none` against the floor of the bare interpreter. "
           "See docs/performance.md for what each ratio means.", ""] + md_table(head5, rows)
    out += ["", "Where one `print(1+1)` execution's time goes, from the zygote's and the child's "
            "timestamps (`--timeline`), over every execution of the run above (CPU and minor page "
            "faults: of the process that took the step; '-' where the step spans two "
            "processes):", ""]
    out += md_table(bhead, brows)
    return "\n".join(out) + "\n"


def md_table(head, rows):
    """A markdown table's lines."""
    return (["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] +
            ["| " + " | ".join(r) + " |" for r in rows])


def replace_section(text, head, section):
    """text with its section under head (up to the next '## ') replaced, or section appended."""
    if head in text:
        a = text.index(head)
        b = text.find("\n## ", a + len(head))
        rest = text[b + 1:] if b >= 0 else ""
        return text[:a] + section + ("\n" + rest if rest else "")
    return text.rstrip("\n") + "\n\n" + section


def sessions_section(rows):
    head = ("figure", "sandpit", "baseline", "ratio")
    out = [SESSIONS_HEAD, "",
           f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load average "
           f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores at the end "
           f"(bench/bench_sessions.py; median of {REPEATS} runs per latency figure). Floors "
           "measured in the same run: a stateless /execute of the same code on the same agent; "
           "F_fork = os.fork() + _exit + waitpid of a python3.11 that imported numpy, pandas "
           "and matplotlib and called gc.freeze(), timed inside that interpreter (no HTTP, no "
           "isolation). PSS: sum of Pss (smaps_rollup) of each session's process (found by its "
           "cwd, the workspace named after the session) and its family's init (the other "
           "process of its PID namespace).", ""] + md_table(head, rows)
    return "\n".join(out) + "\n"


def print_rows(rows, head=("figure", "sandpit", "baseline", "ratio")):
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))


def main_sessions_only():
    """`bench.py sessions`: only the sessions' figures; their section of RESULTS.md replaced,
    the rest kept as it was."""
    rows = sessions_rows()
    print_rows(rows)
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    with open(path, "w") as f:
        f.write(replace_section(text, SESSIONS_HEAD, sessions_section(rows)))
    print(f"\nwrote the sessions section of {path}")


def main_speed_only():
    """`bench.py speed`: only issue 18's section of RESULTS.md replaced."""
    section = speed_section()
    path = os.path.join(ROOT, "bench", "RESULTS.md")
    text = open(path).read() if os.path.exists(path) else "# Benchmark results\n"
    with open(path, "w") as f:
        f.write(replace_section(text, SPEED_HEAD, section))
    print(f"\nwrote the speed section of {path}")


def main():
    if sys.argv[1:] == ["sessions"]:
        return main_sessions_only()
    if sys.argv[1:] == ["speed"]:
        return main_speed_only()
    n = 100 if QUICK else 500
    rows = []
    agent, port = start("sandpit-agent", [], ready=agent_ready)
    orch = None
    try:
        http_loop(port, "/execute", {"code": PRINT}, 50)  # warm-up
        rows += figure_latency("print(1+1) via agent", port, "/execute", {"code": PRINT}, n,
                               PRINT, 30 if QUICK else 100)
        rows += figure_latency("numpy+pandas snippet via agent", port, "/execute",
                               {"code": PANDAS}, n // 5, PANDAS, 5 if QUICK else 15)
        # Live output: a chunk's way from the program's flush to an SSE client (bench_sse.py).
        bench_sse.figure_sse(rows, port, QUICK)
        # The orchestrator in front of this same agent: its overhead, measured in the same run.
        orch, oport = start("sandpit-orchestrator", ["--agent", f"python=http://127.0.0.1:{port}"],
                            ready=lambda h: h.get("agents_up", 0) >= 1)
        body = {"generated_code": PRINT, "timeout": 10}
        http_loop(oport, "/execute", body, 50)
        a50 = median_of(lambda: pct(http_loop(port, "/execute", {"code": PRINT}, n), 50))
        o50 = median_of(lambda: pct(http_loop(oport, "/execute", body, n), 50))
        a99 = median_of(lambda: pct(http_loop(port, "/execute", {"code": PRINT}, n), 99))
        o99 = median_of(lambda: pct(http_loop(oport, "/execute", body, n), 99))
        rows.append(("orchestrator /execute: p50 (agent direct as baseline)", f"{o50*1e3:.2f} ms",
                     f"{a50*1e3:.2f} ms", f"{(o50 - a50)*1e3:+.2f} ms added"))
        rows.append(("orchestrator /execute: p99 (agent direct as baseline)", f"{o99*1e3:.2f} ms",
                     f"{a99*1e3:.2f} ms", f"{(o99 - a99)*1e3:+.2f} ms added"))
    finally:
        if orch:
            orch.terminate()
            orch.wait(10)
        agent.terminate()
        agent.wait(10)
    figure_memory(rows)
    figure_scale(rows)
    figure_throughput(rows)
    figure_proxy(rows)
    speed = speed_section()
    srows = sessions_rows()

    head = ("figure", "sandpit", "baseline", "ratio")
    print_rows(rows + srows)

    kernel = platform.release()
    cores = os.cpu_count()
    with open(os.path.join(ROOT, "bench", "RESULTS.md"), "w") as f:
        f.write("# Benchmark results\n\n")
        f.write(f"Machine: {cores} cores, Linux {kernel}, {platform.machine()}; "
                f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n")
        f.write("Command: `make bench` (bench/bench.py; "
                f"median of {REPEATS} runs per latency figure; HTTP/1.1 keep-alive from Python's "
                "http.client on loopback, so the client's own overhead is included).\n\n")
        f.write("Baselines, measured in the same run: `/usr/bin/python3.11 -c <same code>` "
                "spawned per execution (no isolation at all) for the latency figures; the agent "
                "called directly for the orchestrator's overhead. Executions run with every "
                "isolation layer on (see /health).\n\n")
        f.write("| " + " | ".join(head) + " |\n|" + "---|" * 4 + "\n")
        for r in rows:
            f.write("| " + " | ".join(r) + " |\n")
        f.write("\n" + speed + "\n" + sessions_section(srows))
    print(f"\nwrote {os.path.join(ROOT, 'bench', 'RESULTS.md')}")


if __name__ == "__main__":
    sys.exit(main())
