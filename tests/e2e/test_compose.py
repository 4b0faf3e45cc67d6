"""docker-compose.yml and images/*/Dockerfile against the real binaries and the repository.

No Docker engine is needed (the machine this was written on has none): the compose file is read
with PyYAML, every Dockerfile with the small parser below, and the claims they make are checked
against what exists -- each daemon's real `--help`, the daemons themselves run with the exact
arguments the compose file gives them, the repository's files, the `.dockerignore`, and Debian
bookworm's package lists (`apt-cache madison`). A failure names the service or Dockerfile and
what disagrees. Needs only `make` (build/); a binary that is not built yet is skipped by name.
"""
import functools
import http.client
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path, PurePosixPath

import pytest

yaml = pytest.importorskip("yaml")  # python3-yaml, for Debian's /usr/bin/python3

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = Path(os.environ.get("SANDPIT_BUILD_DIR") or (ROOT / "build"))
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERIGNORE = ROOT / ".dockerignore"
IMAGES_DIR = ROOT / "images"

AGENT, ORCH, PROXY = "sandpit-agent", "sandpit-orchestrator", "sandpit-proxy"
DAEMONS = (AGENT, ORCH, PROXY)

# What the agent's isolation uses (sandbox/isolate*.c, sandbox/zygote.c; docs/deploy.md has each one's
# use and what missing it does). REQUIRED: without SETUID, SETGID or CHOWN every execution fails
# its set-up; without SYS_ADMIN there are no namespaces at all.
AGENT_CAPS_REQUIRED = {"SYS_ADMIN", "SETUID", "SETGID", "CHOWN"}
AGENT_CAPS_ALLOWED = AGENT_CAPS_REQUIRED | {"KILL", "NET_ADMIN", "SETPCAP"}

# Debian packages that provide each canonical language in an image (alternatives in a tuple).
LANG_PACKAGES = {
    "python": [("libpython3.11",)],
    "javascript": [("nodejs",)],
    "typescript": [("nodejs",)],
    "c": [("gcc",), ("libc6-dev",)],
    "cpp": [("g++",)],
    "java": [("openjdk-17-jdk-headless", "default-jdk-headless")],
    "go": [("golang-go",)],
    "rust": [("rustc",)],
    "csharp": [("mono-mcs",), ("mono-runtime",)],
    "bash": [("bash",)],
    "sh": [("dash",)],
    "ruby": [("ruby",)],
    "php": [("php-cli",)],
    "perl": [("perl",)],
    "lua": [("lua5.4",)],
    "sql": [("sqlite3",)],
    "r": [("r-base-core",)],
}

# Paths the builder stages' `make` needs from the build context.
MAKE_INPUTS = ["Makefile", "common", "agent", "orchestrator", "harness"]


