"""A/B of two sandpit-agent binaries in one run (bench/ab.py OLD NEW): both started, requests
interleaved (GET /health, POST /execute print(1+1)), p50 of each and the ratio new/old. Build the
old one from a worktree of the commit to compare: git worktree add /tmp/old REV && make -C /tmp/old."""
import http.client, json, os, statistics, subprocess, sys, tempfile, time

def start(binary, tag):
    d = tempfile.mkdtemp(prefix="ab-" + tag)
    pf = os.path.join(d, "port")
    p = subprocess.Popen([binary, "--port", "0", "--port-file", pf, "--work-dir", d + "/w",
                          "--state-dir", d + "/s", "--log-level", "warn"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not (os.path.exists(pf) and open(pf).read().strip()):
        time.sleep(0.05)
    port = int(open(pf).read())
    while True:
        c = http.client.HTTPConnection("127.0.0.1", port)
        c.request("GET", "/health"); h = json.loads(c.getresponse().read())
        if (h.get("zygote") or {}).get("state") == "ready":
            break
        time.sleep(0.1)
    return p, port

def timed(conn, method, path, body=None):
    t = time.perf_counter()
    conn.request(method, path, body=json.dumps(body) if body else None,
                 headers={"Content-Type": "application/json"} if body else {})
    r = conn.getresponse(); data = r.read()
    return time.perf_counter() - t, r.status, data

old, new = sys.argv[1], sys.argv[2]
procs = {k: start(b, k) for k, b in (("old", old), ("new", new))}
conns = {k: http.client.HTTPConnection("127.0.0.1", v[1]) for k, v in procs.items()}
res = {k: {"health": [], "exec": []} for k in procs}
for k in procs:  # warm up
    for _ in range(20):
        timed(conns[k], "POST", "/execute", {"code": "print(1+1)", "debug_mode": False})
for i in range(300):
    for k in (("old", "new") if i % 2 else ("new", "old")):
        res[k]["health"].append(timed(conns[k], "GET", "/health")[0])
        t, st, data = timed(conns[k], "POST", "/execute", {"code": "print(1+1)", "debug_mode": False})
        assert st == 200, data
        res[k]["exec"].append(t)
for k, (p, _) in procs.items():
    p.terminate(); p.wait()
for what in ("health", "exec"):
    o = statistics.median(res["old"][what]) * 1e3; n = statistics.median(res["new"][what]) * 1e3
    print(f"{what}: old p50 {o:.2f} ms, new p50 {n:.2f} ms, new/old {n/o:.3f}")
