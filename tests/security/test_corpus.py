"""The hostile-code corpus (issue 7): every program in programs/ runs through one agent with
small limits, its outcome is checked against the table below, then the four post-conditions:

1. the agent answers /health, its zygote is the same process (no restart);
2. no process of the execution remains: none carries the marker in argv or comm, and the
   zygote's tree is exactly its warm pool (2 children per warm slot, nothing deeper);
3. nothing outside the working directory changed: the canary files (world-writable, one on the
   root filesystem and one in the host's /tmp), /etc/passwd & co., core_pattern, the hostname,
   and no file named after the marker appeared in /tmp, /var/tmp, /dev/shm, /etc, ...;
4. the next ordinary execution (`print(6*7)`) is correct.

Programs print "CONTAINED: ..." for each attempt that was refused and "BREACH: ..." for each
that succeeded; "BREACH" anywhere in the output fails the test.
"""
import base64
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from sec_helpers import (SECRET2_VALUE, SECRET_VALUE, SMALL_LIMITS, child_pids, describe_tree,
                         execute, idle_tree_ok, load_program, new_marker,
                         pids_with_marker, proc_rss_kb, program_names, wait_until)

CUT = "<output cut>"
T_HANG = 2.0   # timeout for programs expected to run into their deadline
T_RUN = 10.0   # timeout for programs expected to finish by themselves
T_SLOW = 30.0  # ... and for those whose many forks a loaded 2-core machine makes slow
T_FLOOD = 5.0  # a flood must have started and filled its caps before its deadline (10 at once)


def _nothing_after_claim(res, ctx):
    assert res["stdout"] == "before the claim\n", res["stdout"]


def _control_socket_error(res, ctx):
    assert "control socket" in (res["error"] or ""), res


def _memory_error(res, ctx):
    assert res["status"] == "failed", res
    assert res["exit_reason"] in ("exited", "oom", "signaled"), res
    if res["exit_reason"] == "exited":
        assert "MemoryError" in (res["error"] or ""), res
    assert res["exit_reason"] != "signaled" or res["signal"] == 9, res


def _flood(streams):
    def check(res, ctx):
        cap = SMALL_LIMITS["max_output_bytes"]
        assert res["status"] in ("timeout", "failed"), res["status"]
        assert res["truncated"] is True
        for s in streams:
            text = res[s]
            assert res[s + "_truncated"] is True, s
            assert text.endswith(CUT), (s, text[-80:])
            # the cap counts bytes; the agent may re-encode invalid UTF-8, so allow slack
            assert len(text.encode()) <= 4 * cap + len(CUT) + 8, (s, len(text))
    return check


def _huge_argv(res, ctx):
    # execve refuses a 20 MB argv with E2BIG; under a memory cgroup the kernel may run out of
    # memory copying the strings first and answer ENOMEM: refused either way, the program goes on.
    assert ("CONTAINED: huge argv: E2BIG" in res["stdout"]
            or "CONTAINED: huge argv: ENOMEM" in res["stdout"]), res["stdout"][-1000:]


def _or_deadline(text):
    """The program prints text, or meets its deadline first. What such a program attacks is
    judged by the post-conditions (nothing left behind, the agent unharmed); how fast it gets
    through many forks is up to the machine's load (a loaded 2-core machine outlasts the
    deadline), and the zygote's timeout ends the namespace, which contains it the same way. A
    breach would print at once, not time out."""
    def check(res, ctx):
        if res["status"] == "timeout":
            assert res["exit_reason"] == "timeout", res
        else:
            assert text in res["stdout"], (text, res["stdout"][-500:])
    return check


def _disk_fill(res, ctx):
    line = [l for l in res["stdout"].splitlines() if l.startswith("WRITTEN_MIB=")]
    assert line, res["stdout"]
    assert int(line[0].split("=")[1]) <= SMALL_LIMITS["disk_mb"], line


def _fast(limit_s):
    def check(res, ctx):
        assert res["execution_time"] < limit_s, res["execution_time"]
    return check


