"""User code that attacks the harness's own machinery still gets one result."""

import json
import textwrap
import time

import pytest

from conftest import execute
from harness import runner


def code(text):
    return textwrap.dedent(text).lstrip("\n")


def test_closing_sys_stdout():
    out = execute("import sys\nprint('before')\nsys.stdout.close()\nx = 5\nx")
    assert out.stdout == "before\n"
    assert out.result["exit_code"] == 0
    assert out.result["result"] == 5


def test_replacing_and_deleting_std_streams():
    out = execute("import sys\nsys.stdout = None\ndel sys.stderr\n1/0")
    assert out.result["error"] == "ZeroDivisionError: division by zero"
    assert out.stderr.splitlines()[-1] == "ZeroDivisionError: division by zero"


def test_traceback_reaches_real_stderr_when_sys_stderr_is_replaced():
    out = execute("import io, sys\nsys.stderr = io.StringIO()\nraise ValueError('lost?')")
    assert out.stderr.splitlines()[-1] == "ValueError: lost?"


def test_closing_fd_1():
    out = execute("import os\nprint('x')\nos.close(1)\nprint('into the void')")
    assert out.stdout == "x\n"
    assert out.result is not None and out.result["exit_code"] in (0, 1)


def test_clearing_builtins_entirely():
    out = execute(code("""
        import builtins
        keep = 1
        builtins.__dict__.clear()
    """))
    assert out.result["exit_code"] == 0
    assert out.result["error"] is None
    assert out.debug["variables_after"]["keep"]["value"] == 1


def test_clearing_builtins_then_raising():
    out = execute("import builtins\nbuiltins.__dict__.clear()\n1/0")
    assert out.result["error"] == "ZeroDivisionError: division by zero"
    assert out.stderr.splitlines()[-1] == "ZeroDivisionError: division by zero"


def test_sabotaged_builtins_are_restored_before_reporting():
    out = execute(code("""
        import builtins
        builtins.isinstance = lambda *a: True
        builtins.len = None
        builtins.repr = lambda o: "fake"
        del builtins.Exception
        data = [1, 2, 3]
    """))
    data = out.debug["variables_after"]["data"]
    assert data == {"type": "list", "repr": "[1, 2, 3]", "value": [1, 2, 3], "len": 3}


def test_deleting_dunder_builtins_from_globals():
    out = execute("del __builtins__\nx = 1\nx")
    assert out.result["result"] == 1
    out = execute("__builtins__ = None\ny = 2")
    assert out.debug["variables_after"]["y"]["value"] == 2


def test_monkeypatched_json_and_os():
    out = execute(code("""
        import json, os
        json.dumps = json.loads = None
        json.JSONEncoder = None
        os.write = os.getpid = os._exit = None
        x = {"still": "reported"}
        x
    """))
    assert out.result["result"] == {"still": "reported"}
    assert out.result["exit_code"] == 0


def test_fork_in_user_code_gives_exactly_one_result_frame():
    out = execute(code("""
        import os
        pid = os.fork()
        if pid == 0:
            print("child")
        else:
            os.waitpid(pid, 0)
            print("parent")
    """))
    assert sorted(out.stdout.split()) == ["child", "parent"]
    assert out.result["exit_code"] == 0  # json.loads would fail on two frames


def test_leftover_trace_function_and_low_recursion_limit():
    out = execute(code("""
        import inspect, sys
        sys.settrace(lambda *a: None)
        sys.setprofile(lambda *a: None)
        sys.setrecursionlimit(len(inspect.stack()) + 25)
        nested = 1
        for _ in range(40):
            nested = [nested]
    """))
    expected = 1
    for _ in range(40):
        expected = [expected]
    assert out.result["exit_code"] == 0
    assert out.debug["variables_after"]["nested"]["value"] == expected


def test_pending_alarm_does_not_kill_the_report():
    out = execute(code("""
        import signal, time
        class Slow:
            def __repr__(self):
                time.sleep(0.3)
                return "slow"
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        signal.setitimer(signal.ITIMER_REAL, 0.2)
        s = Slow()
    """))
    assert out.result["exit_code"] == 0
    assert out.debug["variables_after"]["s"]["repr"] == "slow"


