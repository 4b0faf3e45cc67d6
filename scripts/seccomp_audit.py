#!/usr/bin/env python3
"""The seccomp audit (issue 17 item 4), run by `make test` (tests/e2e/test_seccomp_audit.py).

Two checks against a real agent (started here, as root, from build/):

1. The filter: the BPF program a waiting execution actually runs under is read out of it
   (PTRACE_SECCOMP_GET_FILTER on a warm child) and run here on every syscall number of this
   architecture with a set of argument vectors. What it refuses, and how, must be exactly
   scripts/seccomp_reviewed.tsv: a syscall added to or removed from sandbox/isolate_seccomp.c
   without a reviewed line (with its reason) fails, and so does a line the filter disagrees
   with.
2. Inside an execution: every refused syscall of the table is called (harmless arguments,
   through ctypes) and must fail with the table's errno; io_setup in particular must not
   reserve any of the host-wide fs.aio-max-nr.

Usage: seccomp_audit.py [--agent BIN] [--table TSV] [--dump-bpf FILE] [--bpf FILE]
  --bpf FILE: check a filter dumped earlier instead of starting an agent (the probe is skipped).
Exit 0 when everything matches, 1 with the differences listed otherwise. Stdlib only.
"""
import argparse
import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = ROOT / "scripts" / "seccomp_reviewed.tsv"
AUDIT_ARCH_X86_64 = 0xC000003E
NR_MAX = 1024

SECCOMP_RET_ACTION_FULL = 0xFFFF0000
SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000
ERRNO_NAMES = {1: "EPERM", 38: "ENOSYS", 97: "EAFNOSUPPORT"}


# -- the reviewed table -------------------------------------------------------------------------

def load_table(path):
    """{name: (action, why)} from the TSV (comments and blank lines skipped)."""
    table = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3 or not parts[2].strip():
            raise SystemExit(f"{path}:{n}: want 'name<TAB>action<TAB>why', got {line!r}")
        name, action, why = parts
        if action not in ("EPERM", "ENOSYS", "cond", "allow"):
            raise SystemExit(f"{path}:{n}: unknown action {action!r}")
        if name in table:
            raise SystemExit(f"{path}:{n}: {name} listed twice")
        table[name] = (action, why)
    return table


# -- syscall names (libseccomp's tables, the ones the agent compiled with) ---------------------

class Names:
    def __init__(self):
        lib = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
        self.lib = ctypes.CDLL(lib)
        self.lib.seccomp_syscall_resolve_num_arch.restype = ctypes.c_void_p
        self.lib.seccomp_syscall_resolve_num_arch.argtypes = [ctypes.c_uint32, ctypes.c_int]
        self.lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        self.libc = ctypes.CDLL(None)
        self.libc.free.argtypes = [ctypes.c_void_p]

    def name(self, nr):
        p = self.lib.seccomp_syscall_resolve_num_arch(0, nr)
        if not p:
            return None
        s = ctypes.string_at(p).decode()
        self.libc.free(p)
        return s

    def number(self, name):
        """The syscall's number here, or None when this architecture has none."""
        nr = self.lib.seccomp_syscall_resolve_name(name.encode())
        return nr if nr >= 0 else None


# -- the filter of a live process ---------------------------------------------------------------

PTRACE_DETACH = 17
PTRACE_SEIZE = 0x4206
PTRACE_INTERRUPT = 0x4207
PTRACE_SECCOMP_GET_FILTER = 0x420C
WALL = 0x40000000