# ------------------------------------------------------------------------------------ helpers
def clean_env():
    """Our environment without SANDPIT_* (each would set a daemon option)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SANDPIT_")}


_HELP = {}


def daemon_help(name):
    """(flags {--name: takes_value}, defaults {--name: text}) from build/<name> --help, or
    pytest.skip naming the binary when it is not built yet."""
    if name not in _HELP:
        binary = BUILD_DIR / name
        if not binary.exists():
            _HELP[name] = None
        else:
            out = subprocess.run([str(binary), "--help"], capture_output=True, text=True,
                                 timeout=20, env=clean_env())
            text = out.stdout + out.stderr
            flags, defaults = {}, {}
            for line in text.splitlines():
                # "  --name TEXT   help" / "  --name N   help" / "  --bool   help" (cfg_usage)
                m = re.match(r"\s+(--[a-z0-9][a-z0-9-]*)(?:[ =]([A-Z]+|<[^>]+>))?(\s|$)", line)
                if m:
                    flags[m.group(1)] = m.group(2) is not None
                    d = re.search(r"\(default: ([^)]*)\)", line)
                    if d:
                        defaults[m.group(1)] = d.group(1).strip('"')
            _HELP[name] = (flags, defaults, text)
    if _HELP[name] is None:
        pytest.skip(f"{name} is not built yet ({BUILD_DIR / name} missing)")
    return _HELP[name]


def parse_argv(args, arity=None):
    """[(flag, value or None)] from daemon arguments: --x=v, --x v, or a lone --x. `arity`
    ({flag: takes_value}, from --help) decides; an unknown flag takes the next token unless it
    starts with '--'."""
    out, i = [], 0
    arity = arity or {}
    while i < len(args):
        a = str(args[i])
        if not a.startswith("--"):
            out.append((None, a))
            i += 1
            continue
        if "=" in a:
            k, v = a.split("=", 1)
            out.append((k, v))
            i += 1
            continue
        takes = arity.get(a)
        if takes is None:
            takes = i + 1 < len(args) and not str(args[i + 1]).startswith("--")
        if takes and i + 1 < len(args):
            out.append((a, str(args[i + 1])))
            i += 2
        else:
            out.append((a, None))
            i += 1
    return out


def flag_values(pairs, flag):
    return [v for k, v in pairs if k == flag]


def flag_value(pairs, flag, default=None):
    vals = flag_values(pairs, flag)
    return vals[-1] if vals else default


def port_of(text):
    """The port a health check or URL names on 127.0.0.1/localhost (also /dev/tcp/H/P)."""
    m = re.search(r"(?:127\.0\.0\.1|localhost)[:/](\d+)", text)
    return int(m.group(1)) if m else None


def cmd_text(cmd):
    return " ".join(str(c) for c in cmd) if isinstance(cmd, list) else str(cmd)


# ------------------------------------------------------------------------------------ Dockerfile
class Stage:
    def __init__(self, image, name, index):
        self.image, self.name, self.index = image, name, index
        self.instructions = []  # (KEYWORD, rest)

    def all(self, kw):
        return [rest for k, rest in self.instructions if k == kw]

    def last(self, kw):
        vals = self.all(kw)
        return vals[-1] if vals else None


def exec_form(rest):
    """A CMD/ENTRYPOINT/HEALTHCHECK CMD argument as a list (JSON form or shell form)."""
    rest = rest.strip()
    if rest.startswith("["):
        return json.loads(rest)
    return ["/bin/sh", "-c", rest]


class Dockerfile:
    def __init__(self, path):
        self.path = path
        self.rel = path.relative_to(ROOT)
        self.stages = []
        lines, cur = [], ""
        for raw in path.read_text().splitlines():
            s = raw.strip()
            if s.startswith("#") or (not s and not cur):
                continue
            if s.endswith("\\"):
                cur += s[:-1] + " "
                continue
            cur += s
            lines.append(cur.strip())
            cur = ""
        if cur.strip():
            lines.append(cur.strip())
        for line in lines:
            kw, _, rest = line.partition(" ")
            kw = kw.upper()
            if kw == "FROM":
                toks = [t for t in rest.split() if not t.startswith("--")]
                name = toks[2] if len(toks) >= 3 and toks[1].lower() == "as" else None
                self.stages.append(Stage(toks[0], name, len(self.stages)))
            elif not self.stages:
                continue  # ARG before FROM
            else:
                self.stages[-1].instructions.append((kw, rest.strip()))

    @property
    def final(self):
        return self.stages[-1]

    def copies(self, stage):
        """[(from or None, [sources], dest)] of a stage's COPY and ADD."""
        out = []
        for kw, rest in stage.instructions:
            if kw not in ("COPY", "ADD"):
                continue
            toks = json.loads(rest) if rest.startswith("[") else shlex.split(rest)
            src_from, args = None, []
            for t in toks:
                if t.startswith("--from="):
                    src_from = t.split("=", 1)[1]
                elif t.startswith("--"):
                    continue
                else:
                    args.append(t)
            if rest.startswith("["):
                args = [t for t in toks if not t.startswith("--")]
            out.append((src_from, args[:-1], args[-1]))
        return out

    def apt_packages(self, stage):
        pkgs = []
        for run in stage.all("RUN"):
            toks = shlex.split(run.replace(";", " ; "))
            for i, t in enumerate(toks):
                if t == "install" and i > 0 and toks[i - 1] in ("apt-get", "apt"):
                    for p in toks[i + 1:]:
                        if p in ("&&", ";", "||", "|"):
                            break
                        if not p.startswith("-"):
                            pkgs.append(p)
        return pkgs

    def make_targets(self, stage):
        targets = []
        for run in stage.all("RUN"):
            for seg in re.split(r"&&|;|\|\|", run):
                toks = seg.split()
                if toks and toks[0] == "make":
                    targets += [t for t in toks[1:] if t.startswith("build/")]
        return targets

    def daemon_argv(self):
        """ENTRYPOINT + CMD of the final stage without a leading init (tini ... --)."""
        ep = exec_form(self.final.last("ENTRYPOINT")) if self.final.last("ENTRYPOINT") else []
        cmd = exec_form(self.final.last("CMD")) if self.final.last("CMD") else []
        return strip_init(ep + cmd)


def strip_init(argv):
    argv = [str(a) for a in argv]
    if argv and PurePosixPath(argv[0]).name in ("tini", "docker-init", "dumb-init"):
        argv = argv[argv.index("--") + 1:] if "--" in argv else argv[1:]
    return argv


# ------------------------------------------------------------------------------------ compose model
class Service:
    def __init__(self, name, spec):
        self.name, self.spec = name, spec
        build = spec.get("build") or {}
        if isinstance(build, str):
            build = {"context": build}
        self.context = (ROOT / build.get("context", ".")).resolve() if build else None
        self.dockerfile_path = (self.context / build.get("dockerfile", "Dockerfile")
                                if build else None)
        self.dockerfile = (Dockerfile(self.dockerfile_path)
                           if self.dockerfile_path and self.dockerfile_path.is_file() else None)
        cmd = spec.get("command")
        if isinstance(cmd, str):
            cmd = shlex.split(cmd)
        ep = []
        if self.dockerfile and self.dockerfile.final.last("ENTRYPOINT"):
            ep = exec_form(self.dockerfile.final.last("ENTRYPOINT"))
        if spec.get("entrypoint") is not None:
            e = spec["entrypoint"]
            ep = shlex.split(e) if isinstance(e, str) else list(e)
        if cmd is None and self.dockerfile:
            self.argv = self.dockerfile.daemon_argv()
        else:
            self.argv = strip_init(ep + list(cmd or []))
        self.binary = PurePosixPath(self.argv[0]).name if self.argv else None
        self.args = self.argv[1:]

    def pairs(self):
        arity = None
        if self.binary in DAEMONS and (BUILD_DIR / self.binary).exists():
            arity = daemon_help(self.binary)[0]
        return parse_argv(self.args, arity)

    def setting(self, flag):
        """The flag's value from the command, else the binary's --help default."""
        v = flag_value(self.pairs(), flag)
        if v is None and self.binary in DAEMONS:
            v = daemon_help(self.binary)[1].get(flag)  # skips when the binary is not built
        return v

    def languages(self):
        v = flag_value(self.pairs(), "--languages")
        return [x.strip() for x in v.split(",") if x.strip()] if v else []

    def networks(self):
        n = self.spec.get("networks")
        if n is None:
            return ["default"]
        return list(n) if isinstance(n, (list, dict)) else [n]