def test_daemon_thread_still_printing():
    out = execute(code("""
        import threading
        def spam():
            while True:
                print("spam")
        threading.Thread(target=spam, daemon=True).start()
        done = True
    """))
    assert out.result["exit_code"] == 0
    assert out.debug["variables_after"]["done"]["value"] is True


def test_exception_whose_str_raises():
    out = execute("class E(Exception):\n    def __str__(self):\n        raise ValueError\n"
                  "raise E()")
    assert out.result["error"] == "E: <exception str() failed>"
    assert out.result["error_type"] == "E"


def test_result_whose_repr_raises():
    out = execute("class X:\n    def __repr__(self):\n        raise KeyboardInterrupt\nX()")
    assert out.result["exit_code"] == 0
    assert out.result["result"] == "<repr failed: KeyboardInterrupt>"
    assert out.result["result_type"] == "X"


def test_systemexit_raised_by_a_repr_during_reporting():
    out = execute("import sys\nclass X:\n    def __repr__(self):\n        sys.exit(9)\nx = X()")
    assert out.result["exit_code"] == 0
    assert out.debug["variables_after"]["x"]["repr"] == "<repr failed: SystemExit>"


def test_dict_subclass_with_hostile_items():
    out = execute(code("""
        class Trap(dict):
            def items(self):
                raise RuntimeError("gotcha")
            def __iter__(self):
                raise RuntimeError("gotcha")
        trap = Trap(a=1)
    """))
    assert out.result["exit_code"] == 0
    assert out.debug["variables_after"]["trap"]["type"] == "Trap"


def test_cleared_linecache_still_shows_source_lines():
    out = execute("import linecache\nlinecache.cache.clear()\nx = 1/0")
    assert "    x = 1/0" in out.stderr
    assert out.debug["exceptions"][0]["line"] == "x = 1/0"


def test_hanging_dir_does_not_stop_the_traceback_or_hints():
    started = time.monotonic()
    out = execute(code("""
        class Sticky:
            def __dir__(self):
                while True:
                    pass
        value = 1
        Sticky().missing
    """), timeout=20)
    assert time.monotonic() - started < 8
    assert out.result["error"] == "AttributeError: 'Sticky' object has no attribute 'missing'"
    assert out.stderr.splitlines() == [
        "Traceback (most recent call last):",
        '  File "<code>", line 6, in <module>',
        "    Sticky().missing",
        "AttributeError: 'Sticky' object has no attribute 'missing'"]
    assert out.debug["hints"] == []


# Lowers the child's own address-space limit to what it uses now plus `headroom` MiB, so
# "out of memory" comes quickly and the same way on any machine.
_CAP_MEMORY = """
    import resource
    def _cap(headroom):
        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
        limit = used + headroom * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
"""


@pytest.mark.parametrize("held", [0, 200, 100000])
def test_recursion_that_runs_out_of_memory_reports_the_codes_own_error(held):
    # Hundreds of thousands of levels (fewer when each holds 100 KB) until memory runs out: the
    # traceback keeps it all alive until the report is built, and formatting every level would
    # need more. The report cuts it to CPython's own 1000 innermost entries. 200 MiB of room:
    # with 100, one CI run ran out before 1000 levels (nothing to cut, the premise gone).
    out = execute(code(_CAP_MEMORY + """
    import sys
    sys.setrecursionlimit(10 ** 7)
    def down(n):
        held = bytearray(%d)
        return down(n + 1)
    _cap(200)
    down(0)
    """ % held))
    assert out.result["error"].startswith(("MemoryError", "SystemError")), out.result
    assert "too little memory" not in out.result["error"], out.result
    assert out.exit_code == 1
    lines = out.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == '  File "<code>", line 12, in down'  # <module> was cut, as CPython does
    repeated = [line for line in lines if line.startswith("  [Previous line repeated ")]
    assert len(repeated) == 1 and int(repeated[0].split()[3]) < 1000, repeated
    assert lines[-1] == out.result["error"]
    assert out.debug["exceptions"][0]["frames_omitted"] == 1000 - 50