def _limits(res, ctx):
    want = "LIMITS mem_mb=%d pids=%d " % (SMALL_LIMITS["memory_mb"], SMALL_LIMITS["pids_limit"])
    assert want in res["stdout"], (
        f"the execution runs in a cgroup whose limits are not its agent's: wanted {want!r}, "
        f"got {res['stdout']!r}")


def _sandbox_uid(prefix):
    """The program printed '<prefix><uid>': a uid of the agent's per-slot range (issue 17 item
    5: --sandbox-uid-base, 2000000 by default), never root nor a shared system account."""
    def check(res, ctx):
        line = [l for l in res["stdout"].splitlines() if l.startswith(prefix)]
        assert line, (prefix, res["stdout"][-500:])
        uid = int(line[-1][len(prefix):].split()[0])
        assert uid >= 2000000, f"runs as uid {uid}, not one of the per-slot range"
    return check


def _disk_sum(res, ctx):
    line = [l for l in res["stdout"].splitlines() if l.startswith("TOTAL_MIB=")]
    assert line, res["stdout"]
    limit = ctx.get("disk_mb", SMALL_LIMITS["disk_mb"])
    assert int(line[0].split("=")[1]) <= limit, (line, limit)


def _agent_rss_flat(res, ctx):
    grown = proc_rss_kb(ctx["agent"].pid) - ctx["rss_before"]
    assert grown < 64 * 1024, f"agent RSS grew by {grown} KiB"


def _agent_rss_within(limit_kb):
    def check(res, ctx):
        grown = proc_rss_kb(ctx["agent"].pid) - ctx["rss_before"]
        assert grown < limit_kb, f"agent RSS grew by {grown} KiB (limit {limit_kb} KiB)"
    return check


def _crash_or_recursion_error(res, ctx):
    # The C stack (SIGSEGV) or the memory limit (CPython reports a failed frame allocation as
    # MemoryError or SystemError) runs out first, depending on the layout; either way the error
    # is the program's own, never the harness's (exit code 70, InternalError).
    own_error = (res["error"] or "").startswith(("RecursionError", "MemoryError", "SystemError"))
    assert (res["exit_reason"] == "exited" and res["exit_code"] == 1 and own_error
            or res["exit_reason"] == "signaled" and res["signal"] == 11
            or res["exit_reason"] == "oom"), res


def _nothing_unexpected(res, ctx):
    assert "UNEXPECTED" not in res["stdout"], res["stdout"]


def _session_files_untouched(results, ctx):
    """90: the other session's workspace holds only its secret, and the agent's files API does
    not follow the attacker's symlink to it."""
    ag, other, me = ctx["agent"], ctx["other"], ctx["attacker"]
    st, body, _ = ag.get(f"/sessions/{other}/files?path=")
    assert st == 200 and [e["name"] for e in body["entries"]] == ["secret.txt"], body
    st, body, _ = ag.get(f"/sessions/{me}/files/to_other/secret.txt")
    assert 400 <= st < 500 and ctx["secret"] not in str(body), (st, body)


def _session_nothing_on_host(results, ctx):
    """95: no file of the marker in the agent's work directory or above it, on the host."""
    work = ctx["agent"].work_dir
    for d in (work, work.parent):
        assert not (d / ctx["marker"]).exists(), f"{d / ctx['marker']} exists on the host"


def _session_fake_done(results, ctx):
    """92: the cell ran to its end (its last line is there), or the session was killed for
    its fakes; never "completed" with its output cut short."""
    res = results[-1]
    if res["status"] == "completed":
        assert "still running after the fakes" in res["stdout"], res["stdout"]
    else:
        st, body, _ = ctx["agent"].get(f"/sessions/{ctx['attacker']}")
        assert st == 410 or body["state"] == "dead", (st, body)


RESTRICTED = {"policy": "restricted"}