def load_compose():
    return yaml.safe_load(COMPOSE_FILE.read_text())


COMPOSE = load_compose()
SERVICES = {name: Service(name, spec) for name, spec in COMPOSE["services"].items()}
AGENTS = [s for s in SERVICES.values() if s.binary == AGENT]
ORCHS = [s for s in SERVICES.values() if s.binary == ORCH]
PROXIES = [s for s in SERVICES.values() if s.binary == PROXY]
DOCKERFILES = sorted({p for p in IMAGES_DIR.glob("*/Dockerfile")} |
                     {s.dockerfile_path for s in SERVICES.values()
                      if s.dockerfile_path and s.dockerfile_path.is_file()})


def role_of_dockerfile(df):
    name = PurePosixPath(df.daemon_argv()[0]).name if df.daemon_argv() else None
    return name


def network_def(name):
    return (COMPOSE.get("networks") or {}).get(name) or {}


def svc_params(services):
    return pytest.mark.parametrize("svc", services, ids=[s.name for s in services])


def df_params(keep=lambda df: True):
    dfs = [d for d in (Dockerfile(p) for p in DOCKERFILES) if keep(d)]
    return pytest.mark.parametrize("df", dfs, ids=[str(d.rel) for d in dfs])


def is_agent_image(df):
    argv = df.daemon_argv()
    return bool(argv) and PurePosixPath(argv[0]).name == AGENT


def serves_typescript(df):
    return is_agent_image(df) and any(
        "typescript" in (flag_value(parse_argv(argv[1:]), "--languages") or "").split(",")
        for argv in [df.daemon_argv()] + [s.argv for s in AGENTS if s.dockerfile_path == df.path])


# ------------------------------------------------------------------------------------ compose tests
def test_compose_has_the_roles():
    assert AGENTS, "no service runs sandpit-agent"
    assert len(ORCHS) == 1, (
        f"expected one sandpit-orchestrator service, got {[s.name for s in ORCHS]}")
    assert len(PROXIES) == 1, (
        f"expected one sandpit-proxy (egress) service, got {[s.name for s in PROXIES]}")
    unknown = [s.name for s in SERVICES.values() if s.binary not in DAEMONS]
    assert not unknown, f"services running no sandpit daemon: {unknown}"


@svc_params(list(SERVICES.values()))
def test_build_context_and_dockerfile_exist(svc):
    assert svc.context is not None, f"{svc.name}: no build section"
    assert svc.context.is_dir(), f"{svc.name}: build context {svc.context} does not exist"
    assert svc.dockerfile_path.is_file(), f"{svc.name}: {svc.dockerfile_path} does not exist"
    assert svc.context == ROOT, (f"{svc.name}: the Dockerfiles COPY from the repository root, "
                                 f"so the context must be '.', not {svc.context}")


@svc_params(list(SERVICES.values()))
def test_command_flags_exist_in_help(svc):
    flags = daemon_help(svc.binary)[0]
    used = {k for k, _ in svc.pairs() if k}
    stray = [v for k, v in svc.pairs() if k is None]
    missing = sorted(used - set(flags))
    assert not stray, f"{svc.name}: arguments that are no --flag: {stray}"
    assert not missing, (f"{svc.name}: {svc.binary} --help has no {', '.join(missing)} "
                         f"(docker-compose.yml passes them)")


@svc_params(list(SERVICES.values()))
def test_command_accepted_by_binary(svc):
    """The binary parses the exact arguments (values, bounds, arity): `<args> --help` parses
    everything before --help, then prints the help and exits 0."""
    daemon_help(svc.binary)
    out = subprocess.run([str(BUILD_DIR / svc.binary), *svc.args, "--help"], capture_output=True,
                         text=True, timeout=20, env=clean_env())
    assert out.returncode == 0, (f"{svc.name}: {svc.binary} refuses the compose arguments "
                                 f"{svc.args}: {out.stderr.strip() or out.stdout[-300:]}")


@df_params()
def test_dockerfile_cmd_flags_exist_in_help(df):
    argv = df.daemon_argv()
    assert argv, f"{df.rel}: no CMD"
    binary = PurePosixPath(argv[0]).name
    assert binary in DAEMONS, f"{df.rel}: CMD runs {argv[0]}, not a sandpit daemon"
    flags = daemon_help(binary)[0]
    missing = sorted({k for k, _ in parse_argv(argv[1:], flags) if k} - set(flags))
    assert not missing, (
        f"{df.rel}: {binary} --help has no {', '.join(missing)} (the image's CMD passes them)")


def assert_probes_readiness_and_outlasts_the_drain(svc, hc):
    """The healthcheck asks /health/ready (503 while the zygote is down or the daemon drains),
    and Docker waits longer than the drain (--drain-s, 30 s unless set) before its SIGKILL."""
    assert "/health/ready" in hc, f"{svc.name}: healthcheck '{hc}' does not probe /health/ready"
    drain = int(svc.setting("--drain-s") or 30)
    grace = str(svc.spec.get("stop_grace_period") or "10s")
    m = re.fullmatch(r"(\d+)s", grace)
    assert m and int(m.group(1)) > drain, (
        f"{svc.name}: stop_grace_period {grace} does not outlast --drain-s {drain}")


