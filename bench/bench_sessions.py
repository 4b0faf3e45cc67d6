"""Sessions' figures for bench.py (issue 14), each next to its floor measured in the same run:

- a cell `x += 1` at the agent (p50/p99) against a stateless /execute of the same code
  (`x = 0; x += 1`: a stateless execution has no x) on the same agent; a checkpoint session's
  cell (one fork per cell) beside it;
- session create time (POST /sessions until 201) against the stateless print(1+1) execution;
- fork of a session holding a 100 MB DataFrame (POST /sessions/{id}/fork until 201) against
  F_fork: os.fork() + _exit + waitpid of a python3.11 that imported numpy, pandas and matplotlib
  and called gc.freeze() (as the zygote does), timed by that interpreter itself, and against the
  same fork of that interpreter holding the same 100 MB DataFrame;
- PSS per idle session: the sum of Pss (/proc/<pid>/smaps_rollup) of each session's process
  (found by its cwd: the workspace named after the session) and of its family's init (the
  process in the same PID namespace), over N idle sessions at once; beside it what is private
  to them (Private_Clean + Private_Dirty) and how much the zygote's whole tree grew per session
  (the shared pages' share moves between processes; the growth is the marginal cost).
"""
import http.client
import json
import os
import subprocess
import tempfile
import time

from_bench = {}  # start, agent_ready, pct, http_loop, http_get, descendants, median_of: bench.py

FORK_FLOOR = r"""
import gc, os, sys, time
import numpy, pandas, matplotlib
big = None
if sys.argv[2] == "df":
    import numpy as np, pandas as pd
    big = pd.DataFrame(np.random.rand(1310720, 10))  # 100 MiB of float64
gc.freeze()
lat = []
for _ in range(int(sys.argv[1])):
    t = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
    lat.append(time.perf_counter() - t)
lat.sort()
print(lat[len(lat) // 2], lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))])
"""

DATAFRAME = ("import numpy as np\nimport pandas as pd\n"
             "df = pd.DataFrame(np.random.rand(1310720, 10))  # 100 MiB of float64\n"
             "print(df.memory_usage(index=False).sum() >> 20)")


def _req(port, method, path, body=None, timeout=120):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request(method, path, json.dumps(body) if body is not None else None,
                  {"Content-Type": "application/json"} if body is not None else {})
        r = c.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        c.close()


def _create(port, **fields):
    st, body = _req(port, "POST", "/sessions", fields)
    if st != 201:
        raise SystemExit(f"POST /sessions: {st} {body}")
    return body["session_id"]


def _cell(port, sid, code):
    st, body = _req(port, "POST", f"/sessions/{sid}/execute", {"code": code,
                                                               "debug_mode": False})
    if st != 200 or body.get("status") != "completed":
        raise SystemExit(f"cell: {st} {body}")
    return body


def _delete(port, sid):
    _req(port, "DELETE", f"/sessions/{sid}")


def _timed(fn, n):
    lat = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        lat.append(time.perf_counter() - t)
    return lat


