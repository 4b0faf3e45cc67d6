"""harness.session: many cells in one interpreter (issue 14), driven as sandbox/pyrt.c does
(session_driver.py): state persists, every cell writes one frame like an execution's, and
neither a timeout, an interrupt, SystemExit nor a signal between cells ends the session."""

import random
import signal
import textwrap

import pytest

from harness import deadline
from session_driver import Session


def code(text):
    return textwrap.dedent(text).lstrip("\n")


def signal_when(session, marker, *signums):
    """An on_stdout callback: send `signums` to the session once `marker` was printed."""
    sent = []

    def check(text):
        if marker in text and not sent:
            sent.append(True)
            for signum in signums:
                session.signal(signum)
    return check


def assert_alive(session, expected_x):
    later = session.cell("x")
    assert later.exit_code == 0 and later.result["result"] == expected_x, later


def test_state_persists_over_three_cells():
    with Session() as s:
        first = s.cell("import math\nx = 2\n")
        assert first.exit_code == 0 and first.result["result"] is None, first
        second = s.cell(code("""
            def scale(v):
                return v * x
            class Point:
                pass
            y = scale(3)
        """))
        assert second.exit_code == 0, second
        third = s.cell("(math.sqrt(y + 10), Point.__name__, __name__)")
        assert third.result["result"] == [4.0, "Point", "__main__"], third
        assert third.result["result_type"] == "tuple"
        variables = third.debug["variables_after"]
        assert variables["x"]["value"] == 2 and variables["y"]["value"] == 6, variables
        assert [f["name"] for f in third.debug["functions_defined"]] == ["scale"]
        assert [c["name"] for c in third.debug["classes_defined"]] == ["Point"]


def test_the_main_module_is_the_same_object_in_every_cell():
    with Session() as s:
        s.cell("import sys, pickle\nclass Thing:\n    pass\nfirst = sys.modules['__main__']\n")
        out = s.cell("sys.modules['__main__'] is first, "
                     "type(pickle.loads(pickle.dumps(Thing()))) is Thing")
        assert out.result["result"] == [True, True], out


def test_a_failing_cell_keeps_earlier_state_and_what_it_did_before_failing():
    with Session() as s:
        s.cell("x = 1\nkept = 'yes'\n")
        failed = s.cell("x = 2\n1/0\n")
        assert failed.exit_code == 1 == failed.result["exit_code"], failed
        assert failed.result["error"] == "ZeroDivisionError: division by zero"
        assert failed.stderr.splitlines()[-1] == "ZeroDivisionError: division by zero"
        assert '  File "<cell 2>", line 2, in <module>' in failed.stderr
        assert s.cell("x, kept").result["result"] == [2, "yes"]


def test_tracebacks_show_each_frames_own_cell():
    with Session() as s:
        s.cell("def ratio(a, b):\n    return a / b\n")
        s.cell("import linecache\nlinecache.clearcache()\n")
        out = s.cell("x = 1\nratio(x, 0)\n")
        assert out.stderr == ('Traceback (most recent call last):\n'
                              '  File "<cell 3>", line 2, in <module>\n'
                              '    ratio(x, 0)\n'
                              '  File "<cell 1>", line 2, in ratio\n'
                              '    return a / b\n'
                              '           ~~^~~\n'
                              'ZeroDivisionError: division by zero\n'), out
        frames = out.debug["exceptions"][0]["traceback"]
        assert [(f["filename"], f["lineno"], f["line"]) for f in frames] == [
            ("<cell 3>", 2, "ratio(x, 0)"), ("<cell 1>", 2, "return a / b")], frames
        assert out.debug["exceptions"][0]["line"] == "return a / b"
        assert out.debug["functions_defined"][0]["name"] == "ratio"


def test_the_agents_execution_count_names_the_cell():
    with Session() as s:
        out = s.cell("y = (\n", execution_count=7)
        assert out.stderr.startswith('  File "<cell 7>", line 1\n'), out
    with Session() as s:
        refused = s.cell("x = 1\n_y = 2\n", execution_count=8, policy="restricted")
        assert refused.stderr.startswith('  File "<cell 8>", line 2\n'), refused


def test_a_cell_that_does_not_compile_changes_nothing():
    with Session() as s:
        s.cell("x = 1\n")
        bad = s.cell("x = 5\ny = (\n")
        assert bad.exit_code == 1 and bad.result["error_type"] == "SyntaxError", bad
        assert_alive(s, 1)


@pytest.mark.parametrize("source, result, result_type", [
    ("x = 20\nx + 22", 42, "int"),
    ("print('hi')", None, None),
    ("{'a': [1, 2]}", {"a": [1, 2]}, "dict"),
    ("x = 3", None, None),
])
def test_trailing_expression_is_the_result(source, result, result_type):
    with Session() as s:
        out = s.cell(source)
        assert (out.result["result"], out.result["result_type"]) == (result, result_type), out


