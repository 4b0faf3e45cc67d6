"""Running Python: output, errors, exits, results, inputs, environment, working directory."""
import os
import re
import uuid

import pytest

from conftest import SECRET2_NAME, SECRET2_VALUE, SECRET_NAME, SECRET_VALUE

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def assert_still_works(agent):
    h = agent.health()
    assert h["zygote"]["state"] == "ready", h
    res = agent.execute("print(1)", timeout=10)
    assert res["status"] == "completed", res
    assert res["stdout"] == "1\n", res


# 1 ------------------------------------------------------------------------------------------

def test_print_completes_and_is_stored(agent):
    res = agent.execute("print(1+1)")
    assert res["status"] == "completed", res
    assert res["stdout"] == "2\n"
    assert res["output"] == res["stdout"]
    assert res["stderr"] == ""
    assert res["exit_code"] == 0
    assert res["error"] is None
    assert res["exit_reason"] == "exited"
    assert res["truncated"] is False
    assert res["language"] == "python"
    assert isinstance(res["execution_time"], (int, float)) and 0 <= res["execution_time"] < 10
    eid = res["execution_id"]
    assert UUID_RE.match(eid), eid
    assert str(uuid.UUID(eid)) == eid

    st, got, _ = agent.get(f"/execution/{eid}")
    assert st == 200, got
    assert got == res


def test_generated_code_alias(agent):
    st, res, _ = agent.post("/execute", {"generated_code": "print('alias')"})
    assert st == 200, res
    assert res["status"] == "completed", res
    assert res["stdout"] == "alias\n"


# 2, 3 ---------------------------------------------------------------------------------------

def _user_frames(stderr):
    return [int(m) for m in re.findall(r'File "<code>", line (\d+)', stderr)]


def test_exception_traceback_shows_user_frames_only(agent):
    code = "a = 1\nb = 2\nx = 1/0\nprint('not reached')\n"
    res = agent.execute(code)
    assert res["status"] == "failed", res
    assert res["error"] == "ZeroDivisionError: division by zero", res
    assert isinstance(res["exit_code"], int) and res["exit_code"] != 0, res
    assert res["stdout"] == ""
    err = res["stderr"]
    assert "Traceback (most recent call last):" in err, err
    assert err.rstrip().endswith("ZeroDivisionError: division by zero"), err
    frames = _user_frames(err)
    assert frames and frames[-1] == 3, err
    assert "harness" not in err and "runner.py" not in err, err


def test_exception_in_function_lists_every_user_frame(agent):
    code = "def f(n):\n    return n / 0\n\nprint('start')\nf(1)\n"
    res = agent.execute(code)
    assert res["status"] == "failed", res
    assert res["stdout"] == "start\n"
    assert res["error"] == "ZeroDivisionError: division by zero", res
    assert _user_frames(res["stderr"]) == [5, 2], res["stderr"]
    assert "harness" not in res["stderr"] and "runner.py" not in res["stderr"], res["stderr"]


@pytest.mark.parametrize("unit", ["e", "\u00e9", "\u20ac", "\U0001f600"])
def test_long_error_messages_are_kept_whole_or_cut_on_a_character(agent, unit):
    # 300 characters are kept whole; 5000 (5000 to 20000 bytes) are cut to 4096 bytes without
    # splitting a character: the error is the exception's own text and may be anything.
    res = agent.execute("raise ValueError(%r * 300)" % unit)
    assert res["error"] == "ValueError: " + unit * 300, res
    res = agent.execute("raise ValueError(%r * 5000)" % unit)
    error = res["error"]
    assert error.startswith("ValueError: " + unit * 100) and error.endswith(" ... (cut)"), res
    body = error[len("ValueError: "):-len(" ... (cut)")]
    assert body == unit * len(body) and 4096 - 4 < len(error.encode()) - 10 <= 4096, len(error)
    assert "\ufffd" not in error


