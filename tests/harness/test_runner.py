"""runner.run(): output, exit codes, errors, results, environment."""

import json
import os
import sys
import textwrap

import pytest

from conftest import execute, execute_request
from harness import runner

RESULT_KEYS = {"exit_code", "error", "error_type", "exit_reason", "result", "result_type",
               "debug_info"}


def code(text):
    return textwrap.dedent(text).lstrip("\n")


def test_print_goes_to_stdout_and_result_frame_has_contract_keys():
    out = execute("print(1 + 1)")
    assert out.stdout == "2\n"
    assert out.stderr == ""
    assert set(out.result) == RESULT_KEYS
    assert out.result["exit_code"] == 0 == out.exit_code
    assert out.result["error"] is None and out.result["error_type"] is None
    assert out.result["exit_reason"] is None
    assert out.result["result"] is None and out.result["result_type"] is None


def test_uncaught_exception_prints_user_only_traceback():
    out = execute("a = 1\nb = 2\nx = 1/0\n")
    assert out.exit_code == 1 == out.result["exit_code"]
    assert out.result["error"] == "ZeroDivisionError: division by zero"
    assert out.result["error_type"] == "ZeroDivisionError"
    lines = out.stderr.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1] == '  File "<code>", line 3, in <module>'
    assert lines[2] == "    x = 1/0"
    assert lines[-1] == "ZeroDivisionError: division by zero"
    assert "harness" not in out.stderr and "runner.py" not in out.stderr


def test_traceback_through_functions_keeps_every_user_frame_in_order():
    out = execute(code("""
        def inner(v):
            return v["missing"]

        def outer():
            return inner({})

        outer()
    """))
    frames = [l for l in out.stderr.splitlines() if l.startswith('  File "<code>"')]
    assert frames == ['  File "<code>", line 7, in <module>',
                      '  File "<code>", line 5, in outer',
                      '  File "<code>", line 2, in inner']
    assert out.stderr.splitlines()[-1] == "KeyError: 'missing'"
    assert out.result["error"] == "KeyError: 'missing'"


def test_library_frames_are_dropped_from_tracebacks():
    out = execute("import json\njson.loads('{bad')\n")
    assert out.result["error_type"] == "JSONDecodeError"
    assert out.result["error"].startswith("JSONDecodeError: Expecting property name")
    assert "json/decoder.py" not in out.stderr and "json/__init__.py" not in out.stderr
    assert '  File "<code>", line 2, in <module>' in out.stderr


def test_user_level_chained_exceptions_print_like_python():
    out = execute(code("""
        try:
            {}["k"]
        except KeyError as exc:
            raise ValueError("bad key") from exc
    """))
    assert "The above exception was the direct cause of the following exception:" in out.stderr
    assert out.stderr.count("Traceback (most recent call last):") == 2
    assert out.stderr.splitlines()[-1] == "ValueError: bad key"
    assert "During handling" not in out.stderr
    out = execute("try:\n    1/0\nexcept ZeroDivisionError:\n    undefined_name\n")
    assert "During handling of the above exception, another exception occurred:" in out.stderr
    assert out.result["error"] == "NameError: name 'undefined_name' is not defined"


def test_exception_with_empty_message_gives_bare_type():
    out = execute("raise RuntimeError")
    assert out.result["error"] == "RuntimeError"
    assert out.stderr.splitlines()[-1] == "RuntimeError"


def test_user_defined_exception_class():
    out = execute("class Boom(Exception):\n    pass\nraise Boom('kaput')\n")
    assert out.result["error"] == "Boom: kaput"
    assert out.stderr.splitlines()[-1] == "Boom: kaput"


def test_keyboard_interrupt_is_reported_like_an_exception():
    out = execute("raise KeyboardInterrupt")
    assert out.exit_code == 1
    assert out.result["error"] == "KeyboardInterrupt"
    assert out.stderr.splitlines()[-1] == "KeyboardInterrupt"


def test_syntax_error_is_reported_python_style():
    out = execute("x = 1\ny = 2\nz = (1,\n")
    assert out.exit_code == 1
    assert out.result["error"] == "SyntaxError: '(' was never closed"
    assert out.result["error_type"] == "SyntaxError"
    lines = out.stderr.splitlines()
    assert lines[0] == '  File "<code>", line 3'
    assert lines[1] == "    z = (1,"
    assert lines[2].strip() == "^"
    assert lines[-1] == "SyntaxError: '(' was never closed"
    assert out.stdout == ""


def test_syntax_error_stops_everything_from_running():
    out = execute("print('ran')\ndef f(:\n    pass\n")
    assert out.stdout == ""
    assert out.result["error"] == "SyntaxError: invalid syntax"


