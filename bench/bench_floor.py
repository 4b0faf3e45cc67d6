"""Issue 18's figures for bench.py: every figure as a ratio to a floor measured in the same run.

Floors (bench/floor.c, `build/bench-floor`: the agent's own interpreter, started as the zygote
starts it: harness imported, the preloads, gc.freeze(), the heap in huge pages):
- F_fork: fork + _exit + waitpid of that interpreter (and of a bare one, `--preload none`);
- F_warm: a child of it, forked ahead, runs `x = 1+1` and answers over a pipe: the reply
  alone, and reply + exit (reaped);
- F_fresh: `python3.11 -c <code>` spawned per execution.

The machine is shared (other builds run beside the bench), so floors and figures are
measured interleaved, in ROUNDS rounds of each, and every ratio is taken between medians
over rounds. The agents run with --timeline, so the breakdown of one execution (fork, init,
namespaces, mounts, cgroup join, seccomp, pre-warm, run, result, exit, reap) comes from the
zygote's and the child's own timestamps.
"""
import concurrent.futures
import http.client
import json
import os
import statistics
import subprocess
import tempfile
import time

from_bench = {}  # start, agent_ready, pct, http_loop, http_get, BUILD, ROOT, PY, PANDAS

PRINT = "print(1+1)"
PRELOAD = "numpy,pandas,matplotlib"

# (name, first mark, last mark, on the request path?). Walls between marks of one process
# are exact; "fork" ends at the child's first instruction.
PHASES = [
    ("spawn sandpit-init (PID namespace)", "fork_start", "init", False),
    ("fork of the zygote", "init", "child", False),
    ("cgroup join", "child", "cgroup", False),
    ("namespaces (unshare)", "cgroup", "ns", False),
    ("mounts", "ns", "mount", False),
    ("uid drop", "mount", "cred", False),
    ("rlimits, no_new_privs, seccomp", "cred", "seccomp", False),
    ("pre-warm run", "seccomp", "prewarm", False),
    ("job handed -> child has it", "handed", "job", True),
    ("fds, workdir, limits", "job", "run", True),
    ("harness: run + result frame", "run", "ran", True),
    ("close pipes -> end message sent", "ran", "exit", True),
    ("end message -> status written (answered before the teardown)", "exit", "answered", True),
    ("exit (address-space teardown) -> reaped", "exit", "reaped", None),
    ("reap init, status record (if not answered before)", "reaped", "done", None),
]
# None: on the request path only for an execution not answered on its end message (after the
# answer otherwise).