# name -> expectation. Keys: status (str or tuple), exit_reason, exit_code, signal, stdout
# (substrings required), timeout, check (extra callable(res, ctx)), fields (extra request
# fields, e.g. the restricted policy).
EXPECT = {
    "01_fork_bomb": dict(status="timeout", exit_reason="timeout", timeout=T_HANG),
    "02_shell_fork_bomb": dict(status="timeout", exit_reason="timeout", stdout=["starting"],
                               timeout=T_HANG),
    "03_thread_bomb": dict(status="completed", stdout=["CONTAINED: thread"]),
    "04_memory_list": dict(check=_memory_error),
    "05_memory_bytearray": dict(check=_memory_error),
    "06_memory_numpy": dict(check=_memory_error),
    "07_memory_mmap": dict(check=_memory_error, stdout=["CONTAINED: 1 TiB mmap refused"]),
    "08_memory_fork_bomb": dict(status=("completed", "failed", "timeout"),
                                check=_or_deadline("CONTAINED"), timeout=T_SLOW),
    "09_disk_fill": dict(status="completed", stdout=["CONTAINED: ENOSPC"], check=_disk_fill),
    "10_shm_fill": dict(status="completed", stdout=["CONTAINED: /dev/shm filled",
                                                    "CONTAINED: /tmp filled"]),
    "11_stdout_flood": dict(timeout=T_FLOOD, check=_flood(["stdout"])),
    "12_stderr_flood": dict(timeout=T_FLOOD, check=_flood(["stderr"])),
    "13_both_flood": dict(timeout=T_FLOOD, check=_flood(["stdout", "stderr"])),
    "14_flood_no_newline": dict(timeout=T_FLOOD, check=_flood(["stdout"])),
    "15_binary_flood": dict(timeout=T_FLOOD, check=_flood(["stdout", "stderr"])),
    "16_infinite_loop": dict(status="timeout", exit_reason="timeout", stdout=["looping"],
                             timeout=T_HANG),
    "17_c_infinite_loop": dict(status="timeout", exit_reason="timeout",
                               stdout=["entering C loop"], timeout=T_HANG),
    "18_c_sleep_forever": dict(status="timeout", exit_reason="timeout", stdout=["sleeping in C"],
                               timeout=T_HANG),
    "19_setsid_double_fork": dict(status="completed", stdout=["escapees started"],
                                  check=_fast(5.0)),
    "20_orphan_exits_first": dict(status="completed", exit_code=0, stdout=["still alive"]),
    "21_orphan_holds_stdout": dict(status="completed", stdout=["main done"], check=_fast(5.0)),
    "22_kill_all": dict(status="completed", stdout=["CONTAINED: survived kill(-1); 3 of 3"]),
    "23_kill_parent": dict(status="failed", exit_reason="signaled", signal=9, stdout=["ppid 0"]),
    "24_signal_agent_by_pid": dict(status="completed", stdout=["CONTAINED: kill(1, 9): EPERM",
                                                               "done"]),
    "25_read_shadow": dict(status="completed", stdout=["CONTAINED: /etc/shadow"],
                           check=_sandbox_uid("uid ")),
    "26_proc_agent": dict(status="completed", stdout=["CONTAINED: no secret in any environ"]),
    "27_write_outside": dict(status="completed", stdout=["CONTAINED: append /etc/passwd", "done"]),
    "28_symlink_tricks": dict(status="completed", stdout=["CONTAINED: write through symlink pw",
                                                          "done"]),
    "29_hardlink_tricks": dict(status="completed", stdout=["CONTAINED: link /etc/passwd", "done"]),
    "30_dev_access": dict(status="completed", stdout=["CONTAINED: mknod mem", "done"]),
    "31_ptrace": dict(status="completed", stdout=["CONTAINED: traceme: EPERM", "continued"]),
    "32_mount": dict(status="completed", stdout=["CONTAINED: mount tmpfs: EPERM", "continued"]),
    "33_namespaces": dict(status="completed", stdout=["CONTAINED: unshare(CLONE_NEWUSER): EPERM",
                                                      "CONTAINED: clone(CLONE_NEWUSER)",
                                                      "continued"]),
    "34_setns": dict(status="completed", stdout=["CONTAINED: setns(mnt): EPERM",
                                                 "hostname sandpit"]),
    "35_bpf_and_privileged_syscalls": dict(status="completed",
                                           stdout=["CONTAINED: bpf: EPERM", "continued"]),
    "36_foreign_abi_syscalls": dict(status="completed", stdout=["continued"]),
    "37_connect_agent_port": dict(status="completed", stdout=["ECONNREFUSED", "done"]),
    "38_connect_external": dict(status="completed",
                                stdout=["CONTAINED: tcp 1.1.1.1:53", "CONTAINED: AF_PACKET raw: EAFNOSUPPORT",
                                        "CONTAINED: AF_NETLINK route: EAFNOSUPPORT", "done"]),
    "39_dns": dict(status="completed", stdout=["CONTAINED: getaddrinfo(example.com)"]),
    "40_many_files": dict(status="completed", stdout=["CONTAINED: EMFILE",
                                                      "CONTAINED: raise RLIMIT_NOFILE"]),
    "41_deep_recursion": dict(status="failed", check=_crash_or_recursion_error),
    "42_close_std_fds": dict(status="failed", exit_reason="exited", exit_code=5,
                             stdout=["before close"]),
    "43_dup_std_fds": dict(status="failed", exit_reason="exited", exit_code=4),
    "44_huge_argv_env": dict(status="completed", stdout=["continued"], check=_huge_argv),
    "45_setuid_binaries": dict(status="completed", stdout=["CONTAINED: /usr/bin/su"],
                               check=_sandbox_uid("euid ")),
    "46_ld_preload": dict(status="completed", stdout=["child: child ran"]),
    "47_setrlimit": dict(status="completed", stdout=["CONTAINED: RLIMIT_AS", "continued"]),
    "48_forge_result_frame": dict(status="failed", exit_reason="exited", exit_code=7),
    "49_forge_exit_reason": dict(status="failed", exit_reason="exited", exit_code=3),
    "50_flood_result_fd": dict(status="completed", exit_code=0, stdout=["flooded"],
                               check=_agent_rss_flat),
    "51_sigstop_self": dict(status="timeout", exit_reason="timeout", stdout=["stopping"],
                            timeout=T_HANG),
    "52_segfault": dict(status="failed", exit_reason="signaled", signal=11),
    "53_zombie_army": dict(status=("completed", "timeout"),
                           check=_or_deadline("zombies and sleepers left behind"), timeout=T_SLOW),
    "54_cgroup_escape": dict(status="completed", stdout=["CONTAINED: write /sys/fs/cgroup/pids/"
                                                         "cgroup.procs", "done"]),
    "55_proc_sys_writes": dict(status="completed", stdout=["CONTAINED: /proc/sys/kernel/"
                                                           "core_pattern", "done"]),
    "56_multiprocessing_burn": dict(status="timeout", exit_reason="timeout", stdout=["burning"],
                                    timeout=T_HANG),
    "57_tty_injection": dict(status="completed", stdout=["CONTAINED: open /dev/tty"]),
    "58_inherited_fds": dict(status="completed",
                             stdout=["CONTAINED: only fds 0-3 and the control socket 4 open"]),
    "59_cross_execution": dict(status="completed", stdout=["probe done"]),
    "60_cgroup_limits": dict(status="completed", check=_limits),
    # issue 17 (wt-sandbox): terminals, host-wide resources, per-uid limits, disk sum, RNG
    "70_pty_sharing": dict(status="completed", stdout=["CONTAINED: /dev/pts holds only ptmx",
                                                       "CONTAINED: no foreign pty to open",
                                                       "pty.fork: works",
                                                       "CONTAINED: pty limit after",
                                                       "probe done"]),
    "71_aio_exhaust": dict(status="completed", stdout=["CONTAINED: io_setup: EPERM",
                                                       "CONTAINED: fs.aio-nr unchanged",
                                                       "CONTAINED: add_key: EPERM",
                                                       "CONTAINED: memfd_secret: EPERM",
                                                       "continued"]),
    "72_per_uid_limits": dict(status="completed",
                              stdout=["CONTAINED: inotify instances stop at", "hog holding",
                                      "done"], check=_sandbox_uid("uid ")),
    "73_disk_sum": dict(status="completed", stdout=["TOTAL_MIB="], check=_disk_sum),
    "74_rng_state": dict(status="completed", stdout=["RNG {"]),
    # issue 17 item 1: the restricted policy's escapes; `fields` are added to the request
    "61_policy_code_loader": dict(status="completed", fields=RESTRICTED, stdout=[
        "CONTAINED: numpy.compat.py3k.npy_load_module", "CONTAINED: getattr(numpy, 'compat')",
        "done"], check=_nothing_unexpected),
    "62_policy_program_path": dict(status="completed", fields=RESTRICTED, stdout=[
        "CONTAINED: rcParams[ffmpeg_path]", "CONTAINED: rcParams.update",
        "CONTAINED: rc(ffmpeg_args)", "CONTAINED: dict.__setitem__ then saving",
        "CONTAINED: module:// backend", "CONTAINED: no shell ran"], check=_nothing_unexpected),
    "63_policy_match_args": dict(status="completed", fields=RESTRICTED, stdout=[
        "CONTAINED: make_dataclass namespace subclass",
        "CONTAINED: positional pattern on a gi_frame field"], check=_nothing_unexpected),
    "64_policy_variants": dict(status="completed", fields=RESTRICTED, stdout=[
        "CONTAINED: getattr with a lying str", "CONTAINED: Enum from a lying str",
        "CONTAINED: DataFrame.apply('eval')", "CONTAINED: pandas.read_pickle",
        "CONTAINED: numpy.load(allow_pickle=True)", "CONTAINED: no pickle ran"],
        check=_nothing_unexpected),
    "85_result_memory_amplifier": dict(status="completed", exit_code=0,
                                       stdout=["CONTAINED: writing"],
                                       check=_agent_rss_flat),
    "80_wildcard_internal": dict(status="completed", timeout=30,
                                 fields={"scenario": {"allowHosts": ["*"]}},
                                 stdout=["CONTAINED: 127.0.0.1:", "CONTAINED: 127.1:",
                                         "CONTAINED: [::ffff:127.0.0.1]:", "CONTAINED: 10.0.0.1",
                                         "CONTAINED: 100.64.0.1", "CONTAINED: [fd00::1]",
                                         "CONTAINED: CONNECT", "done"]),
    "81_agent_api_needs_token": dict(status="completed", timeout=30,
                                     fields={"scenario": {"allowHosts": ["127.0.0.1"]}},
                                     stdout=["CONTAINED: GET /executions (token None): 401",
                                             "CONTAINED: POST /execute (token 'guess'): 401",
                                             "health open, auth token", "done"]),
    "82_proxy_tiny_segments": dict(status="completed", timeout=30, stdout=["done"],
                                   fields={"scenario": {"allowHosts": ["127.0.0.1"],
                                                        "networkLatencyMs": 60000,
                                                        "toxicDirection": "upstream"}},
                                   check=_agent_rss_within(5 * 4096)),
    # issue 18: the end message a Python execution's child sends the zygote (answered before
    # the teardown): claimed early, it ends the program there; anything else on the socket
    # kills it.
    "97_forge_end_message": dict(status="completed", exit_code=0, exit_reason="exited",
                                 stdout=["before the claim"], check=_nothing_after_claim),
    "98_control_socket_junk": dict(status="failed", exit_reason="signaled", signal=9,
                                   stdout=["flooding"], check=_control_socket_error),
    # issue 14: programs run as cells of a session (test_session_corpus.py runs them: a
    # witness session and another session beside; `cells` are the cells of the attacking
    # session, each with its role (input_data), status and timeout; `after` is the attacking
    # session's state after its last cell: "alive", or "either" (dead with a reason is
    # containment too; later cells are then not run).
    "90_session_other_workspace": dict(session=True, cells=[dict(status="completed")],
                                       after="alive", check=_session_files_untouched, stdout=[
                                           "CONTAINED: host path of the other workspace",
                                           "CONTAINED: no /proc/<pid>/cwd or root",
                                           "CONTAINED: write into the other workspace",
                                           "CONTAINED: no /tmp/", "probe done"]),
    "91_session_lingering_process": dict(session=True, after="alive", cells=[
        dict(role="spawn", status="completed"), dict(role="check", status="completed")],
        stdout=["spawned 4", "CONTAINED: nothing the last cell started runs"]),
    "92_session_fake_done": dict(session=True, after="either", cells=[
        dict(status=("completed", "failed"))], stdout=["faking"], check=_session_fake_done),
    "93_session_kill_init": dict(session=True, after="alive", cells=[
        dict(role="attack", status="completed"), dict(role="check", status="completed")],
        stdout=["CONTAINED: survived; 3 of 3", "CONTAINED: the session still runs cells"]),
    "94_session_fork_bomb": dict(session=True, after="either", cells=[
        dict(role="bomb", status=("timeout", "failed"), timeout=T_HANG),
        dict(role="check", status="completed")]),
    # attack_from "fork": the attacking session is a fork of the other session.
    "96_session_signal_family": dict(session=True, after="alive", attack_from="fork", cells=[
        dict(status="completed")], stdout=["probe done"],
        # The documented limit of a family (docs/sessions.md "A family"): a fork shares its
        # parent's PID namespace and uid (an unprivileged process cannot give its copy others),
        # so it can signal its parent. Families, and executions, cannot reach each other.
        xfail="documented limit: a fork shares its parent's PID namespace and uid, so its cell "
              "can signal the parent session's process"),
    "95_session_write_outside": dict(session=True, after="alive", cells=[
        dict(status="completed")], check=_session_nothing_on_host, stdout=[
        "CONTAINED: write /etc/passwd", "CONTAINED: write /var/tmp/", "family /tmp ok"]),
}


