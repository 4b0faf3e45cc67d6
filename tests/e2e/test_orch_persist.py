"""The orchestrator keeps its jobs in SQLite (docs/operations.md "Persistence"): finished results
are served again after a clean restart and after a kill -9 under load; jobs queued or running at
the crash come back failed, "interrupted by a restart", never stuck; the file passes PRAGMA
integrity_check; owners are stored by key digest, so isolation holds with the keys file
reordered; retention by count and by age deletes from the file too."""
import hashlib
import os
import signal
import sqlite3
import time

import pytest

from orch_fixtures import AGENT_BIN, ORCH_BIN, Agent, log_on_failure, orch_maker

A, B = "persist-key-a-" + "1" * 20, "persist-key-b-" + "2" * 20
HA, HB = {"X-API-Key": A}, {"X-API-Key": B}
FINISHED = ("completed", "failed", "cancelled")
INTERRUPTED = "interrupted by a restart"
TEST_BOUND_S = 240


@pytest.fixture(autouse=True)
def bounded():
    """Every test here ends within TEST_BOUND_S, whatever hangs."""
    def expire(signum, frame):
        raise TimeoutError(f"test still running after {TEST_BOUND_S}s")

    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(TEST_BOUND_S)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    if not (ORCH_BIN.exists() and AGENT_BIN.exists()):
        pytest.fail("build/sandpit-orchestrator or build/sandpit-agent missing: run `make`")
    ag = Agent(tmp_path_factory.mktemp("persist_agent"), "--preload=")
    yield ag
    log_on_failure(ag)
    ag.stop()


@pytest.fixture
def make_orch(agent, tmp_path):
    """make(db, *flags, keys=(A, B)): an orchestrator on the module's agent with the keys file
    listing keys in that order; db is a path, or None for the default place."""
    # db=None: no fixture default; each start says its --db (or none, for the default place).
    made = orch_maker(tmp_path, check_exit=False, db=None)
    start = next(made)
    n = [0]

    def make(db, *flags, keys=(A, B)):
        n[0] += 1
        kf = tmp_path / f"keys{n[0]}"
        kf.write_text("".join(f"{k} name=k{i}\n" for i, k in enumerate(keys)))
        kf.chmod(0o600)
        return start("--agent", f"python={agent.url}", "--api-keys-file", str(kf), *flags,
                     *(["--db", str(db)] if db is not None else []))

    yield make
    next(made, None)