@pytest.mark.parametrize("source, exit_code, error, stderr", [
    ("import sys\nsys.exit(3)", 3, "SystemExit: 3", ""),
    ("raise SystemExit", 0, None, ""),
    ("exit('fatal')", 1, "SystemExit: fatal", "fatal\n"),
])
def test_system_exit_ends_the_cell_not_the_session(source, exit_code, error, stderr):
    with Session() as s:
        s.cell("x = 'before'")
        out = s.cell("print('ran')\n" + source + "\nprint('after')\n")
        assert out.exit_code == exit_code == out.result["exit_code"], out
        assert out.result["error"] == error and out.stderr == stderr, out
        assert out.stdout == "ran\n"
        assert_alive(s, "before")


def test_a_restricted_session_stays_restricted():
    with Session() as s:
        first = s.cell("x = 1\n", policy="restricted")
        assert first.exit_code == 0, first
        # A later cell asking for the standard policy does not get it.
        refused = s.cell("import os\n", policy="standard")
        assert refused.result["error_type"] == "PolicyViolation", refused
        assert refused.result["exit_reason"] == "policy"
        at_run_time = s.cell("open('/etc/hostname').read()\n")
        assert at_run_time.result["error_type"] == "PolicyViolation", at_run_time
        assert s.cell("import math\nmath.floor(2.5) + x").result["result"] == 3


def test_a_standard_session_stays_standard():
    with Session() as s:
        s.cell("x = 1\n")
        out = s.cell("import os\nx + 1", policy="restricted")
        assert out.exit_code == 0 and out.result["result"] == 2, out


def test_input_data_is_rebound_per_cell_when_given_and_kept_otherwise():
    with Session() as s:
        assert s.cell("input_data['n']", input_data={"n": 1}).result["result"] == 1
        assert s.cell("input_data['n']", input_data={"n": 2}).result["result"] == 2
        kept = s.cell("input_data['n']")
        assert kept.result["result"] == 2, kept


def test_environment_is_the_cells_own():
    with Session() as s:
        first = s.cell("import os\nos.environ.get('ONLY_FIRST')", env={"ONLY_FIRST": "1"})
        assert first.result["result"] == "1", first
        assert s.cell("os.environ.get('ONLY_FIRST')").result["result"] is None


def test_each_cells_output_goes_to_its_own_pipes():
    with Session() as s:
        one = s.cell(code("""
            import io, sys
            held = sys.stdout
            print("one")
            print("err one", file=sys.stderr)
            print("no newline", end="")
        """))
        assert (one.stdout, one.stderr) == ("one\nno newline", "err one\n"), one
        # The code replaced sys.stdout: the next cell has fresh streams all the same.
        replaced = s.cell("sys.stdout = io.StringIO()\nprint('lost')\n")
        assert replaced.stdout == "", replaced
        two = s.cell("print('two')\nheld.write('through the old stream\\n')\n")
        assert two.stdout == "two\nthrough the old stream\n" and two.stderr == "", two


def test_stdin_is_the_cells_own():
    with Session() as s:
        assert s.cell("input()", stdin=b"first\nleft over\n").result["result"] == "first"
        out = s.cell("import sys\nsys.stdin.read()", stdin=b"second\n")
        assert out.result["result"] == "second\n", out


def test_threads_and_atexit_belong_to_the_session():
    with Session() as s:
        started = s.cell(code("""
            import atexit, threading
            gate = threading.Event()
            worker = threading.Thread(target=gate.wait)
            worker.start()
            atexit.register(print, "atexit ran")
        """))
        assert started.exit_code == 0 and started.stdout == "", started
        out = s.cell("gate.set()\nworker.join(10)\nworker.is_alive()")
        assert out.result["result"] is False, out


def test_gc_is_enabled_and_numpy_state_persists_between_cells():
    with Session() as s:
        assert s.cell("import gc\ngc.isenabled()").result["result"] is True
        s.cell("import random\nrandom.seed(7)\n")
        expected = random.Random(7).random()
        assert s.cell("random.random()").result["result"] == expected