def test_table_covers_every_program():
    names = program_names()
    assert len(names) >= 40, names
    assert sorted(EXPECT) == names, set(EXPECT) ^ set(names)
    for n in names:
        src = load_program(n)
        assert src.lstrip().startswith('"""Attacks'), f"{n}: docstring must say what it attacks"
        assert "Expected containment" in src, f"{n}: docstring must state the containment"


# -- running and checking ------------------------------------------------------------------

class Ctx(dict):
    pass


def host_pids(agent):
    h = agent.health()
    z = h["zygote"]["pid"]
    return [agent.pid, z] + child_pids(z)


def base_input(agent, host, marker):
    data = {"marker": marker, "agent_port": agent.port, "host_pids": host_pids(agent),
            "secrets": [SECRET_VALUE, SECRET2_VALUE]}
    data.update(host.input_data())
    return data


def check_outcome(name, res, ctx):
    exp = EXPECT[name]
    out = res.get("stdout") or ""
    err = res.get("stderr") or ""
    assert "BREACH" not in out and "BREACH" not in err, \
        f"{name}: containment failure:\n{out[-3000:]}\n{err[-2000:]}"
    st = exp.get("status")
    if st is not None:
        st = (st,) if isinstance(st, str) else st
        assert res["status"] in st, (name, res["status"], res["error"], out[-500:], err[-500:])
    for key in ("exit_reason", "exit_code", "signal"):
        if key in exp:
            assert res[key] == exp[key], (name, key, res[key], exp[key], res["error"])
    for s in exp.get("stdout", []):
        assert s in out, (name, s, out[-2000:], err[-1000:])
    if exp.get("check"):
        exp["check"](res, ctx)


