"""harness/deadline.py: the zygote's report signal at the deadline (sent here by the code itself
to the process, as the zygote would) makes the run say where it was, then exit at once."""

import textwrap

from conftest import execute
from harness import deadline

ASK = "import os, signal\nos.kill(os.getpid(), signal.SIGUSR2)\n"


def code(text):
    return textwrap.dedent(text).lstrip("\n")


def test_report_names_line_function_text_and_locals():
    out = execute(code("""
        import os, signal
        def work(limit):
            done = [1, 2]
            os.kill(os.getpid(), signal.SIGUSR2)
            print("never")
        data = {"a": 1}
        print("before")
        work(5)
    """))
    assert out.exit_code == deadline.EXIT_CODE, out
    assert out.stdout == "before\n", out
    assert out.stderr == ("Timed out at line 4 in work(): "
                          "os.kill(os.getpid(), signal.SIGUSR2)\n"), out
    where = out.debug["timeout"]
    assert (where["lineno"], where["function"]) == (4, "work")
    assert [(f["name"], f["lineno"]) for f in where["stack"]] == [("<module>", 8), ("work", 4)]
    assert where["stack"][1]["locals"]["limit"]["value"] == 5
    assert where["stack"][1]["locals"]["done"]["value"] == [1, 2]
    assert "locals" not in where["stack"][0]  # module level: variables_after has them
    assert out.debug["variables_after"]["data"]["value"] == {"a": 1}
    assert "line 4" in out.debug["hints"][0]


def test_at_module_level_and_without_debug_mode():
    out = execute(ASK, debug_mode=False)
    assert out.stderr == "Timed out at line 2 in <module>: os.kill(os.getpid(), signal.SIGUSR2)\n"
    assert out.result["debug_info"] is None and out.exit_code == deadline.EXIT_CODE


def test_deep_recursion_keeps_the_innermost_frames():
    out = execute(code("""
        import os, signal
        def down(n):
            if n == 0:
                os.kill(os.getpid(), signal.SIGUSR2)
            down(n - 1)
        down(100)
    """))
    where = out.debug["timeout"]
    assert len(where["stack"]) == deadline.MAX_FRAMES
    assert where["frames_omitted"] == 101 + 1 - deadline.MAX_FRAMES
    assert where["stack"][-1]["locals"]["n"]["value"] == 0
    assert sum("locals" in f for f in where["stack"]) == deadline.LOCALS_FRAMES


def test_a_hanging_repr_is_cut_within_the_budget():
    out = execute(code("""
        import os, signal
        class Slow:
            def __repr__(self):
                while True:
                    pass
        def f(x):
            os.kill(os.getpid(), signal.SIGUSR2)
        f(Slow())
    """), timeout=10)
    local = out.debug["timeout"]["stack"][-1]["locals"]["x"]
    assert local["repr"] == "<repr timed out>", local


def test_library_code_running_is_named():
    out = execute(code("""
        import os, signal, threading
        threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGUSR2)).start()
        threading.Event().wait(10)
    """), timeout=10)
    where = out.debug["timeout"]
    assert (where["function"], where["lineno"]) == ("<module>", 3), where
    assert where["running"].startswith("wait (") and "threading.py" in where["running"], where


def test_after_the_user_code_the_signal_is_ignored():
    out = execute(code("""
        import atexit, os, signal
        atexit.register(lambda: os.kill(os.getpid(), signal.SIGUSR2))
        print("done")
    """))
    assert out.exit_code == 0 and out.stdout == "done\n" and out.stderr == "", out
    assert "timeout" not in out.debug


def test_summary_without_user_frames():
    assert deadline.summary({"lineno": None}) == "Timed out outside the submitted code\n"


def test_report_after_the_code_cleared_builtins():
    out = execute(ASK.replace("os.kill", "__builtins__.__dict__.clear(); os.kill"))
    assert out.stderr.startswith("Timed out at line 2 in <module>: "), out
    assert out.debug["timeout"]["lineno"] == 2
