"""End-to-end fixtures for sandpit-agent: real binaries on loopback, stdlib only.

`agent` is one agent shared by the whole session; `make_agent(**flags)` starts agents with
special flags for one test. Each agent's log (JSON lines on stderr) goes to a file that is
attached to the report of a failing test and printed nowhere otherwise.
"""
import http.client
import json
import os
import random
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("SANDPIT_BUILD_DIR") or (ROOT / "build"))
AGENT_BIN = BUILD_DIR / "sandpit-agent"

# Put into the agent's own environment; user code must never see it.
SECRET_NAME = "SANDPIT_TEST_SECRET"
SECRET_VALUE = "xyz-" + uuid.uuid4().hex
SECRET2_NAME = "E2E_AGENT_SECRET_TOKEN"
SECRET2_VALUE = "tok-" + uuid.uuid4().hex

# The harness under test: the repository's, unless SANDPIT_HARNESS_DIR points elsewhere.
DEFAULT_HARNESS = os.environ.get("SANDPIT_HARNESS_DIR") or str(ROOT)

READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


_FLAGS = None


def agent_flags_supported():
    """The --flags the built agent lists in --help."""
    global _FLAGS
    if _FLAGS is None:
        out = subprocess.run([str(AGENT_BIN), "--help"], capture_output=True, text=True,
                             timeout=10).stdout
        _FLAGS = {w for w in out.split() if w.startswith("--")}
    return _FLAGS


class HttpResult(tuple):
    """(status, body, headers) with names; body is parsed JSON when it parses, else text."""

    __slots__ = ()

    def __new__(cls, status, body, headers):
        return super().__new__(cls, (status, body, headers))

    status = property(lambda self: self[0])
    body = property(lambda self: self[1])
    headers = property(lambda self: self[2])


class Agent:
    """One running sandpit-agent process."""

    def __init__(self, tmp_dir: Path, flags: dict, env_extra: dict | None = None,
                 harness_dir=DEFAULT_HARNESS):
        self.tmp_dir = Path(tmp_dir)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.port_file = self.tmp_dir / "port"
        self.work_dir = self.tmp_dir / "work"
        self.log_path = self.tmp_dir / "agent.log"
        self.flags = dict(flags)
        # With agent_token set, every request of this fixture carries it (X-Sandpit-Token).
        self.token = self.flags.get("agent_token")
        self.port = None
        self.proc = None
        self.stopped_rc = None
        # Hermetic: no SANDPIT_* setting (or backend) of the developer's shell leaks in.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SANDPIT_") and k != "BACKEND_URL"}
        env[SECRET_NAME] = SECRET_VALUE
        env[SECRET2_NAME] = SECRET2_VALUE
        env.update(env_extra or {})
        args = [str(AGENT_BIN), "--host", "127.0.0.1", "--port", "0",
                "--port-file", str(self.port_file), "--work-dir", str(self.work_dir)]
        if "state_dir" not in self.flags and "--state-dir" in agent_flags_supported():
            args += ["--state-dir", str(self.tmp_dir / "state")]
        if harness_dir is not None:  # None: the agent finds harness/ itself, as `make run` does
            args += ["--harness-dir", str(harness_dir)]
        # What runs at the fixture's stop is not waited for (the drain is test_drain.py's).
        if "drain_s" not in self.flags and "--drain-s" in agent_flags_supported():
            args += ["--drain-s", "0"]
        for k, v in self.flags.items():
            args += ["--" + k.replace("_", "-"), str(v)]
        self.args = args
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, env=env, cwd=str(self.tmp_dir),
                                     start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.kill()
            raise

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def _wait_ready(self):
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sandpit-agent exited with {self.proc.returncode} at start:\n"
                                   + self.log_text())
            if self.port is None:
                try:
                    text = self.port_file.read_text().strip()
                    if text:
                        self.port = int(text)
                except (OSError, ValueError):
                    pass
            if self.port is not None:
                try:
                    st, body, _ = self.get("/health", timeout=2)
                    if (st == 200 and isinstance(body, dict)
                            and (body.get("zygote") or {}).get("state") == "ready"):
                        return
                except OSError:
                    pass
            time.sleep(0.05)
        raise RuntimeError("sandpit-agent not ready within %ss:\n%s" % (READY_TIMEOUT_S,
                                                                         self.log_text()))

    def wait_ready(self, timeout=READY_TIMEOUT_S):
        """Polls /health until the zygote is ready again; returns the health body."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                st, body, _ = self.get("/health", timeout=2)
                last = body
                if st == 200 and (body.get("zygote") or {}).get("state") == "ready":
                    return body
            except OSError as e:
                last = repr(e)
            time.sleep(0.05)
        raise AssertionError(f"agent not ready within {timeout}s; last /health: {last!r}")

    def terminate(self, timeout=STOP_TIMEOUT_S):
        """SIGTERM; returns the exit code, or None if it did not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        self.stopped_rc = rc
        return rc

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if not self._log.closed:
            self._log.close()

    def log_text(self, tail_lines=300):
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-tail_lines:])

    # -- HTTP ------------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=30.0):
        hdrs = dict(headers or {})
        if self.token and not any(k.lower() == "x-sandpit-token" for k in hdrs):
            hdrs["X-Sandpit-Token"] = self.token
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
        return HttpResult(status, parsed, rh)

    def post(self, path, body, headers=None, timeout=30.0):
        return self.request("POST", path, body, headers, timeout)

    def get(self, path, headers=None, timeout=30.0):
        return self.request("GET", path, None, headers, timeout)

    def delete(self, path, headers=None, timeout=30.0):
        return self.request("DELETE", path, None, headers, timeout)

    def execute(self, code, timeout_http=60.0, **fields):
        """POST /execute {code, **fields}; asserts 200 and returns the ExecutionResult."""
        body = {"code": code}
        body.update(fields)
        st, res, _ = self.post("/execute", body, timeout=timeout_http)
        assert st == 200, f"POST /execute -> {st}: {res!r}"
        assert isinstance(res, dict), res
        return res

    def health(self):
        st, body, _ = self.get("/health", timeout=5)
        assert st == 200, (st, body)
        return body


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attaches the log of every agent the test used to the report, only when it failed."""
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed:
        return
    agents = []
    a = item.funcargs.get("agent") if hasattr(item, "funcargs") else None
    if isinstance(a, Agent):
        agents.append(("session agent", a))
    f = item.funcargs.get("make_agent") if hasattr(item, "funcargs") else None
    if f is not None:
        for i, ag in enumerate(getattr(f, "agents", [])):
            agents.append((f"make_agent #{i}", ag))
    for name, ag in agents:
        rep.sections.append((f"{name} log ({ag.log_path})", ag.log_text()))


def _stop_and_check(ag: Agent):
    try:
        if ag.stopped_rc is not None:
            return  # the test stopped it itself (and checked how)
        rc = ag.terminate(STOP_TIMEOUT_S)
        assert rc is not None, f"agent pid {ag.pid} did not exit within {STOP_TIMEOUT_S}s of SIGTERM"
        assert rc == 0, f"agent exited with code {rc} after SIGTERM"
    finally:
        ag.kill()


@pytest.fixture(scope="session")
def agent(tmp_path_factory):
    if not AGENT_BIN.exists():
        pytest.fail(f"{AGENT_BIN} not found: run `make` in {ROOT}")
    ag = Agent(tmp_path_factory.mktemp("agent"), {"log-level": "debug"})
    yield ag
    _stop_and_check(ag)


class AgentFactory:
    def __init__(self, tmp_path):
        self.tmp_path = tmp_path
        self.agents = []

    def __call__(self, env_extra=None, harness_dir=DEFAULT_HARNESS, **flags):
        ag = Agent(self.tmp_path / f"agent{len(self.agents)}", flags, env_extra, harness_dir)
        self.agents.append(ag)
        return ag


@pytest.fixture
def make_agent(tmp_path):
    if not AGENT_BIN.exists():
        pytest.fail(f"{AGENT_BIN} not found: run `make` in {ROOT}")
    factory = AgentFactory(tmp_path)
    yield factory
    errors = []
    for ag in factory.agents:
        try:
            _stop_and_check(ag)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "; ".join(errors)


# -- helpers shared by the test modules --------------------------------------------------------

def proc_cmdlines():
    """{pid: argv list} of every live (non-zombie) process visible in /proc."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        if not raw:
            continue  # zombies and kernel threads
        out[int(d)] = [a.decode(errors="replace") for a in raw.rstrip(b"\0").split(b"\0")]
    return out