def check_after(agent, host, marker, zygote_before, restarts_before):
    """The four post-conditions."""
    assert agent.proc.poll() is None, f"the agent died (rc {agent.proc.returncode})"
    h = agent.health()
    assert h["zygote"]["pid"] == zygote_before, ("the zygote was replaced", h["zygote"])
    assert h["zygote"]["restarts"] == restarts_before, h["zygote"]
    assert h["zygote"]["state"] == "ready", h["zygote"]
    # 2. no process left
    left = wait_until(lambda: not pids_with_marker(marker), 5)
    assert left, f"processes with marker {marker} left: {pids_with_marker(marker)}"
    warm = int(h.get("warm_pool", {}).get("size", 0))
    ok = wait_until(lambda: idle_tree_ok(agent, zygote_before, warm), 10)
    assert ok, f"zygote tree is not just its warm pool ({warm}):\n{describe_tree(zygote_before)}"
    # 3. nothing outside the working directory changed
    assert host.changes(marker) == []
    # 4. an ordinary execution is still correct
    res = execute(agent, "print(6*7)", timeout=10)
    assert res["status"] == "completed" and res["stdout"] == "42\n", res


def run_program(agent, host, name, marker=None, extra_input=None, **fields):
    marker = marker or new_marker()
    exp = EXPECT[name]
    data = base_input(agent, host, marker)
    data.update(extra_input or {})
    fields = {**exp.get("fields", {}), **fields}
    res = execute(agent, load_program(name), timeout=exp.get("timeout", T_RUN),
                  input_data=data, **fields)
    return res, marker