def fork_floor(n, mode):
    """(p50, p99) in seconds of fork+_exit+waitpid of the preloaded interpreter (mode "df":
    holding the 100 MB DataFrame)."""
    out = subprocess.run(["/usr/bin/python3.11", "-c", FORK_FLOOR, str(n), mode], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def _session_pids(work_dir, sid):
    """[the session's process (its cwd is its workspace), then the other processes of its PID
    namespace: its family's init]."""
    me = None
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.readlink(f"/proc/{d}/cwd") == os.path.join(work_dir, sid):
                    me = int(d)
                    break
            except OSError:
                pass
    if me is None:
        return []
    ns = os.readlink(f"/proc/{me}/ns/pid")
    out = [me]
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != me:
            try:
                if os.readlink(f"/proc/{d}/ns/pid") == ns:
                    out.append(int(d))
            except OSError:
                pass
    return out


def _smaps(pid):
    """{field: kB} of /proc/<pid>/smaps_rollup (zeros when unreadable)."""
    out = {"Pss": 0, "Private_Clean": 0, "Private_Dirty": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                k, _, rest = line.partition(":")
                if k in out:
                    out[k] = int(rest.split()[0])
    except OSError:
        pass
    return out


def _tree_pss(zpid, descendants):
    return sum(_smaps(p)["Pss"] for p in [zpid] + descendants(zpid))


def figure_sessions(rows, quick=False):
    b = from_bench
    pct, median_of, http_loop = b["pct"], b["median_of"], b["http_loop"]
    work_dir = tempfile.mkdtemp(prefix="sandpit-bench-ws-")
    agent, port = b["start"]("sandpit-agent", ["--work-dir", work_dir, "--max-sessions", "64"],
                             ready=b["agent_ready"])
    n = 100 if quick else 500
    try:
        # 1. a cell against a stateless execution of the same code
        sid = _create(port)
        _cell(port, sid, "x = 0")
        path = f"/sessions/{sid}/execute"
        cell_body = {"code": "x += 1", "debug_mode": False}
        exec_body = {"code": "x = 0\nx += 1", "debug_mode": False}
        http_loop(port, path, cell_body, 50)
        http_loop(port, "/execute", exec_body, 50)
        c50 = median_of(lambda: pct(http_loop(port, path, cell_body, n), 50))
        c99 = median_of(lambda: pct(http_loop(port, path, cell_body, n), 99))
        e50 = median_of(lambda: pct(http_loop(port, "/execute", exec_body, n), 50))
        e99 = median_of(lambda: pct(http_loop(port, "/execute", exec_body, n), 99))
        rows.append(("session cell `x += 1`: p50 (stateless /execute as baseline; aim <= 1 ms)",
                     f"{c50*1e3:.2f} ms", f"{e50*1e3:.2f} ms", f"{e50/c50:.1f}x faster"))
        rows.append(("session cell `x += 1`: p99 (stateless /execute as baseline)",
                     f"{c99*1e3:.2f} ms", f"{e99*1e3:.2f} ms", f"{e99/c99:.1f}x faster"))
        ck = _create(port, checkpoint=True)
        _cell(port, ck, "x = 0")
        cpath = f"/sessions/{ck}/execute"
        http_loop(port, cpath, cell_body, 20)
        k50 = median_of(lambda: pct(http_loop(port, cpath, cell_body, n // 5), 50))
        rows.append(("checkpoint session cell `x += 1`: p50 (plain cell as baseline)",
                     f"{k50*1e3:.2f} ms", f"{c50*1e3:.2f} ms", f"{(k50 - c50)*1e3:+.2f} ms added"))
        _delete(port, ck)

        # 2. session create (and its DELETE, untimed) against a stateless execution
        made = []
        m = 10 if quick else 30

        def create_one():
            made.append(_create(port))

        def create_round():
            lat = _timed(create_one, m)
            while made:
                _delete(port, made.pop())
            return pct(lat, 50)

        s50 = median_of(create_round)
        p50 = median_of(lambda: pct(http_loop(port, "/execute", {"code": "print(1+1)",
                                                                 "debug_mode": False}, n), 50))
        rows.append(("session create: p50 (stateless print(1+1) as baseline)",
                     f"{s50*1e3:.2f} ms", f"{p50*1e3:.2f} ms", f"{s50/p50:.1f}x"))

        # 3. fork of a session holding a 100 MB DataFrame against F_fork
        _cell(port, sid, DATAFRAME)
        forks = []

        def fork_one():
            st, body = _req(port, "POST", f"/sessions/{sid}/fork", {})
            if st != 201:
                raise SystemExit(f"fork: {st} {body}")
            forks.append(body["session_id"])

        def fork_round():
            lat = _timed(fork_one, 5 if quick else 10)
            while forks:
                _delete(port, forks.pop())
            return lat

        fork_round()  # warm-up
        f_lat = [x for _ in range(3) for x in fork_round()]
        f50, f99 = pct(f_lat, 50), pct(f_lat, 99)
        k = 50 if quick else 200
        fl50, fl99 = fork_floor(k, "plain")
        fd50, fd99 = fork_floor(k, "df")
        rows.append(("fork of a session holding a 100 MB DataFrame: p50 (F_fork as baseline; "
                     "aim <= 2x)", f"{f50*1e3:.2f} ms", f"{fl50*1e3:.2f} ms",
                     f"{f50/fl50:.1f}x F_fork"))
        rows.append(("fork of a session holding a 100 MB DataFrame: p99 (F_fork p99)",
                     f"{f99*1e3:.2f} ms", f"{fl99*1e3:.2f} ms", f"{f99/fl99:.1f}x F_fork"))
        rows.append(("... against F_fork of the interpreter holding the same DataFrame: p50",
                     f"{f50*1e3:.2f} ms", f"{fd50*1e3:.2f} ms", f"{f50/fd50:.1f}x"))
        _delete(port, sid)

        # 4. PSS per idle session
        k = 5 if quick else 20
        zpid = json.loads(b["http_get"](port, "/health"))["zygote"]["pid"]
        tree0 = _tree_pss(zpid, b["descendants"])
        idle = [_create(port) for _ in range(k)]
        for s in idle:
            _cell(port, s, "x = 1")
        time.sleep(1)
        per_proc = {s: _session_pids(work_dir, s) for s in idle}
        found = [s for s, p in per_proc.items() if len(p) == 2]
        if not found:
            raise SystemExit(f"no session's processes found: {per_proc}")
        pss = sum(_smaps(p)["Pss"] for s in found for p in per_proc[s]) / len(found) / 1024
        own = sum(_smaps(per_proc[s][0])["Pss"] for s in found) / len(found) / 1024
        priv = sum(_smaps(p)["Private_Clean"] + _smaps(p)["Private_Dirty"]
                   for s in found for p in per_proc[s]) / len(found) / 1024
        grown = (_tree_pss(zpid, b["descendants"]) - tree0) / k / 1024
        rows.append((f"PSS per idle session ({len(found)} idle at once, after one cell; its "
                     "process + its init; aim <= 3 MB)", f"{pss:.2f} MB",
                     f"{own:.2f} MB its process alone", "-"))
        rows.append(("... of which private to the session (Private_Clean + Private_Dirty)",
                     f"{priv:.2f} MB", "-", "-"))
        rows.append(("... the zygote's whole tree grew by (sum of Pss, per session)",
                     f"{grown:.2f} MB", "-", "-"))
        for s in idle:
            _delete(port, s)
    finally:
        agent.terminate()
        agent.wait(30)