def test_syntax_error_names_type_and_line(agent):
    code = "print('ran')\nif True print(2)\n"
    res = agent.execute(code)
    assert res["status"] == "failed", res
    assert res["error"] and res["error"].startswith("SyntaxError"), res
    assert re.search(r"line 2\b", res["error"] + "\n" + res["stderr"]), res
    assert "ran" not in res["stdout"], res
    assert "harness" not in res["stderr"] and "runner.py" not in res["stderr"], res["stderr"]


# 5 ------------------------------------------------------------------------------------------

def test_fd_level_writes_are_captured_in_order(agent):
    code = ('import os, subprocess\n'
            'print("a")\n'
            'os.write(1, b"b\\n")\n'
            'subprocess.run(["echo", "hi"])\n'
            'print("c")\n')
    res = agent.execute(code)
    assert res["status"] == "completed", res
    assert res["stdout"] == "a\nb\nhi\nc\n", res


def test_stderr_fd_writes_are_captured(agent):
    code = ('import os, sys, subprocess\n'
            'print("e1", file=sys.stderr)\n'
            'os.write(2, b"e2\\n")\n'
            'subprocess.run(["sh", "-c", "echo e3 >&2"])\n'
            'print("out")\n')
    res = agent.execute(code)
    assert res["status"] == "completed", res
    assert res["stderr"] == "e1\ne2\ne3\n", res
    assert res["stdout"] == "out\n", res


# 6 ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("code,status,exit_code,signal", [
    ("import sys\nprint('x')\nsys.exit(0)\n", "completed", 0, None),
    ("import sys\nsys.exit(3)\n", "failed", 3, None),
    ("import os\nos._exit(5)\n", "failed", 5, None),
    ("import ctypes\nctypes.string_at(0)\n", "failed", None, 11),
], ids=["sys.exit(0)", "sys.exit(3)", "os._exit(5)", "segfault"])
def test_exits_and_crashes(agent, code, status, exit_code, signal):
    res = agent.execute(code)
    assert res["status"] == status, res
    if exit_code is not None:
        assert res["exit_code"] == exit_code, res
        assert res["signal"] is None, res
        assert res["exit_reason"] == "exited", res
    if signal is not None:
        assert res["signal"] == signal, res
        assert res["exit_reason"] == "signaled", res
    if status == "completed":
        assert res["error"] is None, res
    else:
        assert res["error"], res
    assert_still_works(agent)


def test_abort_is_reported_as_signal(agent):
    res = agent.execute("import os\nos.abort()\n")
    assert res["status"] == "failed", res
    assert res["signal"] == 6, res
    assert_still_works(agent)


# 7 ------------------------------------------------------------------------------------------

def test_runs_as_main(agent):
    res = agent.execute('if __name__ == "__main__":\n    print("main")\n')
    assert res["status"] == "completed", res
    assert res["stdout"] == "main\n"


# 8 ------------------------------------------------------------------------------------------

def test_input_data_and_result(agent):
    res = agent.execute("input_data['a'] * 21", input_data={"a": 2})
    assert res["status"] == "completed", res
    assert res["result"] == 42, res


@pytest.mark.parametrize("code,expected", [
    ("x = 20\nx + 22", 42),
    ("{'k': [1, 2, {'n': None}], 'b': True}", {"k": [1, 2, {"n": None}], "b": True}),
    ("'hello' + ' world'", "hello world"),
    ("class Foo:\n    def __repr__(self):\n        return '<Foo 7>'\nFoo()", "<Foo 7>"),
    ("x = 5", None),
    ("print('p')", None),
], ids=["int", "dict", "str", "repr", "no-expression", "print-returns-None"])
def test_trailing_expression_result(agent, code, expected):
    res = agent.execute(code)
    assert res["status"] == "completed", res
    assert res["result"] == expected, res


def test_input_data_absent_is_not_bound(agent):
    res = agent.execute("print('input_data' in globals())")
    assert res["status"] == "completed", res
    assert res["stdout"] == "False\n", res


# 10 -----------------------------------------------------------------------------------------