@pytest.fixture(scope="module")
def zygote_baseline(small_agent):
    h = small_agent.health()
    return h["zygote"]["pid"], h["zygote"]["restarts"]


def test_isolation_layers_all_on(small_agent):
    """Dangerous programs only run when every layer is on."""
    h = small_agent.health()
    off = {k: v for k, v in h["isolation"].items() if not v.get("on")}
    assert not off, f"isolation layers off: {off}"
    assert h["zygote"].get("pid_namespace") is True, h["zygote"]


@pytest.mark.parametrize("name", sorted(n for n, e in EXPECT.items() if not e.get("session")))
def test_hostile_program(name, small_agent, host, zygote_baseline):
    h = small_agent.health()
    if any(not v.get("on") for v in h["isolation"].values()) or not h["zygote"].get("pid_namespace"):
        pytest.fail(f"isolation incomplete, hostile program not run: {h['isolation']}")
    ctx = Ctx(agent=small_agent, rss_before=proc_rss_kb(small_agent.pid))
    res, marker = run_program(small_agent, host, name)
    try:
        check_outcome(name, res, ctx)
    finally:
        check_after(small_agent, host, marker, *zygote_baseline)


# -- scenarios needing more than one execution or agent ----------------------------------------

PRELOAD_C = r"""
#include <stdio.h>
#include <unistd.h>
__attribute__((constructor)) static void hijack(void)
{
    static const char msg[] = "PRELOAD-HIJACK\n";
    (void)!write(2, msg, sizeof(msg) - 1);
}
"""


