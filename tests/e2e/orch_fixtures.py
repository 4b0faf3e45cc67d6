"""Helpers for the sandpit-orchestrator end-to-end tests: real binaries on loopback, stdlib only.

`Orchestrator` starts build/sandpit-orchestrator on port 0 (--port-file) with spawned agents
(the default) or with --agent URLs; `Agent` starts one build/sandpit-agent for the explicit
mode. Each process logs to a file in the test's tmp dir; `log_on_failure` prints the logs in a
teardown, which pytest shows only for a failing test.
"""
import http.client
import json
import os
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A relative SANDPIT_BUILD_DIR (e.g. build/san) is taken from the repository root.
BUILD_DIR = ROOT / (os.environ.get("SANDPIT_BUILD_DIR") or "build")
ORCH_BIN = BUILD_DIR / "sandpit-orchestrator"
AGENT_BIN = BUILD_DIR / "sandpit-agent"

READY_TIMEOUT_S = 40.0
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ISO_LOG_RE = r"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z\] .+"


class Http:
    """JSON over HTTP/1.1 to 127.0.0.1:self.port; every call returns (status, body, headers)
    with body parsed when it is JSON and headers lower-cased."""

    port = None

    def request(self, method, path, body=None, headers=None, timeout=60.0):
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                hdrs.setdefault("Content-Type", "application/json")
            elif isinstance(body, str):
                data = body.encode()
            else:
                data = bytes(body)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            rh = {k.lower(): v for k, v in resp.getheaders()}
            status = resp.status
        finally:
            conn.close()
        text = raw.decode("utf-8", errors="replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return status, parsed, rh

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class Proc(Http):
    """A daemon started with --port 0 --port-file, logging to a file."""

    name = "process"

    def __init__(self, tmp_dir, argv, env_extra=None, port=0):
        self.tmp_dir = Path(tmp_dir)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.port_file = self.tmp_dir / "port"
        self.log_path = self.tmp_dir / (self.name + ".log")
        env = dict(os.environ)
        env.update(env_extra or {})
        self.argv = argv + ["--host", "127.0.0.1", "--port", str(port), "--port-file",
                            str(self.port_file)]
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, cwd=str(self.tmp_dir),
                                     start_new_session=True)
        self.port = None
        self.rc = None

    @property
    def pid(self):
        return self.proc.pid

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def wait_port(self, timeout=READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode} at start:\n"
                                   + self.log_text())
            try:
                text = self.port_file.read_text().strip()
                if text:
                    self.port = int(text)
                    return
            except (OSError, ValueError):
                pass
            time.sleep(0.02)
        raise RuntimeError(f"{self.name} wrote no port within {timeout}s:\n" + self.log_text())

    def signal(self, sig):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def wait_exit(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.rc

    def stop(self, timeout=15.0):
        """SIGTERM, then SIGKILL (to the whole session) if it lingers; returns the exit code
        of the SIGTERM, or None when it had to be killed."""
        rc = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.wait_exit(timeout)
        else:
            rc = self.proc.returncode
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.wait()
        if not self._log.closed:
            self._log.close()
        return rc

    def log_text(self, tail_lines=200):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-tail_lines:])


class Agent(Proc):
    """One sandpit-agent for --agent URL tests; ready when its zygote is."""

    name = "agent"

    def __init__(self, tmp_dir, *flags, port=0):
        tmp_dir = Path(tmp_dir)
        # Its own state directory: an agent locks it, a second one on it would refuse to start.
        # --drain-s 0: what runs at the test's stop is not waited for (a later flag wins;
        # test_drain.py sets its own).
        super().__init__(tmp_dir, [str(AGENT_BIN), "--work-dir", str(tmp_dir / "work"),
                                   "--state-dir", str(tmp_dir / "state"), "--drain-s", "0",
                                   *flags], port=port)
        try:
            self.wait_port()
            deadline = time.monotonic() + READY_TIMEOUT_S
            while time.monotonic() < deadline:
                st, body, _ = self.get("/health", timeout=5)
                if st == 200 and (body.get("zygote") or {}).get("state") == "ready":
                    return
                time.sleep(0.05)
            raise RuntimeError("agent not ready:\n" + self.log_text())
        except BaseException:
            self.stop()
            raise