def test_stdin_feeds_the_code(agent):
    res = agent.execute("print(input().upper())\nprint(input())", stdin="hello\nworld\n")
    assert res["status"] == "completed", res
    assert res["stdout"] == "HELLO\nworld\n"


def test_no_stdin_reads_eof(agent):
    res = agent.execute("import sys\nprint(repr(sys.stdin.read()))", timeout=5)
    assert res["status"] == "completed", res
    assert res["stdout"] == "''\n", res


def test_env_entries_are_visible(agent):
    code = ('import os, subprocess\n'
            'print(os.environ.get("MY_VAR"))\n'
            'print(os.environ.get("OTHER_VAR"))\n'
            'subprocess.run(["sh", "-c", "echo sub=$MY_VAR"])\n')
    res = agent.execute(code, env={"MY_VAR": "hello env", "OTHER_VAR": "2"})
    assert res["status"] == "completed", res
    assert res["stdout"] == "hello env\n2\nsub=hello env\n", res


def test_agent_environment_is_not_visible_in_os_environ(agent):
    code = ('import os, json\n'
            f'print(json.dumps([os.environ.get("{SECRET_NAME}"), os.environ.get("{SECRET2_NAME}")]))\n'
            'print(repr(dict(os.environ)))\n')
    res = agent.execute(code)
    assert res["status"] == "completed", res
    assert res["stdout"].splitlines()[0] == "[null, null]", res["stdout"]
    assert SECRET_VALUE not in res["stdout"] and SECRET2_VALUE not in res["stdout"], res["stdout"]


def test_agent_environment_is_not_visible_to_subprocesses(agent):
    res = agent.execute('import subprocess\nsubprocess.run(["env"])\n')
    assert res["status"] == "completed", res
    assert "PATH=" in res["stdout"], res
    assert SECRET_NAME not in res["stdout"] and SECRET_VALUE not in res["stdout"], res["stdout"]
    assert SECRET2_VALUE not in res["stdout"], res["stdout"]


def test_agent_environment_is_not_in_proc_self_environ(agent):
    # The process's initial environment block, if the code may read it at all.
    code = ('try:\n'
            '    print(open("/proc/self/environ", "rb").read().decode(errors="replace"))\n'
            'except OSError as e:\n'
            '    print("unreadable", e.errno)\n')
    res = agent.execute(code)
    assert res["status"] == "completed", res
    assert SECRET_VALUE not in res["stdout"], "agent secret readable via /proc/self/environ"
    assert SECRET2_VALUE not in res["stdout"], "agent secret readable via /proc/self/environ"


def test_agent_environment_is_not_in_process_memory(agent):
    # The exec-time environment strings sit on the stack just below the AT_EXECFN string.
    # Clearing os.environ does not erase them: the code can read its own memory.
    code = ('import ctypes\n'
            'libc = ctypes.CDLL(None)\n'
            'libc.getauxval.restype = ctypes.c_ulong\n'
            'top = libc.getauxval(31)  # AT_EXECFN\n'
            'n = len(ctypes.string_at(top))\n'
            'blob = ctypes.string_at(top - 16384, 16384 + n)\n'
            'print(blob.replace(b"\\0", b"\\n").decode(errors="replace"))\n')
    res = agent.execute(code)
    assert res["status"] == "completed", res
    assert "PATH=" in res["stdout"] or "HOME=" in res["stdout"] or "sandpit" in res["stdout"], \
        "the probe read no environment at all: " + res["stdout"][-300:]
    assert SECRET_VALUE not in res["stdout"], \
        f"{SECRET_NAME} from the agent's environment is in the user process's memory"
    assert SECRET2_VALUE not in res["stdout"], \
        f"{SECRET2_NAME} from the agent's environment is in the user process's memory"


# 13 -----------------------------------------------------------------------------------------