def test_timeout_interrupts_the_cell_reports_where_and_the_session_lives():
    with Session() as s:
        s.cell("x = 'kept'\n")
        out = s.cell(code("""
            n = 0
            def spin():
                global n
                try:
                    print("ready", flush=True)
                    while True:
                        n += 1
                finally:
                    print("unwound")
            try:
                spin()
            except Exception:
                print("caught: wrong")
        """), on_stdout=signal_when(s, "ready", deadline.REPORT_SIGNAL))
        assert out.exit_code == deadline.EXIT_CODE == out.result["exit_code"], out
        assert out.result["error"] is None and out.result["result"] is None, out
        assert out.stdout == "ready\nunwound\n", out
        assert out.stderr.startswith("Timed out at line "), out
        assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr, out
        where = out.debug["timeout"]
        assert where["function"] == "spin" and where["lineno"] in (5, 6, 7), where
        assert [(f["filename"], f["name"]) for f in where["stack"]] == [
            ("<cell 2>", "<module>"), ("<cell 2>", "spin")], where
        assert "variables_after" in out.debug and out.debug["exceptions"] == []
        assert out.debug["hints"], out
        assert s.cell("isinstance(n, int), x").result["result"] == [True, "kept"]


def test_timeout_without_debug_mode():
    with Session() as s:
        out = s.cell("while True:\n    print('ready', flush=True)\n", debug_mode=False,
                     on_stdout=signal_when(s, "ready", deadline.REPORT_SIGNAL))
        assert out.exit_code == deadline.EXIT_CODE and out.result["debug_info"] is None, out
        assert out.stderr.startswith("Timed out at line "), out
        assert " in <module>: " in out.stderr, out
        assert s.cell("1 + 1").result["result"] == 2


@pytest.mark.parametrize("loop", ["import time\ntime.sleep(60)\n", "while True:\n    pass\n"])
def test_sigint_raises_keyboard_interrupt_in_the_cell(loop):
    with Session() as s:
        s.cell("x = 'kept'\n")
        out = s.cell("print('ready', flush=True)\n" + loop,
                     on_stdout=signal_when(s, "ready", signal.SIGINT))
        assert out.exit_code == 1 == out.result["exit_code"], out
        assert out.result["error"] == "KeyboardInterrupt", out
        assert out.stderr.startswith("Traceback (most recent call last):\n"), out
        assert out.stderr.splitlines()[-1] == "KeyboardInterrupt", out
        assert '  File "<cell 2>", line ' in out.stderr, out
        assert out.debug["exceptions"][0]["type"] == "KeyboardInterrupt"
        assert_alive(s, "kept")


@pytest.mark.parametrize("before", ["x = 'kept'\n", "x = 'kept'\ny = (\n"])
def test_signals_between_cells_are_harmless(before):
    with Session() as s:
        s.cell("x = 'kept'\n")
        s.cell(before)  # the last one did not compile: its user code never armed the signals
        for _ in range(3):
            s.signal(signal.SIGINT)
            s.signal(deadline.REPORT_SIGNAL)
        out = s.cell("import time\ntime.sleep(0.2)\nx")
        assert out.exit_code == 0 and out.result["result"] == "kept", out
        assert out.stderr == "" and "timeout" not in out.debug, out


def test_signals_while_the_frame_is_built_are_ignored():
    with Session() as s:
        out = s.cell(code("""
            import os, signal
            class Loud:
                def __repr__(self):
                    os.kill(os.getpid(), signal.SIGINT)
                    os.kill(os.getpid(), signal.SIGUSR2)
                    return "<loud>"
            x = 'kept'
            Loud()
        """))
        assert out.exit_code == 0 and out.result["result"] == "<loud>", out
        assert out.stderr == "", out
        assert_alive(s, "kept")


def test_a_process_the_cell_forks_ends_with_the_cell():
    with Session() as s:
        s.cell("x = 'kept'\n")
        out = s.cell(code("""
            import os
            child = os.fork()
            if child == 0:
                x = "changed in the child only"
                print("in the child", flush=True)
            else:
                os.waitpid(child, 0)
        """))
        assert out.stdout == "in the child\n" and out.exit_code == 0, out
        assert_alive(s, "kept")


def test_forks_are_reseeded_and_independent():
    numpy = pytest.importorskip("numpy")
    with Session() as s:
        s.cell("import random, numpy\nrandom.seed(1)\nnumpy.random.seed(1)\nx = 'parent'\n")
        draw = "random.random(), float(numpy.random.rand())"
        with s.fork() as left, s.fork() as right:
            assert left.reseeded == right.reseeded == ["random", "numpy"]
            a = left.cell(draw).result["result"]
            b = right.cell(draw).result["result"]
            assert a[0] != b[0] and a[1] != b[1], (a, b)
            left.cell("x = 'left'\n")
            assert left.cell("x").result["result"] == "left"
            assert right.cell("x").result["result"] == "parent"
        # The session itself was not re-seeded: its draws are those of the seeds it set.
        assert s.cell(draw).result["result"] == [
            random.Random(1).random(), float(numpy.random.RandomState(1).rand())]
        assert_alive(s, "parent")