@svc_params(AGENTS)
def test_agent_ports_agree(svc):
    port = int(svc.setting("--port") or 8001)
    assert svc.setting("--host") == "0.0.0.0", (
        f"{svc.name}: --host is {svc.setting('--host')!r}: the orchestrator in another container "
        "cannot reach an agent listening on loopback; pass --host 0.0.0.0")
    hc = cmd_text((svc.spec.get("healthcheck") or {}).get("test", ""))
    assert port_of(hc) == port, f"{svc.name}: healthcheck '{hc}' does not probe --port {port}"
    assert_probes_readiness_and_outlasts_the_drain(svc, hc)
    urls = [v.split("=", 1)[1] for v in flag_values(ORCHS[0].pairs(), "--agent") if "=" in v]
    mine = [u for u in urls if re.match(rf"https?://{re.escape(svc.name)}(:|/|$)", u)]
    assert mine, f"{svc.name}: the orchestrator has no --agent URL for it"
    for u in mine:
        m = re.match(r"https?://[^:/]+:(\d+)", u)
        assert m and int(m.group(1)) == port, f"{svc.name}: orchestrator URL {u} is not port {port}"
    assert not svc.spec.get("ports"), (
        f"{svc.name}: agents must not publish ports ({svc.spec['ports']})")
    if svc.dockerfile:
        assert str(port) in " ".join(svc.dockerfile.final.all("EXPOSE")).split(), (
            f"{svc.name}: {svc.dockerfile.rel} does not EXPOSE {port}")


def test_orchestrator_ports_agree():
    svc = ORCHS[0]
    port = int(svc.setting("--port") or 6000)
    assert svc.setting("--host") == "0.0.0.0", (
        f"{svc.name}: --host {svc.setting('--host')!r} cannot be reached through a published port")
    hc = cmd_text((svc.spec.get("healthcheck") or {}).get("test", ""))
    assert port_of(hc) == port, f"{svc.name}: healthcheck '{hc}' does not probe --port {port}"
    assert_probes_readiness_and_outlasts_the_drain(svc, hc)
    published = svc.spec.get("ports") or []
    targets = []
    for p in published:
        if isinstance(p, dict):
            targets.append(int(p["target"]))
        else:
            targets.append(int(str(p).split("/")[0].rsplit(":", 1)[-1]))
    assert port in targets, f"{svc.name}: ports {published} do not publish container port {port}"


def test_egress_ports_agree():
    eg = PROXIES[0]
    listen = eg.setting("--listen") or ""
    m = re.match(r"^(.*):(\d+)$", listen)
    assert m, f"{eg.name}: --listen {listen!r} is not HOST:PORT"
    host, port = m.group(1), int(m.group(2))
    assert host in ("0.0.0.0", "", "[::]"), (
        f"{eg.name}: --listen on {host} is unreachable from the agents")
    hc = cmd_text((eg.spec.get("healthcheck") or {}).get("test", ""))
    assert port_of(hc) == port, f"{eg.name}: healthcheck '{hc}' does not probe port {port}"
    for a in AGENTS:
        proxy = flag_value(a.pairs(), "--egress-proxy")
        assert proxy, f"{a.name}: no --egress-proxy (its network scenarios would have no way out)"
        ph, _, pp = proxy.rpartition(":")
        assert ph == eg.name, (
            f"{a.name}: --egress-proxy {proxy} does not name the egress service '{eg.name}'")
        assert pp.isdigit() and int(pp) == port, (
            f"{a.name}: --egress-proxy {proxy} is not port {port}")


def test_egress_mode_and_allow():
    pairs = PROXIES[0].pairs()
    assert flag_value(pairs, "--mode") == "http", "egress must run --mode http (a CONNECT proxy)"
    assert flag_values(pairs, "--allow"), "egress has no --allow list"


@svc_params(AGENTS)
def test_agent_networks_internal_only(svc):
    assert svc.spec.get("network_mode") is None, (
        f"{svc.name}: network_mode {svc.spec.get('network_mode')}")
    for n in svc.networks():
        assert network_def(n).get("internal") is True, (
            f"{svc.name}: network '{n}' is not `internal: true`: agents must have no route out "
            "(their way out is the egress service)")


def test_egress_bridges_internal_and_outside():
    eg = PROXIES[0]
    nets = eg.networks()
    outside = [n for n in nets if not network_def(n).get("internal")]
    assert outside, f"{eg.name}: on no non-internal network, so it has no route out"
    for a in AGENTS:
        assert set(a.networks()) & set(nets), f"{a.name} and {eg.name} share no network"
    orch = ORCHS[0]
    for a in AGENTS:
        assert set(a.networks()) & set(orch.networks()), (
            f"{a.name} and {orch.name} share no network")
    assert [n for n in orch.networks() if not network_def(n).get("internal")], (
        f"{orch.name}: a port published on internal networks only is unreachable")


def test_orchestrator_agent_list_matches_agent_languages():
    served = {}  # language -> set of services
    for a in AGENTS:
        langs = a.languages()
        assert langs, f"{a.name}: no --languages list"
        for lang in langs:
            served.setdefault(lang, set()).add(a.name)
    routed = {}
    for spec in flag_values(ORCHS[0].pairs(), "--agent"):
        assert "=" in spec, f"--agent {spec}: give LANG=URL (a bare URL hides the mapping)"
        langs, url = spec.split("=", 1)
        m = re.match(r"https?://([^:/]+)", url)
        assert m and m.group(1) in SERVICES, f"--agent {spec}: host is not a compose service"
        for lang in langs.split(","):
            routed.setdefault(lang, set()).add(m.group(1))
    unrouted = sorted(set(served) - set(routed))
    unserved = sorted(set(routed) - set(served))
    assert not unrouted, (
        f"languages agents serve but the orchestrator has no --agent for: {unrouted}")
    assert not unserved, f"--agent languages no agent service lists in --languages: {unserved}"
    wrong = {lang: (sorted(routed[lang]), sorted(served[lang]))
             for lang in routed if routed[lang] - served[lang]}
    assert not wrong, f"--agent routes languages to services that do not serve them: {wrong}"