def integrity(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        con.close()


def rows(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return {r[0]: r[1:] for r in con.execute("SELECT id, status, owner, error FROM jobs")}
    finally:
        con.close()


def submit(orch, code, headers=HA):
    st, res, _ = orch.post("/api/run", {"language": "python", "code": code}, headers=headers)
    assert st in (200, 202), (st, res)
    return res["jobId"]


def status(orch, jid, headers=HA):
    st, res, _ = orch.get(f"/api/status/{jid}", headers=headers)
    assert st == 200, (st, res)
    return res


def wait_finished(orch, jid, headers=HA, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        res = status(orch, jid, headers)
        if res["status"] in FINISHED:
            return res
        time.sleep(0.02)
    raise AssertionError(f"job {jid} not finished after {timeout}s: {res!r}")


def test_results_survive_a_clean_restart(make_orch, tmp_path):
    db = tmp_path / "jobs.db"
    o = make_orch(db)
    ok = submit(o, "print('kept')")
    bad = submit(o, "import sys\nprint('out')\nsys.exit(3)")
    st, res, _ = o.post("/api/v1/execute/async", {"code": "print(6 * 7)"}, headers=HA)
    assert st == 202, (st, res)
    eid = res["execution_id"]
    before = {j: wait_finished(o, j) for j in (ok, bad, eid)}
    assert before[ok]["status"] == "completed" and before[bad]["status"] == "failed", before
    logs = o.get(f"/api/logs/{ok}", headers=HA)[1]
    v1 = o.get(f"/api/v1/status/{eid}", headers=HA)[1]
    assert v1["status"] == "success" and v1["stdout"] == "42\n", v1
    listing = o.get("/api/jobs", headers=HA)[1]
    assert o.stop() == 0

    # The keys file reordered: owners follow the key, not its line.
    o2 = make_orch(db, keys=(B, A))
    for j, view in before.items():
        assert status(o2, j) == view
        st, res, _ = o2.get(f"/api/status/{j}", headers=HB)
        assert st == 404, (st, res)
    assert o2.get(f"/api/logs/{ok}", headers=HA)[1] == logs
    assert o2.get(f"/api/v1/status/{eid}", headers=HA)[1] == v1
    assert o2.get("/api/jobs", headers=HA)[1] == listing
    assert o2.get("/api/jobs", headers=HB)[1]["total"] == 0
    # A finished job stays finished: a cancel is refused as before.
    st, res, _ = o2.post(f"/api/cancel/{ok}", headers=HA)
    assert st == 409, (st, res)
    assert o2.health()["jobs"]["restored"] == 3
    assert o2.stop() == 0
    assert integrity(db) == "ok"
    digest = "sha256:" + hashlib.sha256(A.encode()).hexdigest()
    assert {r[1] for r in rows(db).values()} == {digest}


def test_default_db_is_in_the_state_dir(make_orch, tmp_path):
    o = make_orch(None)
    jid = submit(o, "print(1)")
    wait_finished(o, jid)
    assert o.stop() == 0
    path = o.tmp_dir / "state" / "orchestrator.db"
    assert path.exists(), list(o.tmp_dir.iterdir())
    # Logs and results may be private.
    assert path.stat().st_mode & 0o077 == 0, oct(path.stat().st_mode)
    assert rows(path)[jid][0] == "completed"


def test_kill_9_under_load(make_orch, tmp_path):
    db = tmp_path / "load.db"
    o = make_orch(db, "--job-workers", "16")
    ids = []
    for i in range(100):
        code = f"import time\ntime.sleep({0.3 + 0.1 * (i % 5):.1f})\nprint({i})"
        if i % 7 == 3:
            code += "\nraise SystemExit(2)"
        ids.append(submit(o, code))
    # Watch as a client does; keep every end it saw, with its result.
    seen = {}
    deadline = time.monotonic() + 120
    while len(seen) < 20 and time.monotonic() < deadline:
        for jid in ids:
            if jid not in seen:
                res = status(o, jid)
                if res["status"] in FINISHED:
                    seen[jid] = res
            if len(seen) >= 20:
                break
    assert len(seen) >= 20, len(seen)
    os.kill(o.pid, signal.SIGKILL)
    assert o.wait_exit(30) == -signal.SIGKILL
    assert integrity(db) == "ok"

    o2 = make_orch(db, "--job-workers", "16")
    interrupted = 0
    for jid in ids:
        res = status(o2, jid)
        assert res["status"] in FINISHED, res
        if jid in seen:
            assert res == seen[jid]
        elif res["error"] == INTERRUPTED:
            assert res["status"] == "failed" and res["finishedAt"], res
            assert res["result"]["error"] == INTERRUPTED, res
            logs = o2.get(f"/api/logs/{jid}", headers=HA)[1]["logs"]
            assert logs[-1].endswith("Job failed: " + INTERRUPTED), logs
            interrupted += 1
        assert o2.get(f"/api/status/{jid}", headers=HB)[0] == 404
    # The kill came while most were still to run.
    assert interrupted > 0
    st, listing, _ = o2.get("/api/jobs?limit=1000", headers=HA)
    assert listing["total"] == 100, listing["total"]
    assert not [j for j in listing["jobs"] if j["status"] in ("queued", "running")]
    assert o2.health()["jobs"]["interrupted"] == interrupted
    assert o2.stop() == 0
    assert integrity(db) == "ok"
    stored = rows(db)
    assert set(stored) == set(ids)
    assert {r[0] for r in stored.values()} <= set(FINISHED), stored


def test_retention_deletes_from_the_file(make_orch, tmp_path):
    db = tmp_path / "ret.db"
    o = make_orch(db, "--max-jobs", "2")
    ids = [submit(o, f"print({i})") for i in range(4)]
    # Past --max-jobs the oldest finished ones go, from memory and from the file: once all
    # four ended, two are left (which two depends on the order they ended in).
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs = o.get("/api/jobs", headers=HA)[1]["jobs"]
        if len(jobs) == 2 and all(j["status"] in FINISHED for j in jobs):
            break
        time.sleep(0.05)
    kept = {j["jobId"] for j in jobs}
    assert len(kept) == 2 and kept <= set(ids), jobs
    for jid in set(ids) - kept:
        assert o.get(f"/api/status/{jid}", headers=HA)[0] == 404
    assert o.stop() == 0
    assert set(rows(db)) == kept

    o2 = make_orch(db, "--job-retention-s", "3")
    fresh = submit(o2, "print('fresh')")
    assert wait_finished(o2, fresh)["status"] == "completed"
    # Finished more than 3 s ago: gone, from memory and from the file (the restored ones too).
    time.sleep(3.5)
    for jid in (fresh, *kept):
        assert o2.get(f"/api/status/{jid}", headers=HA)[0] == 404
    assert o2.get("/api/jobs", headers=HA)[1]["total"] == 0
    assert o2.stop() == 0
    assert rows(db) == {}