class Floor:
    """One bench-floor process; fork(n) and warm(n) return its JSON answer."""

    def __init__(self, preload):
        self.proc = subprocess.Popen(
            [os.path.join(from_bench["BUILD"], "bench-floor"), "--harness", from_bench["ROOT"],
             "--preload", preload], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.info = json.loads(self.proc.stdout.readline())

    def ask(self, cmd, n):
        self.proc.stdin.write(f"{cmd} {n}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"bench-floor died on '{cmd} {n}'")
        return json.loads(line)

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(30)


def p50_ms(xs_us):
    return statistics.median(xs_us) / 1000


def fresh_ms(code, n):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run([from_bench["PY"], "-c", code], check=True, stdout=subprocess.DEVNULL)
        lat.append(time.perf_counter() - t)
    return statistics.median(lat) * 1000


def paced_ms(port, code, n, gap):
    """p50 of n requests gap seconds apart (one client, keep-alive)."""
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    body = json.dumps({"code": code})
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        c.request("POST", "/execute", body, {"Content-Type": "application/json"})
        out = json.loads(c.getresponse().read())
        lat.append(time.perf_counter() - t)
        if out.get("status") != "completed":
            raise SystemExit(f"unexpected answer: {out}")
        time.sleep(gap)
    return statistics.median(lat) * 1000


def zygote_cpu(port):
    return json.loads(from_bench["http_get"](port, "/health"))["zygote"].get("cpu") or {}


def throughput(port, code, clients, secs):
    """(executions/s, CPU ms per execution from /health: zygote + children)."""
    before = zygote_cpu(port)
    stop = time.perf_counter() + secs
    done = [0] * clients

    def client(i):
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        body = json.dumps({"code": code})
        while time.perf_counter() < stop:
            c.request("POST", "/execute", body, {"Content-Type": "application/json"})
            if json.loads(c.getresponse().read()).get("status") == "completed":
                done[i] += 1

    t = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as ex:
        list(ex.map(client, range(clients)))
    rate = sum(done) / (time.perf_counter() - t)
    time.sleep(0.3)  # the zygote's next STATS
    after = zygote_cpu(port)
    n = after.get("executions", 0) - before.get("executions", 0)
    cpu = ((after.get("zygote_s", 0) + after.get("children_s", 0)) -
           (before.get("zygote_s", 0) + before.get("children_s", 0)))
    return rate, (cpu / n * 1000 if n else float("nan"))


def breakdown(path):
    """[(phase, on path, wall p50 ms, cpu p50 ms, faults p50)] from the --timeline file, plus the
    child's whole CPU (rusage, exit included) p50 ms and its minor faults p50."""
    recs = [json.loads(x) for x in open(path)]
    rows = []
    answered = sum(1 for r in recs if r.get("answered", [0])[0]) * 2 > len(recs)
    for name, a, b, on_path in PHASES:
        if on_path is None:
            on_path = "after the answer" if answered else True
        w = [(r[b][0] - r[a][0]) / 1e6 for r in recs if r.get(a, [0])[0] and r.get(b, [0])[0]]
        # CPU and faults between two marks of the same process only; exit's is rusage - the
        # last mark.
        f = []
        if b == "answered":
            c = []  # two processes: the child sent it, the zygote answered
        elif a == "exit":
            c = [r["child_cpu_us"] / 1e3 - r["exit"][1] / 1e6 for r in recs if r["exit"][0]]
            f = [r["child_minflt"] - r["exit"][2] for r in recs if r["exit"][0]]
        elif a in ("init", "handed", "ran"):
            same = {"init": "forked", "handed": None, "ran": "exit"}[a]
            c = ([(r[same][1] - r[a][1]) / 1e6 for r in recs if r[same][0]] if same else [])
            if a == "ran":
                f = [r["exit"][2] - r["ran"][2] for r in recs if r["exit"][0]]
        else:
            c = [(r[b][1] - r[a][1]) / 1e6 for r in recs if r[a][0] and r[b][0]]
            if b not in ("done", "reaped", "answered"):
                f = [r[b][2] - r[a][2] for r in recs if r[a][0] and r[b][0]]
        if w:
            rows.append((name, on_path, statistics.median(w),
                         statistics.median(c) if c else None,
                         statistics.median(f) if f else None))
        if b == "child":
            # The child's own share of the fork: from fork's return to its first mark (its
            # CPU clock starts at the fork): the hot pages' copy (--prefault) and the
            # interpreter's fork hooks.
            rows.append(("child: hot pages copied + fork hooks (fork -> first mark)", False,
                         None, statistics.median(r["child"][1] / 1e6 for r in recs),
                         statistics.median(r["child"][2] for r in recs)))
    child_cpu = statistics.median(r["child_cpu_us"] for r in recs) / 1e3
    child_flt = statistics.median(r["child_minflt"] for r in recs)
    on_path = statistics.median(
        ((r["answered"][0] or r["done"][0]) if "answered" in r else r["done"][0]) / 1e6 -
        r["handed"][0] / 1e6 for r in recs)
    return rows, child_cpu, on_path, len(recs), child_flt


def _agent(args, timeline):
    return from_bench["start"]("sandpit-agent", args + ["--timeline", timeline],
                               ready=from_bench["agent_ready"])


def figure_speed(quick, rounds):
    """Returns (rows, breakdown rows, notes): the issue's goals, each against its floor."""
    tmp = tempfile.mkdtemp(prefix="sandpit-bench-speed-")
    tl, tl_bare = os.path.join(tmp, "timeline.jsonl"), os.path.join(tmp, "timeline-bare.jsonl")
    floor, bare = Floor(PRELOAD), Floor("none")
    agent, port = _agent([], tl)
    bagent, bport = _agent(["--preload", "none"], tl_bare)
    # Each copied page taken by its own fault, as before heap_hot.c: what --prefault saves.
    nagent, nport = _agent(["--prefault=0"], os.path.join(tmp, "timeline-noprefault.jsonl"))
    n = 60 if quick else 200
    m = {k: [] for k in ("fork", "fork_cpu", "fork_bare", "fork_bare_cpu", "warm_reply",
                         "warm_exit", "warm_cpu", "fresh", "fresh_pandas", "paced", "b2b",
                         "b2b_bare", "rate4", "cpu4", "rate4_bare", "cpu4_bare", "pandas",
                         "paced_bare", "rate4_nopf", "cpu4_nopf")}
    try:
        from_bench["http_loop"](port, "/execute", {"code": PRINT}, 30)
        from_bench["http_loop"](bport, "/execute", {"code": PRINT}, 30)
        from_bench["http_loop"](nport, "/execute", {"code": PRINT}, 30)
        for _ in range(rounds):
            f = floor.ask("fork", 30)
            m["fork"].append(p50_ms(f["wall_us"]))
            m["fork_cpu"].append(f["cpu_us"] / 1000)
            m["paced"].append(paced_ms(port, PRINT, 20 if quick else 50, 0.1))
            f = bare.ask("fork", 30)
            m["fork_bare"].append(p50_ms(f["wall_us"]))
            m["fork_bare_cpu"].append(f["cpu_us"] / 1000)
            m["paced_bare"].append(paced_ms(bport, PRINT, 20 if quick else 50, 0.1))
            w = floor.ask("warm", 30)
            m["warm_reply"].append(p50_ms(w["reply_us"]))
            m["warm_exit"].append(p50_ms(w["exit_us"]))
            m["warm_cpu"].append(w["cpu_us"] / 1000)
            m["b2b"].append(from_bench["pct"](
                from_bench["http_loop"](port, "/execute", {"code": PRINT}, n), 50) * 1000)
            m["fresh"].append(fresh_ms(PRINT, 10 if quick else 30))
            m["b2b_bare"].append(from_bench["pct"](
                from_bench["http_loop"](bport, "/execute", {"code": PRINT}, n), 50) * 1000)
            r, c = throughput(port, PRINT, 4, 3 if quick else 8)
            m["rate4"].append(r)
            m["cpu4"].append(c)
            r, c = throughput(bport, PRINT, 4, 3 if quick else 8)
            m["rate4_bare"].append(r)
            m["cpu4_bare"].append(c)
            r, c = throughput(nport, PRINT, 4, 3 if quick else 8)
            m["rate4_nopf"].append(r)
            m["cpu4_nopf"].append(c)
            m["pandas"].append(from_bench["pct"](from_bench["http_loop"](
                port, "/execute", {"code": from_bench["PANDAS"]}, n // 5), 50) * 1000)
            m["fresh_pandas"].append(fresh_ms(from_bench["PANDAS"], 3 if quick else 8))
    finally:
        for a in (agent, bagent, nagent):
            a.terminate()
            a.wait(30)
        floor.close()
        bare.close()
    med = {k: statistics.median(v) for k, v in m.items()}
    cores = os.cpu_count()
    rows = _goal_rows(med, cores)
    return rows, med, breakdown(tl), breakdown(tl_bare)


def _verdict(ok):
    return "met" if ok else "missed"


def _goal_rows(med, cores):
    """(figure, sandpit, floor, ratio, goal) rows."""
    cap = cores / med["fork"] * 1000  # executions/s if each cost one F_fork of a whole core
    cap_bare = cores / med["fork_bare"] * 1000
    warm_goal = 2 * med["warm_reply"] + 0.5
    return [
        ("F_fork: fork + _exit + reap, preloaded interpreter (p50 wall / CPU)",
         f"{med['fork']:.2f} / {med['fork_cpu']:.2f} ms", "-", "-", "floor"),
        ("F_fork: bare interpreter (--preload none) (p50 wall / CPU)",
         f"{med['fork_bare']:.2f} / {med['fork_bare_cpu']:.2f} ms", "-", "-", "floor"),
        ("F_warm: pre-forked child runs x = 1+1, reply (p50) / reply + exit (p50) / CPU",
         f"{med['warm_reply']:.2f} / {med['warm_exit']:.2f} / {med['warm_cpu']:.2f} ms", "-",
         "-", "floor"),
        ("F_fresh: python3.11 -c, print(1+1) / the numpy+pandas snippet (p50)",
         f"{med['fresh']:.1f} / {med['fresh_pandas']:.1f} ms", "-", "-", "floor"),
        ("print(1+1), 4 clients: executions/s (goal >= 60% of cores / F_fork)",
         f"{med['rate4']:.0f}/s", f"{cap:.0f}/s", f"{med['rate4'] / cap * 100:.0f}%",
         _verdict(med["rate4"] >= 0.6 * cap)),
        ("... CPU per execution (zygote + children, /health) against F_fork's CPU",
         f"{med['cpu4']:.1f} ms", f"{med['fork_cpu']:.1f} ms",
         f"{med['cpu4'] / med['fork_cpu']:.1f}x F_fork", "-"),
        ("... same with --prefault=0 (each copied page taken by its own fault): CPU per "
         "execution, rate", f"{med['cpu4_nopf']:.1f} ms, {med['rate4_nopf']:.0f}/s",
         f"{med['fork_cpu']:.1f} ms", f"{med['cpu4_nopf'] / med['fork_cpu']:.1f}x F_fork", "-"),
        ("... same on the bare agent (--preload none) against the bare F_fork",
         f"{med['rate4_bare']:.0f}/s", f"{cap_bare:.0f}/s",
         f"{med['rate4_bare'] / cap_bare * 100:.0f}%", _verdict(med["rate4_bare"] >= 0.6 * cap_bare)),
        ("... bare agent's CPU per execution against the bare F_fork's CPU",
         f"{med['cpu4_bare']:.1f} ms", f"{med['fork_bare_cpu']:.1f} ms",
         f"{med['cpu4_bare'] / med['fork_bare_cpu']:.1f}x F_fork", "-"),
        ("print(1+1), one client paced 100 ms: p50 (goal <= 2 x F_warm reply + 0.5 ms)",
         f"{med['paced']:.2f} ms", f"{warm_goal:.2f} ms",
         f"{med['paced'] / med['warm_reply']:.1f}x F_warm", _verdict(med["paced"] <= warm_goal)),
        ("... same on the bare agent", f"{med['paced_bare']:.2f} ms", f"{warm_goal:.2f} ms",
         f"{med['paced_bare'] / med['warm_reply']:.1f}x F_warm",
         _verdict(med["paced_bare"] <= warm_goal)),
        ("print(1+1), one client back to back: p50 against F_fresh (goal >= 8x faster)",
         f"{med['b2b']:.2f} ms", f"{med['fresh']:.2f} ms", f"{med['fresh'] / med['b2b']:.1f}x",
         _verdict(med["fresh"] / med["b2b"] >= 8)),
        ("... same on the bare agent", f"{med['b2b_bare']:.2f} ms", f"{med['fresh']:.2f} ms",
         f"{med['fresh'] / med['b2b_bare']:.1f}x", _verdict(med["fresh"] / med["b2b_bare"] >= 8)),
        ("numpy+pandas snippet: p50 against F_fresh running it (goal >= 50x faster)",
         f"{med['pandas']:.2f} ms", f"{med['fresh_pandas']:.1f} ms",
         f"{med['fresh_pandas'] / med['pandas']:.1f}x",
         _verdict(med["fresh_pandas"] / med["pandas"] >= 50)),
    ]


def breakdown_rows(bd, label):
    rows, child_cpu, on_path, n, child_flt = bd
    out = [(f"{label}: {name}",
            path if isinstance(path, str) else
            "request path" if path else "warm (ahead of the request)",
            "-" if wall is None else f"{wall:.2f} ms", "-" if cpu is None else f"{cpu:.2f} ms",
            "-" if flt is None else f"{flt:.0f}") for name, path, wall, cpu, flt in rows]
    out.append((f"{label}: handed -> status written (the zygote's share of the latency)",
                "request path", f"{on_path:.2f} ms", "-", "-"))
    out.append((f"{label}: the child's whole CPU (rusage, exit included; {n} executions)", "-",
                "-", f"{child_cpu:.2f} ms", f"{child_flt:.0f}"))
    return out