def _http_get_json(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, json.loads(r.read() or b"null")
    finally:
        conn.close()


def test_orchestrator_reads_the_agents_as_compose_means(tmp_path):
    """Runs the real orchestrator with the compose --agent flags (agents unreachable here) and
    reads back, from /health, which languages it files under each agent URL."""
    orch = ORCHS[0]
    flags = daemon_help(ORCH)[0]
    keep = [(k, v) for k, v in orch.pairs()
            if k not in ("--host", "--port", "--port-file", "--start-timeout", "--db")]
    args = []
    for k, v in keep:
        args += [k] if v is None else [f"{k}={v}"]
    port_file = tmp_path / "port"
    argv = [str(BUILD_DIR / ORCH), *args, "--host=127.0.0.1", "--port=0",
            f"--port-file={port_file}", "--start-timeout=0"]
    if "--health-interval" in flags:
        argv.append("--health-interval=3600")
    # The container's volume path does not exist here.
    if "--db" in flags:
        argv.append("--db=:memory:")
    log = open(tmp_path / "orch.log", "w+")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=clean_env())
    try:
        deadline = time.monotonic() + 20
        while not (port_file.exists() and port_file.read_text().strip()):
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"the orchestrator exits with the compose arguments "
                            f"(code {proc.returncode}): {log.read()[-800:]}")
            assert time.monotonic() < deadline, "the orchestrator wrote no --port-file in 20 s"
            time.sleep(0.05)
        status, body = _http_get_json(int(port_file.read_text()), "/health")
        assert status == 200, f"/health answered {status}"
        filed = {a["url"]: set(a.get("languages") or []) for a in body["agents"]}
        problems = []
        for a in AGENTS:
            port = int(a.setting("--port") or 8001)
            url = f"http://{a.name}:{port}"
            want = set(a.languages())
            got = filed.get(url)
            if got is None:
                problems.append(
                    f"{a.name}: the orchestrator lists no agent {url} (has {sorted(filed)})")
            elif got != want:
                problems.append(
                    f"{a.name} serves {sorted(want)} but the orchestrator files {url} under "
                    f"{sorted(got)}: requests for {sorted(want - got)} never reach it as that "
                    f"language{' (the orchestrator reads them as aliases)' if want - got else ''}")
        assert not problems, "\n".join(problems)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _caps(svc, key):
    return {str(c).upper().removeprefix("CAP_") for c in (svc.spec.get(key) or [])}


@svc_params(list(SERVICES.values()))
def test_capabilities_and_security_opts(svc):
    assert not svc.spec.get("privileged"), f"{svc.name}: privileged"
    assert _caps(svc, "cap_drop") == {"ALL"}, (
        f"{svc.name}: cap_drop must be [ALL], is {svc.spec.get('cap_drop')}")
    opts = [str(o).replace("=", ":") for o in svc.spec.get("security_opt") or []]
    assert "no-new-privileges:true" in opts, f"{svc.name}: no security_opt no-new-privileges:true"
    assert not [o for o in opts if o.startswith("seccomp:unconfined")], (
        f"{svc.name}: seccomp unconfined; Docker's default profile allows the namespace calls "
        "once SYS_ADMIN is granted")
    added = _caps(svc, "cap_add")
    if svc.binary == AGENT:
        assert AGENT_CAPS_REQUIRED <= added, (
            f"{svc.name}: cap_add lacks {sorted(AGENT_CAPS_REQUIRED - added)}: executions fail "
            "their set-up (SETUID, SETGID, CHOWN) or get no namespaces (SYS_ADMIN); docs/deploy.md")
        assert added <= AGENT_CAPS_ALLOWED, (
            f"{svc.name}: cap_add has {sorted(added - AGENT_CAPS_ALLOWED)}, which the agent does "
            "not use (docs/deploy.md lists what it needs and why)")
        assert any(o.startswith("apparmor:") for o in opts), (
            f"{svc.name}: Docker's docker-default AppArmor profile denies mount(2); the agent's "
            "per-execution mounts need apparmor=unconfined or a profile that allows them")
        assert svc.spec.get("user") in (None, "root", "0", "0:0"), (
            f"{svc.name}: user {svc.spec.get('user')}: the agent must be root in the container "
            "to drop executions to nobody and create namespaces")
    else:
        assert not added, f"{svc.name}: needs no capability, has cap_add {sorted(added)}"


def _tmpfs_mounts(svc):
    t = svc.spec.get("tmpfs") or []
    t = [t] if isinstance(t, str) else t
    out = {}
    for entry in t:
        path, _, opts = str(entry).partition(":")
        out[path.rstrip("/") or "/"] = opts.split(",") if opts else []
    for v in svc.spec.get("volumes") or []:
        if isinstance(v, dict) and v.get("type") == "tmpfs":
            out[v["target"].rstrip("/")] = []
    return out


def _under(path, mounts):
    p = PurePosixPath(path)
    return next((m for m in mounts if p == PurePosixPath(m) or PurePosixPath(m) in p.parents), None)