def test_private_working_directory(agent):
    work_root = os.path.realpath(agent.work_dir)
    code = ('import os\n'
            'with open("note.txt", "w") as f:\n'
            '    f.write("private")\n'
            'print(open("note.txt").read())\n'
            'print(os.getcwd())\n'
            'print(sorted(os.listdir(".")))\n')
    res = agent.execute(code)
    assert res["status"] == "completed", res
    lines = res["stdout"].splitlines()
    assert lines[0] == "private"
    cwd1 = lines[1]
    assert lines[2] == "['note.txt']", "the working directory did not start empty: " + lines[2]
    assert os.path.realpath(cwd1).startswith(work_root + os.sep), (cwd1, work_root)
    # Gone once the execution has finished.
    assert not os.path.exists(cwd1), f"{cwd1} still exists after the execution"
    assert res["execution_id"] not in os.listdir(work_root), os.listdir(work_root)

    res2 = agent.execute('import os\nprint(os.path.exists("note.txt"))\nprint(os.getcwd())\n'
                         'print(os.listdir("."))')
    assert res2["status"] == "completed", res2
    l2 = res2["stdout"].splitlines()
    assert l2[0] == "False", res2
    assert l2[1] != cwd1, "two executions got the same working directory"
    assert l2[2] == "[]", res2
    assert not os.path.exists(l2[1])


def test_working_directory_removed_after_failure_and_timeout(agent):
    work_root = os.path.realpath(agent.work_dir)
    code = ('import os, time\n'
            'os.makedirs("a/b/c")\n'
            'open("a/b/c/f", "w").write("x")\n'
            'print(os.getcwd(), flush=True)\n'
            '{tail}\n')
    for tail, status, fields in (("1/0", "failed", {}),
                                 ("time.sleep(30)", "timeout", {"timeout": 0.5})):
        res = agent.execute(code.format(tail=tail), **fields)
        assert res["status"] == status, res
        cwd = res["stdout"].strip()
        assert os.path.realpath(cwd).startswith(work_root + os.sep), cwd
        assert not os.path.exists(cwd), f"{cwd} left behind after a {status} execution"


# 15 -----------------------------------------------------------------------------------------

def test_numpy_is_preloaded(agent):
    agent.execute("print(1)")  # warm whatever is lazily warmed
    res = agent.execute("import numpy as np\nprint(np.arange(10).sum())")
    assert res["status"] == "completed", res
    assert res["stdout"] == "45\n", res
    assert res["execution_time"] < 0.5, res["execution_time"]


def test_pandas_and_matplotlib_work(agent):
    code = ('import pandas as pd\n'
            'import matplotlib.pyplot as plt\n'
            'df = pd.DataFrame({"a": [1, 2, 3]})\n'
            'fig, ax = plt.subplots()\n'
            'ax.plot(df["a"])\n'
            'fig.savefig("p.png")\n'
            'import os\n'
            'print(int(df["a"].sum()), os.path.getsize("p.png") > 0)\n')
    res = agent.execute(code, timeout=20)
    assert res["status"] == "completed", res
    assert res["stdout"] == "6 True\n", res


@pytest.mark.parametrize("body, error_type", [
    ({"code": "1/0"}, "ZeroDivisionError"),
    ({"code": "class Boom(Exception): pass\nraise Boom"}, "Boom"),
    ({"code": "import json\njson.loads('{')"}, "JSONDecodeError"),
    ({"code": "if True print(1)"}, "SyntaxError"),
    ({"code": "import sys\nsys.exit(3)"}, "SystemExit"),
    ({"code": "import time\ntime.sleep(5)", "timeout": 0.5}, "TimeoutError"),
    ({"code": "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)"}, "Signal"),
    ({"code": "int main(void) { return 0 }", "language": "c"}, "CompileError"),
    ({"code": "exit 4", "language": "sh"}, "ProcessExit"),
    ({"code": "print(1)"}, None),
])
def test_error_type_is_the_label_of_error(agent, body, error_type):
    res = agent.execute(body.pop("code"), **body)
    assert res["error_type"] == error_type, res
    if error_type:
        assert res["error"].startswith(error_type), res