def test_indentation_error():
    out = execute("if True:\nprint(1)\n")
    assert out.result["error_type"] == "IndentationError"
    assert out.result["error"].startswith("IndentationError: expected an indented block")
    assert out.stderr.splitlines()[-1] == out.result["error"]
    assert out.debug["exceptions"][0]["lineno"] == 2


def test_compiler_only_syntax_error_still_shows_source_line():
    out = execute("x = 1\nreturn x\n")
    assert out.result["error"] == "SyntaxError: 'return' outside function"
    assert "    return x" in out.stderr


@pytest.mark.parametrize("source, exit_code, error", [
    ("import sys\nsys.exit()", 0, None),
    ("import sys\nsys.exit(0)", 0, None),
    ("import sys\nsys.exit(None)", 0, None),
    ("import sys\nsys.exit(3)", 3, "SystemExit: 3"),
    ("raise SystemExit(42)", 42, "SystemExit: 42"),
    ("exit(2)", 2, "SystemExit: 2"),
])
def test_sys_exit_with_codes(source, exit_code, error):
    out = execute("print('before')\n" + source + "\nprint('after')\n")
    assert out.stdout == "before\n"
    assert out.exit_code == exit_code == out.result["exit_code"]
    assert out.result["error"] == error
    assert out.stderr == ""


def test_sys_exit_with_message_prints_it_and_exits_1():
    out = execute("import sys\nsys.exit('fatal: no data')")
    assert out.exit_code == 1
    assert out.stderr == "fatal: no data\n"
    assert out.result["error"] == "SystemExit: fatal: no data"
    assert out.result["error_type"] == "SystemExit"


def test_main_guard_runs_and_name_is_main():
    out = execute(code("""
        def main():
            print("in main", __name__)

        if __name__ == "__main__":
            main()
    """))
    assert out.stdout == "in main __main__\n"


def test_main_module_is_registered_for_pickle_and_argv_is_set():
    out = execute(code("""
        import pickle, sys
        class Point:
            def __init__(self, x):
                self.x = x
        p = pickle.loads(pickle.dumps(Point(7)))
        print(p.x, sys.argv, __file__, sys.modules["__main__"].Point is Point)
    """))
    assert out.stdout == "7 ['<code>'] <code> True\n"


def test_input_data_is_bound_when_given():
    out = execute("print(input_data['n'] * 2)\ninput_data['n']", input_data={"n": 21})
    assert out.stdout == "42\n"
    assert out.result["result"] == 21


def test_input_data_is_absent_when_null():
    out = execute("print('input_data' in globals())")
    assert out.stdout == "False\n"


@pytest.mark.parametrize("source, value, type_name", [
    ("x = 20\nx + 22", 42, "int"),
    ("{'a': [1, 2], 'b': None}", {"a": [1, 2], "b": None}, "dict"),
    ("'text'", "text", "str"),
    ("(1, 2)", [1, 2], "tuple"),
    ("3.5", 3.5, "float"),
    ("True", True, "bool"),
])
def test_trailing_expression_value_is_the_result(source, value, type_name):
    out = execute(source)
    assert out.result["result"] == value
    assert out.result["result_type"] == type_name


def test_non_json_result_is_its_repr():
    out = execute("class Thing:\n    def __repr__(self):\n        return 'Thing<7>'\nThing()")
    assert out.result["result"] == "Thing<7>"
    assert out.result["result_type"] == "Thing"
    out = execute("{1, 2, 3}")
    assert out.result["result"] == "{1, 2, 3}" and out.result["result_type"] == "set"
    out = execute("float('nan')")
    assert out.result["result"] == "nan" and out.result["result_type"] == "float"


def test_large_result_falls_back_to_cut_repr():
    out = execute("list(range(100000))")
    assert isinstance(out.result["result"], str)
    assert out.result["result"].startswith("[0, 1, 2")
    assert len(out.result["result"]) <= runner.RESULT_REPR_LIMIT + 3


def test_trailing_expression_keeps_true_line_numbers():
    out = execute("x = 1\ny = 0\n\nx / y")
    assert out.result["error"] == "ZeroDivisionError: division by zero"
    assert '  File "<code>", line 4, in <module>' in out.stderr
    assert "    x / y" in out.stderr


def test_trailing_call_prints_and_none_result():
    out = execute("print('hi')")
    assert out.stdout == "hi\n"
    assert out.result["result"] is None