def _build_preload(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc")
    if not cc:
        return None
    src = tmp_path / "hijack.c"
    so = tmp_path / "hijack.so"
    src.write_text(PRELOAD_C)
    r = subprocess.run([cc, "-shared", "-fPIC", "-o", str(so), str(src)], capture_output=True)
    return so.read_bytes() if r.returncode == 0 else None


def _environ_of(pid):
    try:
        return open(f"/proc/{pid}/environ", "rb").read()
    except OSError:
        return b""


def test_ld_preload_in_env_stays_in_its_execution(small_agent, host, tmp_path, zygote_baseline):
    so = _build_preload(tmp_path)
    marker = new_marker()
    path = f"/dev/shm/{marker}.so"
    extra = {"preload_so_b64": base64.b64encode(so).decode() if so else ""}
    res, _ = run_program(small_agent, host, "46_ld_preload", marker=marker, extra_input=extra,
                         env={"LD_PRELOAD": path})
    check_outcome("46_ld_preload", res, Ctx(agent=small_agent))
    if so:  # its own subprocess was hijacked: that is allowed, and proves the preload works
        assert "PRELOAD-HIJACK" in res["stdout"] + res["stderr"], res
    # later executions, the agent and the zygote never see it
    code = ("import os, subprocess\n"
            "print('LD_PRELOAD' in os.environ)\n"
            "r = subprocess.run(['/bin/echo', 'x'], capture_output=True, text=True)\n"
            "print(repr(r.stdout + r.stderr))\n"
            f"print(os.path.exists({path!r}))\n")
    for _ in range(3):  # through more than one warm child
        res2 = execute(small_agent, code, timeout=10)
        assert res2["status"] == "completed", res2
        assert res2["stdout"] == "False\n'x\\n'\nFalse\n", res2
        assert "PRELOAD-HIJACK" not in res2["stderr"], res2
    z = small_agent.health()["zygote"]["pid"]
    for pid in [small_agent.pid, z] + child_pids(z):
        assert b"LD_PRELOAD" not in _environ_of(pid), pid
    check_after(small_agent, host, marker, *zygote_baseline)


def test_cross_execution_isolation(small_agent, host, zygote_baseline):
    """Two executions at once: the second finds nothing the first planted."""
    marker = new_marker()
    with ThreadPoolExecutor(2) as pool:
        plant = pool.submit(run_program, small_agent, host, "59_cross_execution", marker,
                            {"role": "plant", "hold": 2.5})
        time.sleep(0.8)  # the plant is listening by now
        probe_res, _ = run_program(small_agent, host, "59_cross_execution", marker,
                                   {"role": "probe"})
        plant_res, _ = plant.result()
    assert plant_res["status"] == "completed" and "planted shm" in plant_res["stdout"], plant_res
    check_outcome("59_cross_execution", probe_res, Ctx())
    assert probe_res["stdout"].count("CONTAINED") == 5, probe_res["stdout"]
    check_after(small_agent, host, marker, *zygote_baseline)


CONCURRENT = ["01_fork_bomb", "04_memory_list", "11_stdout_flood", "16_infinite_loop",
              "19_setsid_double_fork", "22_kill_all", "27_write_outside",
              "37_connect_agent_port", "48_forge_result_frame", "52_segfault"]


def _run_at_once(agent, host, baseline, names):
    """names start together (a barrier); every outcome and the four post-conditions judged.
    The wall time is printed, not bounded: on a loaded 2-core machine it says nothing."""
    barrier = threading.Barrier(len(names))

    def one(name):
        barrier.wait()
        res, marker = run_program(agent, host, name)
        return name, res, marker

    t0 = time.monotonic()
    with ThreadPoolExecutor(len(names)) as pool:
        results = list(pool.map(one, names))
    print(f"{len(names)} hostile programs at once: {time.monotonic() - t0:.1f} s")
    errors = []
    for name, res, _ in results:
        try:
            check_outcome(name, res, Ctx(agent=agent, rss_before=0))
        except AssertionError as e:
            brief = {k: res.get(k) for k in ("execution_id", "status", "exit_reason", "exit_code",
                                               "signal", "error", "execution_time")}
            errors.append(f"{name}: {e}\n    result: {brief}\n    stdout: {res['stdout'][:300]!r}"
                          f"\n    stderr: {res['stderr'][-300:]!r}")
    for _, _, marker in results:
        check_after(agent, host, marker, *baseline)
    assert not errors, "\n".join(errors)


def test_ten_hostile_programs_at_once(small_agent, host, zygote_baseline):
    assert len(CONCURRENT) == 10
    _run_at_once(small_agent, host, zygote_baseline, CONCURRENT)


# Issue 17 (containment II): what the outside red team got through, ten at once. Programs whose
# check compares the agent's RSS to a baseline (82, 85) run alone, above.
CONCURRENT_II = ["61_policy_code_loader", "62_policy_program_path", "63_policy_match_args",
                 "64_policy_variants", "70_pty_sharing", "71_aio_exhaust", "72_per_uid_limits",
                 "73_disk_sum", "80_wildcard_internal", "81_agent_api_needs_token"]


def test_ten_containment_ii_programs_at_once(small_agent, host, zygote_baseline):
    assert len(CONCURRENT_II) == 10 and set(CONCURRENT_II) <= set(EXPECT)
    _run_at_once(small_agent, host, zygote_baseline, CONCURRENT_II)


def test_cgroup_limits_are_the_agents_own(small_agent, make_sec_agent, host):
    """Two agents with different limits on one host: each execution must run under its own
    agent's memory limit and pids.max (the slots are named /sandpit/slotN for every agent)."""
    other = make_sec_agent(memory_mb=1024, pids_limit=128)
    seen = {"small": [], "other": []}
    for _ in range(3):
        for tag, ag in (("small", small_agent), ("other", other)):
            res = execute(ag, load_program("60_cgroup_limits"), timeout=10)
            assert res["status"] == "completed", res
            seen[tag].append(res["stdout"].strip())
    want = {"small": "LIMITS mem_mb=%d pids=%d " % (SMALL_LIMITS["memory_mb"],
                                                    SMALL_LIMITS["pids_limit"]),
            "other": "LIMITS mem_mb=1024 pids=128 "}
    wrong = {tag: [s for s in lines if not s.startswith(want[tag])] for tag, lines in seen.items()}
    assert not any(wrong.values()), (
        f"executions ran under another agent's cgroup limits: wanted {want}, got {seen}")