@svc_params(list(SERVICES.values()))
def test_read_only_with_tmpfs(svc):
    assert svc.spec.get("read_only") is True, f"{svc.name}: read_only is not true"
    mounts = _tmpfs_mounts(svc)
    assert "/tmp" in mounts, f"{svc.name}: no tmpfs on /tmp (the root filesystem is read-only)"
    if svc.binary == AGENT:
        for flag in ("--work-dir", "--state-dir"):
            d = svc.setting(flag)
            assert d, f"{svc.name}: cannot tell the agent's {flag}"
            vols = [str(v).split(":")[1] for v in svc.spec.get("volumes") or []
                    if isinstance(v, str)]
            assert _under(d, mounts) or _under(d, vols), (
                f"{svc.name}: {flag} {d} is on the read-only root filesystem (no tmpfs or volume)")
        opts = mounts[_under(svc.setting("--work-dir"), mounts) or "/tmp"]
        assert "exec" in opts and "noexec" not in opts, (
            f"{svc.name}: the work dir's tmpfs must say `exec` (Docker mounts tmpfs noexec by "
            "default): compiled programs run from there when mount namespaces are off")


@svc_params(list(SERVICES.values()))
def test_resource_limits(svc):
    lim = ((svc.spec.get("deploy") or {}).get("resources") or {}).get("limits") or {}
    assert svc.spec.get("mem_limit") or lim.get("memory"), f"{svc.name}: no memory limit"
    assert svc.spec.get("cpus") or lim.get("cpus"), f"{svc.name}: no cpus limit"
    assert svc.spec.get("pids_limit") or lim.get("pids"), f"{svc.name}: no pids limit"


@svc_params(list(SERVICES.values()))
def test_healthcheck_and_restart(svc):
    hc = svc.spec.get("healthcheck") or {}
    assert hc.get("test") and not hc.get("disable"), f"{svc.name}: no healthcheck"
    assert cmd_text(hc["test"]) not in ("NONE",), f"{svc.name}: healthcheck NONE"
    assert svc.spec.get("restart") in ("always", "unless-stopped", "on-failure") or \
        str(svc.spec.get("restart", "")).startswith("on-failure"), f"{svc.name}: no restart policy"


@svc_params(AGENTS)
def test_agent_image_has_each_language_tool(svc):
    df = svc.dockerfile
    assert df, f"{svc.name}: no Dockerfile"
    installed = set(df.apt_packages(df.final))
    problems = []
    for lang in svc.languages():
        needs = LANG_PACKAGES.get(lang)
        if needs is None:
            problems.append(f"{lang}: unknown to this test (add its packages to LANG_PACKAGES)")
            continue
        for alts in needs:
            if not installed & set(alts):
                problems.append(f"{lang}: {df.rel} installs none of {list(alts)}")
    if "typescript" in svc.languages():
        if not [d for f, srcs, d in df.copies(df.final) if "runtimes" in d]:
            problems.append(f"typescript: {df.rel} copies no runtimes/ (node_modules/.bin/tsc)")
    assert not problems, f"{svc.name}: " + "; ".join(problems)


# ------------------------------------------------------------------------------------ Dockerfiles
@df_params()
def test_dockerfile_stages(df):
    assert len(df.stages) >= 2, f"{df.rel}: not multi-stage"
    names = {s.name for s in df.stages if s.name}
    builders = df.stages[:-1]
    assert any(s.image == "debian:bookworm" for s in builders), (
        f"{df.rel}: no debian:bookworm builder")
    assert df.final.image == "debian:bookworm-slim", f"{df.rel}: final stage is {df.final.image}"
    for f, srcs, dest in df.copies(df.final):
        assert f is None or f in names, f"{df.rel}: COPY --from={f}: no such stage"
    binary = role_of_dockerfile(df)
    made = [t for s in builders for t in df.make_targets(s)]
    assert f"build/{binary}" in made, (
        f"{df.rel}: no builder stage runs make build/{binary} (made: {made})")
    if binary == AGENT:
        assert "build/sandpit-init" in made, f"{df.rel}: sandpit-init is not built"


@df_params()
def test_dockerfile_make_targets_exist(df):
    """`make -n <target>` knows every target a builder stage makes."""
    for s in df.stages[:-1]:
        for target in df.make_targets(s):
            out = subprocess.run(["make", "-n", "-C", str(ROOT), target], capture_output=True,
                                 text=True, timeout=60)
            if out.returncode != 0 and not (ROOT / target).exists():
                pytest.skip(f"{PurePosixPath(target).name} is not built yet and `make` has no "
                            f"rule for {target}")
            assert out.returncode == 0, f"{df.rel}: `make {target}`: {out.stderr.strip()[-300:]}"


@df_params()
def test_dockerfile_healthcheck(df):
    hc = df.final.last("HEALTHCHECK")
    assert hc and not hc.strip().upper().startswith("NONE"), (
        f"{df.rel}: no HEALTHCHECK in the final stage")
    argv = df.daemon_argv()
    binary = PurePosixPath(argv[0]).name
    flags = daemon_help(binary)[0] if (BUILD_DIR / binary).exists() else None
    pairs = parse_argv(argv[1:], flags)
    if binary == PROXY:
        listen = flag_value(pairs, "--listen", "")
        port = int(listen.rsplit(":", 1)[1]) if ":" in listen else None
    else:
        default = 8001 if binary == AGENT else 6000
        port = int(flag_value(pairs, "--port", default))
    assert port_of(hc) == port, f"{df.rel}: HEALTHCHECK '{hc}' does not probe the CMD's port {port}"
    assert str(port) in " ".join(df.final.all("EXPOSE")).split(), (
        f"{df.rel}: does not EXPOSE {port}")