def test_environment_is_reset_to_base_env_plus_env():
    os.environ["SANDPIT_TEST_LEAK"] = "leaked"
    try:
        out = execute(code("""
            import os, subprocess
            print(sorted(os.environ))
            print(os.environ["GREETING"], os.environ["PATH"])
            print(subprocess.run(["sh", "-c", "echo $GREETING-$SANDPIT_TEST_LEAK"],
                                 capture_output=True, text=True).stdout.strip())
        """), env={"GREETING": "hello", "PATH": "/bin"},
            base_env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"})
    finally:
        del os.environ["SANDPIT_TEST_LEAK"]
    assert out.stdout.splitlines() == ["['GREETING', 'HOME', 'PATH']", "hello /bin", "hello-"]


def test_stdout_ordering_with_fd_writes_and_subprocesses():
    out = execute(code("""
        import os, subprocess, sys
        print("one")
        os.write(1, b"two\\n")
        print("three")
        subprocess.run(["echo", "four"])
        sys.stdout.write("five\\n")
        print("err", file=sys.stderr)
    """))
    assert out.stdout == "one\ntwo\nthree\nfour\nfive\n"
    assert out.stderr == "err\n"


def test_stdin_is_readable():
    out = execute("import sys\nprint(sys.stdin.read().upper())\n", stdin=b"abc\n")
    assert out.stdout == "ABC\n\n"
    out = execute("print(input() + '!')", stdin=b"line\n")
    assert out.stdout == "line!\n"


def test_unicode_output_is_utf8():
    out = execute("print('héllo ✓ 日本')")
    assert out.stdout == "héllo ✓ 日本\n"


def test_modules_written_to_the_working_directory_import():
    out = execute("open('helper.py', 'w').write('VALUE = 5\\n')\n"
                  "import helper\nprint(helper.VALUE)")
    assert out.stdout == "5\n"


def test_non_daemon_threads_finish_and_atexit_runs():
    out = execute(code("""
        import atexit, threading, time
        atexit.register(lambda: print("atexit ran"))
        def work():
            time.sleep(0.2)
            print("thread done")
        threading.Thread(target=work).start()
        print("main done")
    """))
    assert out.stdout == "main done\nthread done\natexit ran\n"


def test_random_numbers_differ_between_executions():
    draw = "import random, numpy as np\nprint(random.random(), np.random.random())"
    pytest.importorskip("numpy")
    first, second = execute(draw).stdout, execute(draw).stdout
    a1, n1 = first.split()
    a2, n2 = second.split()
    assert a1 != a2 and n1 != n2


def test_gc_is_enabled_in_the_child():
    import gc
    gc.disable()
    try:
        out = execute("import gc\nprint(gc.isenabled())")
    finally:
        gc.enable()
    assert out.stdout == "True\n"


def test_debug_mode_false_gives_null_debug_info():
    out = execute("x = 1\n1/0", debug_mode=False)
    assert out.result["debug_info"] is None
    assert out.result["error"] == "ZeroDivisionError: division by zero"


def test_minimal_request_uses_defaults():
    out = execute_request({"code": "x = 41\nx + 1"})
    assert out.result["result"] == 42
    assert out.result["debug_info"]["variables_after"]["x"]["value"] == 41  # debug_mode on
    assert "trace" not in out.result["debug_info"]  # trace off


def test_bad_spec_is_an_internal_error_not_a_crash():
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os._exit(runner.run(b"{not json", write_end))
    os.close(write_end)
    frame = b""
    while chunk := os.read(read_end, 65536):
        frame += chunk
    os.close(read_end)
    _, status = os.waitpid(pid, 0)
    result = json.loads(frame)
    assert os.waitstatus_to_exitcode(status) == 1
    assert result["exit_code"] == 1
    assert result["error"].startswith("InternalError: JSONDecodeError")
    assert result["error_type"] == "InternalError"
    assert "internal_traceback" in result["debug_info"]


def test_missing_code_is_an_internal_error():
    with pytest.raises(ValueError, match="spec.code"):
        runner.Spec({"execution_id": "x"})


def test_unknown_policy_fails_closed():
    with pytest.raises(ValueError, match="spec.policy"):
        runner.Spec({"code": "pass", "policy": "restriced"})
    out = execute("print('ran')", policy="sandboxed")
    assert out.stdout == ""
    assert out.result["error_type"] == "InternalError"


def test_spec_defaults():
    spec = runner.Spec({"code": "pass"})
    assert spec.debug_mode is True
    assert spec.restricted is False
    assert spec.trace is False
    assert spec.trace_limit == 1000
    assert spec.repr_limit == 200
    assert spec.input_data is None


def test_preload_reports_loaded_and_failed_modules():
    report = runner.preload(["json", "no_such_module_xyz", "math"])
    assert report["loaded"] == ["json", "math"]
    assert report["failed"] == {
        "no_such_module_xyz": "ModuleNotFoundError: No module named 'no_such_module_xyz'"}


def test_preload_sets_matplotlib_agg_backend():
    pytest.importorskip("matplotlib")
    report = runner.preload(["matplotlib"])
    assert report["loaded"] == ["matplotlib"]
    import matplotlib
    assert matplotlib.get_backend().lower() == "agg"
    assert "matplotlib.pyplot" in sys.modules
