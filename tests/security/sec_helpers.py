"""Shared helpers of the hostile-code corpus (tests/security): stdlib only.

Reuses the end-to-end fixtures' Agent class and /proc helpers (tests/e2e/conftest.py), loaded
under a module name of its own so that it never collides with this directory's conftest.py.
When pytest is not installed (soak.py run by a bare python3) a tiny stand-in lets that module
load: only its decorators are touched at import time.
"""
import hashlib
import importlib.util
import os
import sys
import types
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PROGRAMS_DIR = HERE / "programs"
E2E_CONFTEST = ROOT / "tests" / "e2e" / "conftest.py"


def _load_e2e():
    name = "sandpit_e2e_conftest"
    if name in sys.modules:
        return sys.modules[name]
    try:
        import pytest  # noqa: F401  (only whether it imports)
    except ImportError:  # soak.py under an interpreter without pytest
        stub = types.ModuleType("pytest")
        ident = lambda *a, **k: (a[0] if a and callable(a[0]) and not k else (lambda f: f))
        stub.fixture = ident
        stub.hookimpl = ident
        stub.fail = lambda msg: (_ for _ in ()).throw(AssertionError(msg))
        sys.modules["pytest"] = stub
    spec = importlib.util.spec_from_file_location(name, E2E_CONFTEST)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


_e2e = _load_e2e()
Agent = _e2e.Agent
AGENT_BIN = _e2e.AGENT_BIN
SECRET_NAME = _e2e.SECRET_NAME
SECRET_VALUE = _e2e.SECRET_VALUE
SECRET2_NAME = _e2e.SECRET2_NAME
SECRET2_VALUE = _e2e.SECRET2_VALUE
wait_until = _e2e.wait_until
proc_cmdlines = _e2e.proc_cmdlines
pids_with_marker = _e2e.pids_with_marker
pid_alive = _e2e.pid_alive
child_pids = _e2e.child_pids

# The small limits of the corpus's agent: bombs hit them fast.
SMALL_LIMITS = {"memory_mb": 256, "pids_limit": 64, "disk_mb": 64,
                "max_output_bytes": 65536, "max_timeout": 60}

CG_ROOT = Path("/sys/fs/cgroup")


def new_marker():
    """12 characters: fits comm (15) with a 3-character suffix."""
    return "sx" + uuid.uuid4().hex[:10]


def load_program(name):
    """The source of programs/<name>.py."""
    return (PROGRAMS_DIR / (name + ".py")).read_text()


def program_names():
    return sorted(p.stem for p in PROGRAMS_DIR.glob("[0-9][0-9]_*.py"))


# -- process bookkeeping ------------------------------------------------------------------------

def ppid_map():
    """{pid: ppid} of every process (zombies included)."""
    out = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        out[int(d)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def descendants(pid, pmap=None):
    """Every live descendant of pid (any depth)."""
    pmap = ppid_map() if pmap is None else pmap
    kids = {}
    for p, pp in pmap.items():
        kids.setdefault(pp, []).append(p)
    out, todo = [], list(kids.get(pid, []))
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return sorted(out)


def idle_tree_ok(agent, zpid, warm):  # noqa: ARG001 (agent kept for call sites)
    """True when the zygote's tree is exactly its warm pool: 2 direct children per warm
    child (sandpit-init and the waiting user process) and nothing deeper."""
    pmap = ppid_map()
    kids = [p for p, pp in pmap.items() if pp == zpid]
    deep = [p for p in descendants(zpid, pmap) if p not in kids]
    return not deep and len(kids) == 2 * warm


def describe_tree(zpid):
    pm = ppid_map()
    cmd = proc_cmdlines()
    rows = []
    for p in descendants(zpid, pm):
        try:
            comm = open(f"/proc/{p}/comm").read().strip()
        except OSError:
            comm = "?"
        rows.append(f"{p} ppid={pm.get(p)} comm={comm} argv={' '.join(cmd.get(p, []))[:80]}")
    return "\n".join(rows)


def zygote_pids_on_host():
    """Pids of every sandpit zygote on the host (any agent): processes whose argv holds
    --zygote-fd and whose parent is not itself a zygote."""
    cmds = proc_cmdlines()
    pm = ppid_map()
    zy = {p for p, a in cmds.items() if any(x.startswith("--zygote-fd") for x in a)}
    return {p for p in zy if pm.get(p) not in zy}


# -- host state that no execution may change ----------------------------------------------------

WATCHED_HOST_FILES = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/hosts",
                      "/etc/ld.so.preload", "/etc/sudoers"]


def file_state(path):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    try:
        digest = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        digest = "?"
    return (st.st_mode, st.st_uid, st.st_size, st.st_mtime_ns, st.st_ctime_ns, digest)


class HostSnapshot:
    """World-writable canary directories and files on the host, one on the root filesystem
    (/var/tmp: the same path inside the sandbox, protected only by the read-only root) and
    one in the host's /tmp (hidden inside by the private tmpfs), plus the watched system files.
    Programs get the canary paths in input_data and try to change them."""

    def __init__(self, tag=None):
        tag = tag or uuid.uuid4().hex[:12]
        self.dirs = [Path("/var/tmp") / f"sandpit-canary-{tag}", Path("/tmp") / f"sandpit-canary-{tag}"]
        self.canaries = []
        for d in self.dirs:
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o777)
            c = d / "canary.txt"
            c.write_text("canary " + uuid.uuid4().hex + "\n")
            os.chmod(c, 0o666)
            self.canaries.append(c)
        self.files = {p: file_state(p) for p in WATCHED_HOST_FILES + [str(c) for c in self.canaries]}
        self.listings = {d: sorted(os.listdir(d)) for d in self.dirs}

    def input_data(self):
        return {"canaries": [str(c) for c in self.canaries]}

    def changes(self, marker=None):
        out = []
        for p, before in self.files.items():
            now = file_state(p)
            if now != before:
                out.append(f"{p} changed: {before} -> {now}")
        for d, before in self.listings.items():
            try:
                now = sorted(os.listdir(d))
            except OSError as e:
                now = repr(e)
            if now != before:
                out.append(f"{d} listing changed: {before} -> {now}")
        if marker:
            for d in ("/tmp", "/var/tmp", "/dev/shm", "/dev", "/etc", "/", "/run", "/root",
                      "/usr", "/work"):
                for suffix in ("", ".sock", ".so", ".txt"):
                    p = os.path.join(d, marker + suffix)
                    if os.path.lexists(p):
                        out.append(f"{p} exists on the host")
        return out

    def cleanup(self):
        import shutil
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)


def execute(agent, code, timeout=5.0, **fields):
    """POST /execute with a request timeout; returns the ExecutionResult."""
    fields.setdefault("debug_mode", False)
    return agent.execute(code, timeout_http=timeout + 60, timeout=timeout, **fields)


def proc_fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def proc_rss_kb(pid):
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return -1