def pids_with_marker(marker):
    """Live processes whose argv or comm (prctl PR_SET_NAME) contains marker."""
    found = set()
    for pid, argv in proc_cmdlines().items():
        if any(marker in a for a in argv):
            found.add(pid)
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if marker in comm and pid_alive(int(d)):
            found.add(int(d))
    found.discard(os.getpid())
    return sorted(found)


def pid_alive(pid):
    """True when pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    state = stat.rsplit(")", 1)[1].split()[0]
    return state not in ("Z", "X")


def child_pids(pid):
    """Direct children of pid (from /proc/*/stat)."""
    kids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            kids.append(int(d))
    return kids


def wait_until(pred, timeout, interval=0.02):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            return v
        time.sleep(interval)


SPAWN_CODE = '''
import ctypes, os, subprocess, sys, time
M = {marker!r}
libc = ctypes.CDLL(None, use_errno=True)

def named_sleeper(tag):
    # comm (15 chars) carries the marker for processes that cannot carry it in argv
    libc.prctl(15, (M + tag).encode()[:15], 0, 0, 0)
    time.sleep(60)
    os._exit(0)

# 1. subprocess started with Popen and never waited
subprocess.Popen(["sleep", {sleep_arg!r}])
# 2. a Python grandchild with the marker in argv
subprocess.Popen(["/usr/bin/python3", "-c", "import time; time.sleep(60)", M + "-py"])
# 3. a plain forked child sleeping
if os.fork() == 0:
    named_sleeper("f")
# 4. setsid() double fork: the grandchild is orphaned into its own session
pid = os.fork()
if pid == 0:
    os.setsid()
    if os.fork() == 0:
        named_sleeper("d")
    os._exit(0)
os.waitpid(pid, 0)

def count():
    n = 0
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            argv = open("/proc/%s/cmdline" % d, "rb").read().decode(errors="replace")
            comm = open("/proc/%s/comm" % d).read()
            state = open("/proc/%s/stat" % d).read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (M in argv or M in comm or {sleep_arg!r} in argv):
            n += 1
    return n

deadline = time.time() + 5
while count() < 4 and time.time() < deadline:
    time.sleep(0.02)
print("running", count(), flush=True)
{tail}
'''


def spawn_code(tail=""):
    """Code that starts four long-lived descendants of different kinds, marked so they can be
    found in /proc; it prints "running 4" once all are up, then runs tail."""
    marker = "sp" + uuid.uuid4().hex[:10]  # 12 chars: + 1-char tag fits comm's 15
    sleep_arg = "%d.%06d" % (random.randint(600, 699), random.randint(0, 999999))
    code = SPAWN_CODE.format(marker=marker, sleep_arg=sleep_arg, tail=tail)
    return code, marker, sleep_arg