def dump_filter(pid):
    """The raw BPF (8-byte instructions) of pid's newest seccomp filter. Root only: the process
    is seized, stopped for the read and detached again (it goes on waiting for its job)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p]

    def pt(req, addr=None, data=None):
        r = libc.ptrace(req, pid, addr, data)
        if r < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"ptrace({req:#x}, {pid}): {os.strerror(e)}")
        return r

    pt(PTRACE_SEIZE)
    try:
        pt(PTRACE_INTERRUPT)
        os.waitpid(pid, WALL)
        n = pt(PTRACE_SECCOMP_GET_FILTER, 0, None)
        buf = ctypes.create_string_buffer(8 * n)
        pt(PTRACE_SECCOMP_GET_FILTER, 0, buf)
        try:  # exactly one filter: the agent's
            pt(PTRACE_SECCOMP_GET_FILTER, 1, None)
            raise SystemExit(f"pid {pid} runs more than one seccomp filter")
        except OSError:
            pass
        return buf.raw
    finally:
        libc.ptrace(PTRACE_DETACH, pid, None, None)


def run_bpf(prog, nr, args, arch=AUDIT_ARCH_X86_64):
    """Classic BPF as seccomp runs it, over struct seccomp_data {nr, arch, ip, args[6]}."""
    data = struct.pack("<iIQ6Q", nr, arch, 0, *[a & (2**64 - 1) for a in args])
    ins = [struct.unpack_from("<HBBI", prog, i) for i in range(0, len(prog), 8)]
    a = x = 0
    mem = [0] * 16
    pc = 0
    while pc < len(ins):
        code, jt, jf, k = ins[pc]
        cls = code & 0x07
        pc += 1
        if cls == 0x00:  # BPF_LD
            mode = code & 0xE0
            if mode == 0x20:  # ABS, W
                a = struct.unpack_from("<I", data, k)[0]
            elif mode == 0x00:  # IMM
                a = k
            elif mode == 0x60:  # MEM
                a = mem[k]
            else:
                raise ValueError(f"unknown BPF load {code:#x}")
        elif cls == 0x01:  # BPF_LDX
            x = k if code & 0xE0 == 0x00 else mem[k]
        elif cls == 0x02:  # BPF_ST
            mem[k] = a
        elif cls == 0x03:  # BPF_STX
            mem[k] = x
        elif cls == 0x04:  # BPF_ALU
            op, src = code & 0xF0, (x if code & 0x08 else k)
            if op == 0x50:
                a &= src
            elif op == 0x40:
                a |= src
            elif op == 0x00:
                a = (a + src) & 0xFFFFFFFF
            elif op == 0x10:
                a = (a - src) & 0xFFFFFFFF
            elif op == 0x60:
                a = (a << src) & 0xFFFFFFFF
            elif op == 0x70:
                a >>= src
            elif op == 0x80:
                a = (-a) & 0xFFFFFFFF
            else:
                raise ValueError(f"unknown BPF alu {code:#x}")
        elif cls == 0x05:  # BPF_JMP
            op, src = code & 0xF0, (x if code & 0x08 else k)
            if op == 0x00:
                pc += k
                continue
            cond = {0x10: a == src, 0x20: a > src, 0x30: a >= src, 0x40: bool(a & src)}.get(op)
            if cond is None:
                raise ValueError(f"unknown BPF jump {code:#x}")
            pc += jt if cond else jf
        elif cls == 0x06:  # BPF_RET
            return a if code & 0x18 == 0x10 else k
        elif cls == 0x07:  # BPF_MISC
            if code & 0xF8 == 0x00:
                x = a
            else:
                a = x
        else:
            raise ValueError(f"unknown BPF class {code:#x}")
    raise ValueError("BPF program fell off its end")


def verdict(ret):
    """'allow', an errno name, or the raw action."""
    if ret & SECCOMP_RET_ACTION_FULL == SECCOMP_RET_ALLOW:
        return "allow"
    if ret & SECCOMP_RET_ACTION_FULL == SECCOMP_RET_ERRNO:
        return ERRNO_NAMES.get(ret & 0xFFFF, f"errno{ret & 0xFFFF}")
    return f"action{ret:#x}"


ARG_VECTORS = ([[0] * 6, [2**64 - 1] * 6, [1] * 6]
               + [[v, 0, 0, 0, 0, 0] for v in range(64)]
               + [[1 << b, 0, 0, 0, 0, 0] for b in range(64)]
               + [[0, v, 0, 0, 0, 0] for v in (1, 2, 17)])


def classify(prog, nr):
    """The filter's action on syscall nr: 'allow', an errno name (whatever the arguments), or
    'cond' (refused for some arguments only)."""
    seen = {verdict(run_bpf(prog, nr, args)) for args in ARG_VECTORS}
    if len(seen) == 1:
        return seen.pop()
    return "cond"


def check_filter(prog, table, names):
    """The differences between the filter and the table, as lines."""
    problems = []
    refused = {}
    for nr in range(NR_MAX):
        name = names.name(nr)
        if name is None:
            continue
        v = classify(prog, nr)
        if v != "allow":
            refused[name] = v
    if verdict(run_bpf(prog, 0, [0] * 6, arch=0x40000003)) == "allow":  # i386
        problems.append("a foreign architecture's syscalls pass the filter")
    for name, v in sorted(refused.items()):
        want = table.get(name, (None,))[0]
        if want is None:
            problems.append(f"{name}: the filter refuses it ({v}) but it has no reviewed line")
        elif want != v:
            problems.append(f"{name}: the filter says {v}, the reviewed table {want}")
    for name, (want, _) in sorted(table.items()):
        if names.number(name) is None:
            continue  # not on this architecture
        got = refused.get(name, "allow")
        if want != got and name not in refused:
            problems.append(f"{name}: the reviewed table says {want}, the filter allows it")
    return problems, refused


# -- inside an execution ------------------------------------------------------------------------

PROBE = r'''
import ctypes, errno, json, os
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
want = input_data["want"]
buf = ctypes.create_string_buffer(4096)
ctx = ctypes.c_ulong(0)
# Harmless arguments; where a real call would succeed without the filter, arguments that make
# it succeed (so a missing rule shows as success, not as some other error).
special = {"io_setup": [1, ctypes.addressof(ctx)], "keyctl": [0, -3, 1],
           "add_key": [b"user", b"sandpit", b"x", 1, -3], "userfaultfd": [1],
           "memfd_secret": [0], "ptrace": [2, 0, 0, 0], "perf_event_open": [0, 0, -1, -1, 0],
           "clone": [0x10000000 | 17, 0, 0, 0, 0]}
out = {}
for name, nr in want.items():
    args = special.get(name, [0, 0, 0, 0, 0, 0])
    args = [ctypes.c_char_p(a) if isinstance(a, bytes) else ctypes.c_long(a) for a in args]
    ctypes.set_errno(0)
    r = libc.syscall(ctypes.c_long(nr), *args)
    out[name] = "ok" if r >= 0 else errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
for fam in (16, 17, 40):   # netlink, packet, vsock
    try:
        import socket
        socket.socket(fam, socket.SOCK_RAW if fam != 40 else socket.SOCK_STREAM).close()
        out["socket(%d)" % fam] = "ok"
    except OSError as e:
        out["socket(%d)" % fam] = errno.errorcode.get(e.errno, str(e.errno))
out["aio-nr"] = open("/proc/sys/fs/aio-nr").read().strip()
print(json.dumps(out))
'''


def probe_inside(url, table, names):
    """Runs PROBE in an execution; the differences as lines."""
    want = {n: names.number(n) for n, (a, _) in table.items()
            if a in ("EPERM", "ENOSYS") and names.number(n) is not None}
    want["clone"] = names.number("clone")
    body = json.dumps({"code": PROBE, "timeout": 30, "input_data": {"want": want}}).encode()
    req = urllib.request.Request(url + "/execute", body, {"Content-Type": "application/json"})
    res = json.load(urllib.request.urlopen(req, timeout=60))
    if res.get("status") != "completed":
        return [f"the probe execution did not complete: {res.get('status')} {res.get('error')} "
                f"{res.get('stderr', '')[-500:]}"]
    got = json.loads(res["stdout"].strip().splitlines()[-1])
    problems = []
    for name, nr in want.items():
        expect = "EPERM" if name == "clone" else table[name][0]
        if got.get(name) != expect:
            problems.append(f"inside an execution {name}() gave {got.get(name)}, want {expect}")
    for fam in (16, 17, 40):
        if got.get(f"socket({fam})") != "EAFNOSUPPORT":
            problems.append(f"inside an execution socket({fam}) gave {got.get(f'socket({fam})')}")
    return problems


# -- an agent of our own ------------------------------------------------------------------------

class Agent:
    def __init__(self, binary):
        self.dir = Path(tempfile.mkdtemp(prefix="seccomp-audit-"))
        self.log = open(self.dir / "agent.log", "wb")
        args = [str(binary), "--host", "127.0.0.1", "--port", "0",
                "--port-file", str(self.dir / "port"), "--work-dir", str(self.dir / "work"),
                "--state-dir", str(self.dir / "state"), "--harness-dir", str(ROOT),
                "--warm-pool", "2", "--preload", ""]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SANDPIT_")}
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.url = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise SystemExit("the agent exited at start:\n" + self.log_text())
            try:
                port = (self.dir / "port").read_text().strip()
                if port:
                    self.url = f"http://127.0.0.1:{port}"
                    if self.health().get("zygote", {}).get("state") == "ready":
                        return
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        raise SystemExit("the agent did not become ready:\n" + self.log_text())

    def health(self):
        return json.load(urllib.request.urlopen(self.url + "/health", timeout=10))

    def log_text(self):
        return (self.dir / "agent.log").read_text(errors="replace")[-3000:]

    def warm_child(self):
        """A warm child that has loaded its filter (Seccomp: 2 in its status)."""
        zpid = self.health()["zygote"]["pid"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            for d in os.listdir("/proc"):
                if not d.isdigit():
                    continue
                try:
                    status = Path(f"/proc/{d}/status").read_text()
                except OSError:
                    continue
                fields = dict(l.split(":", 1) for l in status.splitlines() if ":" in l)
                if (int(fields.get("PPid", "0")) == zpid and fields.get("Seccomp", "").strip() == "2"
                        and fields.get("Name", "").strip() != "sandpit-init"):
                    return int(d)
            time.sleep(0.1)
        raise SystemExit("no warm child with a seccomp filter appeared")

    def stop(self):
        try:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--agent", default=str(Path(os.environ.get("SANDPIT_BUILD_DIR")
                                                 or ROOT / "build") / "sandpit-agent"))
    ap.add_argument("--table", default=str(TABLE))
    ap.add_argument("--dump-bpf", help="write the live filter's BPF here")
    ap.add_argument("--bpf", help="check this dumped BPF instead of a live agent's")
    opts = ap.parse_args(argv)
    table = load_table(opts.table)
    names = Names()
    problems = []
    if opts.bpf:
        prog = Path(opts.bpf).read_bytes()
    else:
        if os.geteuid() != 0:
            raise SystemExit("seccomp_audit needs root (the agent drops privileges, ptrace)")
        agent = Agent(opts.agent)
        try:
            off = {k: v for k, v in agent.health()["isolation"].items() if not v.get("on")}
            if "seccomp" in off:
                raise SystemExit(f"the agent's seccomp layer is off: {off['seccomp']}")
            prog = dump_filter(agent.warm_child())
            problems += probe_inside(agent.url, table, names)
        finally:
            agent.stop()
        if opts.dump_bpf:
            Path(opts.dump_bpf).write_bytes(prog)
    fp, refused = check_filter(prog, table, names)
    problems = fp + problems
    print(f"seccomp audit: {len(prog) // 8} BPF instructions; refused: "
          + ", ".join(f"{n}={v}" for n, v in sorted(refused.items())))
    for p in problems:
        print("DRIFT: " + p)
    print("seccomp audit: " + ("OK" if not problems else f"{len(problems)} difference(s)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