# Keeps every byte it can get, large and small (after _CAP_MEMORY).
_HOARD_ALL = """
    hoard, size = [], 1 << 24
    _cap(64)
    while size:
        try:
            hoard.append(bytearray(size))
        except MemoryError:
            size //= 2
    chain = None
    try:
        while True:
            chain = (chain,)
    except MemoryError:
        pass
"""


def test_code_that_leaves_no_memory_still_gets_a_result_frame():
    # The code keeps every byte it could get, large and small, and ends normally: building the
    # report fails too, and the frame then says MemoryError instead of the child dying
    # without one (or blaming the harness).
    out = execute(code(_CAP_MEMORY + _HOARD_ALL + """
    hoard
    """))
    assert out.result == {
        "exit_code": 1, "error": "MemoryError: the code left too little memory to build its result",
        "error_type": "MemoryError", "exit_reason": None, "result": None, "result_type": None,
        "debug_info": None}, out
    assert out.exit_code == 1


def test_a_deep_recursion_chained_into_another_error_is_cut_too():
    out = execute(code(_CAP_MEMORY + """
    import sys
    sys.setrecursionlimit(10 ** 7)
    def down(n):
        return down(n + 1)
    _cap(100)
    try:
        down(0)
    except BaseException as e:
        raise RuntimeError("wrapped") from e
    """))
    assert out.result["error"] == "RuntimeError: wrapped", out.result
    repeated = [line for line in out.stderr.splitlines()
                if line.startswith("  [Previous line repeated ")]
    assert len(repeated) == 1 and int(repeated[0].split()[3]) < 1000, repeated
    assert "The above exception was the direct cause of the following exception:" in out.stderr
    assert [e.get("chain") for e in out.debug["exceptions"]] == [None, "cause"]


def test_a_suspended_generator_in_a_deep_traceback_is_not_finalised():
    # The generator caught an error raised 20 calls below it and yielded it; the code re-raises
    # it 2000 levels down. The generator's frame is then deep in a traceback that is cut, and
    # clearing its locals would close it (its finally would print).
    out = execute(code("""
        import sys
        sys.setrecursionlimit(10000)
        def inner(n):
            if n == 0:
                1 / 0
            return inner(n - 1)
        def keeper():
            try:
                try:
                    inner(20)
                except ZeroDivisionError as e:
                    yield e
            finally:
                print("generator finalised")
        gen = keeper()
        err = next(gen)
        def down(n):
            if n == 0:
                raise err
            return down(n - 1)
        down(2000)
    """))
    assert out.result["error"] == "ZeroDivisionError: division by zero", out.result
    assert "generator finalised" not in out.stdout, out.stdout


def test_a_huge_trace_or_message_is_cut_to_fit_the_frame():
    out = execute("for i in range(50000):\n    x = i\nraise ValueError('boom')",
                  trace=True, trace_limit=100000)
    assert len(json.dumps(out.result, separators=(",", ":"))) <= runner.FRAME_LIMIT
    assert out.result["error"] == "ValueError: boom"
    assert out.debug["trace_truncated"] is True and 1000 < len(out.debug["trace"]) < 100000
    out = execute("raise ValueError('x' * 3000000)")
    assert len(json.dumps(out.result, separators=(",", ":"))) <= runner.FRAME_LIMIT
    assert out.result["error"] == "ValueError: " + "x" * (runner.ERROR_LIMIT - 12) + " ... (cut)"
    assert out.stderr.endswith("x" * 1000 + "\n")  # stderr keeps the whole message


def test_a_failing_code_that_leaves_no_memory_keeps_its_own_error():
    # As above, but the code then fails: its globals are freed to write its traceback and its
    # own error, not the harness's MemoryError.
    out = execute(code(_CAP_MEMORY + """
    mine = ValueError("mine")
    """ + _HOARD_ALL + """
    raise mine
    """))
    assert out.result["error"] == "ValueError: mine", out
    assert out.result["error_type"] == "ValueError"
    assert out.exit_code == 1
    assert out.stderr.splitlines()[-2:] == ["    raise mine", "ValueError: mine"]
    assert out.debug == {"report_error": "MemoryError: the code left too little memory to "
                                         "build its report"}