@df_params()
def test_dockerfile_user(df):
    user = (df.final.last("USER") or "root").split(":")[0]
    binary = role_of_dockerfile(df)
    if binary == AGENT:
        assert user in ("root", "0"), (
            f"{df.rel}: USER {user}: the agent must start as root in the container (uid drop, "
            "namespaces); it runs each execution as nobody")
    else:
        assert user not in ("root", "0"), f"{df.rel}: {binary} needs no root; add a non-root USER"


# Packages every debian:bookworm-slim image already holds (the C library).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1"}


def needed_packages(binary):
    """{soname: {Debian packages holding it on this machine}} for the binary's direct NEEDED
    libraries (readelf -d; dpkg -S)."""
    out = subprocess.run(["readelf", "-d", str(binary)], capture_output=True, text=True,
                         timeout=20)
    sonames = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out.stdout)
    return {so: packages_holding(so) for so in sonames}


@functools.lru_cache(maxsize=None)
def packages_holding(soname):
    r = subprocess.run(["dpkg", "-S", f"*/{soname}"], capture_output=True, text=True, timeout=60)
    return frozenset(line.split(":")[0] for line in r.stdout.splitlines()
                     if re.search(r" /(usr/)?lib/", line))


@df_params()
def test_image_provides_the_binaries_libraries(df):
    """Each binary the final stage runs finds its shared libraries there: the packages that hold
    them on this Debian 12 machine are installed by the Dockerfile (or come with the base)."""
    if not (shutil.which("readelf") and shutil.which("dpkg")):
        pytest.skip("readelf or dpkg is not available here")
    installed = set(df.apt_packages(df.final)) | BASE_IMAGE_PACKAGES
    problems = []
    for name in image_paths(df):
        if name not in DAEMONS and name != "sandpit-init":
            continue
        binary = BUILD_DIR / name
        if not binary.exists():
            pytest.skip(f"{name} is not built yet ({binary} missing)")
        for so, pkgs in needed_packages(binary).items():
            if not pkgs:
                problems.append(f"{name} needs {so}, which no Debian package holds here")
            elif not pkgs & installed:
                problems.append(f"{name} needs {so} ({' or '.join(sorted(pkgs))}), not installed")
    assert not problems, f"{df.rel}: " + "; ".join(problems)


def _ignore_patterns():
    pats = []
    for line in DOCKERIGNORE.read_text().splitlines() if DOCKERIGNORE.exists() else []:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        neg = line.startswith("!")
        p = line[1:] if neg else line
        p = p.strip("/")
        rx = ""
        i = 0
        while i < len(p):
            if p.startswith("**", i):
                rx += ".*"
                i += 2
                if i < len(p) and p[i] == "/":
                    rx = rx[:-2] + "(?:.*/)?"
                    i += 1
            elif p[i] == "*":
                rx += "[^/]*"
                i += 1
            elif p[i] == "?":
                rx += "[^/]"
                i += 1
            else:
                rx += re.escape(p[i])
                i += 1
        pats.append((re.compile(rx + "$"), neg))
    return pats


def dockerignored(rel):
    """Whether .dockerignore keeps `rel` (or a directory above it) out of the context."""
    parts = PurePosixPath(rel).parts
    excluded = False
    for k in range(1, len(parts) + 1):
        prefix = "/".join(parts[:k])
        for rx, neg in _ignore_patterns():
            if rx.match(prefix):
                excluded = not neg
        if excluded:
            return True
    return False


@df_params()
def test_dockerfile_copy_sources_exist(df):
    for s in df.stages:
        for f, srcs, dest in df.copies(s):
            if f is not None:
                continue
            for src in srcs:
                rel = src.strip("/") or "."
                matches = list(ROOT.glob(rel)) if rel != "." else [ROOT]
                assert matches, f"{df.rel}: COPY {src}: not in the repository"
                if rel != ".":
                    assert not dockerignored(rel), (
                        f"{df.rel}: COPY {src}: excluded by .dockerignore")


def test_dockerignore():
    assert DOCKERIGNORE.exists(), ".dockerignore is missing"
    for p in ("build/sandpit-agent", ".git/HEAD", "node_modules/x", "runtimes/node_modules/x"):
        assert dockerignored(p), f".dockerignore does not exclude {p}"
    for p in MAKE_INPUTS + ["runtimes/package.json", "runtimes/package-lock.json"]:
        assert not dockerignored(p), f".dockerignore excludes {p}, which the image builds need"


_MADISON = {}


def bookworm_packages(names):
    """{name: True/False}: whether Debian bookworm's package lists hold `name`."""
    query = set(names)
    if not _MADISON:  # one apt-cache call for every Dockerfile (each call loads the cache)
        query |= {p for d in map(Dockerfile, DOCKERFILES) for st in d.stages
                  for p in d.apt_packages(st)}
    todo = sorted(n for n in query if n not in _MADISON)
    if todo:
        out = subprocess.run(["apt-cache", "madison", *todo], capture_output=True, text=True,
                             timeout=120)
        for n in todo:
            _MADISON[n] = False
        for line in out.stdout.splitlines():
            cols = [c.strip() for c in line.split("|")]
            if len(cols) >= 3 and cols[0] in _MADISON and "bookworm" in cols[2]:
                _MADISON[cols[0]] = True
    return {n: _MADISON[n] for n in names}


