"""Enforcement: timeouts, output caps, and that nothing the code starts outlives it."""
import random
import time

from conftest import pids_with_marker, spawn_code

MARKER_CUT = "<output cut>"
MIB = 1 << 20


def assert_healthy(agent):
    h = agent.health()
    assert h["zygote"]["state"] == "ready", h
    res = agent.execute("print(1)", timeout=10)
    assert res["status"] == "completed" and res["stdout"] == "1\n", res


# 4 timeouts ---------------------------------------------------------------------------------

def test_timeout_busy_loop_keeps_partial_output(agent):
    t0 = time.monotonic()
    res = agent.execute('print("before", flush=True)\nwhile True: pass\n', timeout=0.5)
    elapsed = time.monotonic() - t0
    assert res["status"] == "timeout", res
    assert res["exit_reason"] == "timeout", res
    assert "before" in res["stdout"], res
    assert res["error"], res
    assert elapsed <= 1.5, f"response took {elapsed:.2f}s for a 0.5s timeout"
    assert_healthy(agent)


def test_timeout_while_sleeping(agent):
    t0 = time.monotonic()
    res = agent.execute('import time\nprint("s", flush=True)\ntime.sleep(30)\n', timeout=0.5)
    elapsed = time.monotonic() - t0
    assert res["status"] == "timeout", res
    assert res["exit_reason"] == "timeout", res
    assert res["stdout"] == "s\n", res
    assert elapsed <= 1.5, f"response took {elapsed:.2f}s for a 0.5s timeout"


def test_timeout_ignoring_sigterm_and_blocking_in_c(agent):
    # A program that ignores catchable signals and sits in a C call is still stopped.
    code = ('import signal, time\n'
            'for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM):\n'
            '    signal.signal(s, signal.SIG_IGN)\n'
            'print("ready", flush=True)\n'
            'import select\n'
            'select.select([], [], [], 60)\n')
    t0 = time.monotonic()
    res = agent.execute(code, timeout=0.5)
    assert res["status"] == "timeout", res
    assert res["stdout"] == "ready\n"
    assert time.monotonic() - t0 <= 1.5


def test_default_timeout_applies(make_agent):
    ag = make_agent(default_timeout=0.5)
    t0 = time.monotonic()
    res = ag.execute("import time\ntime.sleep(20)\n")
    assert res["status"] == "timeout", res
    assert time.monotonic() - t0 <= 2.0
    # An explicit, longer timeout still wins over the default.
    res = ag.execute("import time\ntime.sleep(0.8)\nprint('ok')", timeout=3)
    assert res["status"] == "completed", res


# 9 output caps ------------------------------------------------------------------------------

def _check_cut(text, cap):
    assert text.endswith(MARKER_CUT), text[-100:]
    kept = len(text) - len(MARKER_CUT)
    # The cap bounds what is kept; the marker (and at most a separator) comes on top.
    assert cap - 2 <= kept <= cap + 2, (kept, cap)


def test_stdout_flood_is_cut(agent):
    t0 = time.monotonic()
    res = agent.execute('print("x" * 5_000_000)\nprint("done", flush=True)', timeout=20)
    elapsed = time.monotonic() - t0
    assert res["status"] == "completed", {k: v for k, v in res.items() if k != "stdout"}
    assert res["truncated"] is True
    _check_cut(res["stdout"], MIB)
    assert res["stdout"].startswith("x" * 1000)
    assert res["output"] == res["stdout"]
    assert elapsed < 10, elapsed


def test_stderr_flood_is_cut(agent):
    code = 'import sys\nsys.stderr.write("e" * 5_000_000)\nsys.stderr.flush()\nprint("out")'
    res = agent.execute(code, timeout=20)
    assert res["status"] == "completed", {k: v for k, v in res.items() if k != "stderr"}
    assert res["truncated"] is True
    _check_cut(res["stderr"], MIB)
    assert res["stdout"] == "out\n"