class Orchestrator(Proc):
    """One sandpit-orchestrator; ready when it has written its port file (which it does once
    its agents are checked)."""

    name = "orchestrator"

    def __init__(self, tmp_dir, *args, env_extra=None, db=":memory:"):
        tmp_dir = Path(tmp_dir)
        # Jobs kept in memory only unless the test asks for a file (db=PATH) or the default
        # (db=None: <spawn-state-dir>/orchestrator.db); an explicit --db in args wins.
        if db is not None and not any(str(a).startswith("--db") for a in args):
            args = (*args, "--db", str(db))
        # Port files and local agents' state inside the test's own directory.
        env = {"TMPDIR": str(tmp_dir)}
        env.update(env_extra or {})
        # A known agent token (unless the test chose one), so a test may call a spawned agent
        # directly with it (agent_headers).
        self.agent_token = None
        if not any(str(a).startswith("--agent-token") for a in args):
            tmp_dir.mkdir(parents=True, exist_ok=True)
            self.agent_token = "e2e-" + os.urandom(16).hex()
            tok = tmp_dir / "agent-token"
            tok.write_text(self.agent_token + "\n")
            tok.chmod(0o600)
            args = (*args, "--agent-token-file", str(tok))
        super().__init__(tmp_dir, [str(ORCH_BIN), "--spawn-state-dir", str(tmp_dir / "state"),
                                   "--drain-s", "0", *args], env)
        try:
            self.wait_port()
        except BaseException:
            self.stop()
            raise

    def health(self):
        st, body, _ = self.get("/health", timeout=10)
        assert st == 200, (st, body)
        return body

    @property
    def agent_headers(self):
        """The header a direct call to one of its spawned agents needs."""
        return {"X-Sandpit-Token": self.agent_token} if self.agent_token else {}

    def execute(self, code, timeout_http=60.0, headers=None, **fields):
        """POST /execute {generated_code: code, timeout: 30, **fields} (the NVIDIA contract
        requires a timeout; timeout=None leaves it out); returns (status, body, headers)."""
        body = {"generated_code": code, "timeout": 30}
        body.update(fields)
        if body["timeout"] is None:
            del body["timeout"]
        return self.post("/execute", body, timeout=timeout_http, headers=headers)

    def run_ok(self, code, **fields):
        st, body, _ = self.execute(code, **fields)
        assert st == 200, (st, body)
        return body

    def agent_pids(self):
        return [a["pid"] for a in self.health()["agents"] if a.get("pid")]

    def wait_job(self, job_id, statuses=("completed", "failed", "cancelled"), timeout=30.0):
        """Polls /api/status until the job reaches one of statuses; returns the status body."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            st, last, _ = self.get(f"/api/status/{job_id}")
            assert st == 200, (st, last)
            if last["status"] in statuses:
                return last
            time.sleep(0.02)
        raise AssertionError(f"job {job_id} not in {statuses} after {timeout}s: {last!r}")

    def submit_job(self, code, **fields):
        body = {"language": "python", "code": code}
        body.update(fields)
        st, res, _ = self.post("/api/run", body)
        assert st in (200, 202), (st, res)
        assert res["status"] == "queued", res
        return res["jobId"]


def module_orch(tmp_path_factory, name, *args, **orch_kw):
    """The body of a module-scoped orch fixture (`yield from module_orch(...)`): one
    orchestrator with its spawned agent in a directory called name, stopped cleanly at the end."""
    if not ORCH_BIN.exists():
        raise AssertionError(f"{ORCH_BIN} not found: run `make`")
    o = Orchestrator(tmp_path_factory.mktemp(name), *args, **orch_kw)
    yield o
    rc = o.stop()
    assert rc == 0, f"orchestrator exited with {rc} after SIGTERM:\n{o.log_text()}"


def orch_maker(tmp_path, args_of=None, check_exit=True, **orch_kw):
    """The body of a make_orch fixture (`yield from orch_maker(tmp_path)`): yields make(*args),
    which starts an Orchestrator in its own directory under tmp_path (args_of maps make's
    arguments to the command line; orch_kw go to Orchestrator), then prints every log for a
    failing test and stops each one, asserting a clean exit unless check_exit is False."""
    if not ORCH_BIN.exists():
        raise AssertionError(f"{ORCH_BIN} not found: run `make`")
    made = []

    def make(*args):
        o = Orchestrator(tmp_path / f"orch{len(made)}", *(args_of(*args) if args_of else args),
                         **orch_kw)
        made.append(o)
        return o

    yield make
    log_on_failure(*made)
    for o in made:
        rc = o.stop()
        if check_exit:
            assert rc == 0, f"orchestrator exited with {rc}:\n{o.log_text()}"


def agents_started(base, names=("a", "b"), *args):
    """Agents without preloads (fast to start) in base/<name>; all stopped if one fails. The
    caller stops them."""
    started = []
    try:
        for name in names:
            started.append(Agent(base / name, "--preload=", *args))
    except BaseException:
        for ag in started:
            ag.stop()
        raise
    return started


def log_on_failure(*procs):
    """Prints each process's log; called from a fixture teardown, pytest shows it only when
    the test failed."""
    for p in procs:
        if p is not None:
            print(f"----- {p.name} log ({p.log_path}) -----")
            print(p.log_text())


def proc_state(pid):
    """The /proc state letter of pid, or None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return None


def pid_alive(pid):
    """True when pid exists and is not a zombie."""
    return proc_state(pid) not in (None, "Z", "X")


def descendants(pid):
    """Every live descendant of pid (children, grandchildren, ...)."""
    parent = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d)] = int(fields[1])
    out, frontier = set(), {pid}
    while frontier:
        kids = {p for p, pp in parent.items() if pp in frontier and p not in out}
        out |= kids
        frontier = kids
    return sorted(p for p in out if pid_alive(p))


def wait_until(pred, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= deadline:
            return v
        time.sleep(interval)