@df_params()
def test_dockerfile_apt_packages_exist_in_bookworm(df):
    if not shutil.which("apt-cache"):
        pytest.skip("apt-cache is not available here")
    try:
        release = Path("/etc/debian_version").read_text().strip()
    except OSError:
        release = ""
    if not release.startswith("12"):
        pytest.skip(f"this machine is not Debian 12 (debian_version {release!r}): its apt lists "
                    "say nothing about bookworm")
    pkgs = sorted({p for s in df.stages for p in df.apt_packages(s)})
    assert pkgs, f"{df.rel}: installs no packages"
    missing = [p for p, ok in bookworm_packages(pkgs).items() if not ok]
    assert not missing, f"{df.rel}: not in Debian bookworm: {missing}"


def image_paths(df):
    """{name: path in the image} of what the final stage copies. COPY of a directory copies its
    contents (so the target is the destination itself); a file lands in a destination that
    ends with '/' (or takes several sources) under its own name."""
    files = set(DAEMONS) | {"sandpit-init"}
    out = {}
    for f, srcs, dest in df.copies(df.final):
        for src in srcs:
            base = PurePosixPath(src.rstrip("/")).name
            if base in files and (dest.endswith("/") or len(srcs) > 1):
                out[base] = PurePosixPath(dest) / base
            else:
                out[base] = PurePosixPath(dest.rstrip("/") or "/")
    return out


def agent_argvs(df):
    """The image's own CMD and every compose command that runs this image."""
    return [df.daemon_argv()] + [s.argv for s in AGENTS if s.dockerfile_path == df.path]


def _within(path, roots):
    return any(path == r or r in path.parents for r in roots)


@df_params(is_agent_image)
def test_agent_image_layout(df):
    """The agent finds harness/ in its binary's directory or up to three levels above (or in
    --harness-dir), and sandpit-init next to itself (agent/main.c): the COPY destinations, the
    CMD and the compose command must agree."""
    dests = image_paths(df)
    for name in (AGENT, "sandpit-init", "harness"):
        assert name in dests, f"{df.rel}: the final stage copies no {name}"
    bindir = dests[AGENT].parent
    assert dests["sandpit-init"].parent == bindir, (
        f"{df.rel}: sandpit-init is not next to the agent")
    for argv in agent_argvs(df):
        assert PurePosixPath(argv[0]) == dests[AGENT], (
            f"{df.rel}: {argv[0]} is run but the agent is installed at {dests[AGENT]}")
        harness_dir = flag_value(parse_argv(argv[1:]), "--harness-dir")
        roots = [PurePosixPath(harness_dir)] if harness_dir else [bindir, *list(bindir.parents)[:3]]
        assert dests["harness"].parent in roots, (
            f"{df.rel}: harness/ is at {dests['harness']}, not where the agent looks "
            f"({', '.join(str(r / 'harness') for r in roots)})")
    pkgs = set(df.apt_packages(df.final))
    assert "libpython3.11" in pkgs, f"{df.rel}: the agent links libpython3.11; the image lacks it"


@df_params(serves_typescript)
def test_agent_tools_visible_to_executions(df):
    """tsc runs inside the execution, where the agent covers the directory holding harness/ and
    its own binary directory with an empty tmpfs (sandbox/zygote.c): the --tools-dir (default:
    <harness root>/runtimes/node_modules/.bin) must be installed and lie outside both."""
    dests = image_paths(df)
    hidden = [dests[AGENT].parent, dests["harness"].parent]
    for argv in agent_argvs(df):
        pairs = parse_argv(argv[1:])
        langs = (flag_value(pairs, "--languages") or "").split(",")
        if "typescript" not in langs:
            continue
        tools = PurePosixPath(flag_value(pairs, "--tools-dir") or
                              dests["harness"].parent / "runtimes/node_modules/.bin")
        assert "runtimes" in dests and _within(tools, [dests["runtimes"]]), (
            f"{df.rel}: the agent looks for tsc in {tools}, which the image does not install "
            f"(runtimes/ is at {dests.get('runtimes')})")
        assert not _within(tools, hidden), (
            f"{df.rel}: tools dir {tools} lies under {[str(h) for h in hidden]}, which the agent "
            "hides from executions: tsc would not exist where it runs")


def test_docker_compose_config_when_available():
    docker = shutil.which("docker")
    if not docker:
        pytest.skip("no docker client")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True,
                           timeout=20)
    if probe.returncode != 0:
        pytest.skip("`docker compose` is not available")
    out = subprocess.run([docker, "compose", "-f", str(COMPOSE_FILE), "config", "-q"],
                         capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0, f"docker compose config: {out.stderr.strip()}"


def test_agents_have_disjoint_uid_ranges():
    """Per-user kernel limits are host-wide and each container has its own /run, so the agents'
    range locks cannot keep them apart: each agent service names its own --sandbox-uid-base,
    and the 256 ranges of 8192 uids a base may take never overlap another agent's."""
    span = 256 * 8192
    bases = {}
    for s in AGENTS:
        pairs = parse_argv(s.args)
        base = flag_value(pairs, "--sandbox-uid-base")
        assert base is not None, f"{s.name}: no --sandbox-uid-base (agents would share uids)"
        bases[s.name] = int(base)
    ordered = sorted(bases.items(), key=lambda kv: kv[1])
    for (a, x), (b, y) in zip(ordered, ordered[1:]):
        assert y - x >= span, f"{a} ({x}) and {b} ({y}) overlap: bases must be {span} apart"
    assert min(bases.values()) > 65535, bases