def test_20mb_without_newlines(agent):
    code = ('import os\n'
            'chunk = b"y" * 65536\n'
            'for _ in range(20 * 16):\n'
            '    os.write(1, chunk)\n'
            'os.write(2, b"end")\n')
    t0 = time.monotonic()
    res = agent.execute(code, timeout=20)
    elapsed = time.monotonic() - t0
    assert res["status"] == "completed", {k: v for k, v in res.items() if k != "stdout"}
    assert res["truncated"] is True
    _check_cut(res["stdout"], MIB)
    assert res["stderr"] == "end"
    assert elapsed < 10, elapsed


def test_request_max_output_bytes(agent):
    res = agent.execute('print("z" * 5000)', max_output_bytes=1000)
    assert res["status"] == "completed", res
    assert res["truncated"] is True
    _check_cut(res["stdout"], 1000)
    # Under the cap nothing is cut.
    res = agent.execute('print("z" * 999)', max_output_bytes=1000)
    assert res["truncated"] is False, res
    assert res["stdout"] == "z" * 999 + "\n"


def test_endless_output_until_timeout(agent):
    t0 = time.monotonic()
    res = agent.execute('while True:\n    print("spam" * 100)\n', timeout=1)
    elapsed = time.monotonic() - t0
    assert res["status"] == "timeout", {k: v for k, v in res.items() if k != "stdout"}
    assert res["truncated"] is True
    _check_cut(res["stdout"], MIB)
    assert elapsed < 3, elapsed
    assert_healthy(agent)


def test_tiny_agent_cap(make_agent):
    ag = make_agent(max_output_bytes=64)
    res = ag.execute('print("q" * 1000)')
    assert res["truncated"] is True, res
    _check_cut(res["stdout"], 64)
    # A request cannot raise the agent's cap.
    st, body, _ = ag.post("/execute", {"code": 'print("q" * 1000)', "max_output_bytes": 4096})
    if st == 200:
        assert len(body["stdout"]) <= 64 + len(MARKER_CUT) + 2, body
    else:
        assert st == 400, (st, body)
        assert body["error"]["field"] == "max_output_bytes", body


# 12 nothing survives ------------------------------------------------------------------------

def _assert_none_left(marker, sleep_arg):
    left = sorted(set(pids_with_marker(marker)) | set(pids_with_marker(sleep_arg)))
    assert not left, f"processes started by the code survived the execution: {left}"


def test_no_descendant_survives_a_completed_execution(agent):
    code, marker, sleep_arg = spawn_code()
    res = agent.execute(code, timeout=15)
    assert res["status"] == "completed", res
    assert res["stdout"] == "running 4\n", res  # all four were really running
    _assert_none_left(marker, sleep_arg)


def test_no_descendant_survives_a_timeout(agent):
    code, marker, sleep_arg = spawn_code("time.sleep(60)")
    res = agent.execute(code, timeout=2)
    assert res["status"] == "timeout", res
    assert res["stdout"] == "running 4\n", res
    _assert_none_left(marker, sleep_arg)


def test_no_descendant_survives_a_crash(agent):
    code, marker, sleep_arg = spawn_code("ctypes.string_at(0)")
    res = agent.execute(code, timeout=15)
    assert res["status"] == "failed", res
    assert res["signal"] == 11, res
    assert res["stdout"] == "running 4\n", res
    _assert_none_left(marker, sleep_arg)


def test_descendant_holding_stdout_does_not_hang_the_response(agent):
    # A background process inherits the stdout pipe; the response must still come back
    # when the main program exits, not when the pipe's last writer closes it.
    marker = "%d.%06d" % (random.randint(600, 699), random.randint(0, 999999))
    code = f'import subprocess\nsubprocess.Popen(["sleep", "{marker}"])\nprint("bye")\n'
    t0 = time.monotonic()
    res = agent.execute(code, timeout=20)
    assert res["status"] == "completed", res
    assert res["stdout"] == "bye\n"
    assert time.monotonic() - t0 < 5
    assert not pids_with_marker(marker)
