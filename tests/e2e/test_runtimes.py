"""Every runtime of the agent (Python embedded; the others compiled and/or execve'd in the same
isolated child), through the agent's POST /execute and through the orchestrator's NVIDIA
/execute: hello world, stdin, compile errors, exit codes, timeouts, stderr; aliases, /languages,
--languages, unknown languages, and compiled executions that never see each other's files.

Speed: the many small executions this module needs are started together, in a few background
threads, as soon as the module's agent and orchestrator are up (fixture `runs`); each test then
only checks its own result. A runtime is skipped only when its tool is not installed on this
machine; installed but missing from the agent's /languages is a failure.
"""
import json
import os
import re
import shutil
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import AGENT_BIN, ROOT, Agent, _stop_and_check
from orch_fixtures import ORCH_BIN, Orchestrator, log_on_failure

# -- the runtime table (the contract) ----------------------------------------------------------

# canonical name -> aliases the contract promises (the agent may accept more)
ALIASES = {
    "python": ["py", "python3"],
    "javascript": ["js", "node", "nodejs"],
    "typescript": ["ts"],
    "bash": ["shell"],
    "sh": ["dash"],
    "c": ["gcc"],
    "cpp": ["c++", "cxx", "g++"],
    "java": [],
    "go": ["golang"],
    "rust": ["rs"],
    "ruby": ["rb"],
    "php": [],
    "perl": ["pl"],
    "lua": [],
    "sql": ["sqlite"],
    "csharp": ["cs", "c#"],
    "r": [],
}
LANGS = list(ALIASES)
COMPILED = ["c", "cpp", "java", "go", "rust", "typescript", "csharp"]
# The source file name the contract names (others: any name; java: from the class).
FILES = {"javascript": "main.js", "typescript": "main.ts", "bash": "main.sh", "sh": "main.sh",
         "c": "main.c", "cpp": "main.cpp", "go": "main.go", "rust": "main.rs"}
ALIAS_OF = {a: lang for lang, al in ALIASES.items() for a in al}
ALL_ALIASES = [a for al in ALIASES.values() for a in al]
# Through the orchestrator every language gets hello (it routes each one); the outcomes that
# only depend on the agent's result (timeout, exit, compile error, alias) are checked on a
# sample of runtime kinds (embedded, node, compiled, shell, sql with its own exit) rather than
# every compiler again: the agent-side tests above run them all, and a compile costs seconds.
ORCH_SAMPLE = ["python", "javascript", "c", "bash", "sql"]
ORCH_COMPILED = ["c", "typescript"]
ORCH_ALIASES = [a for lang in ORCH_SAMPLE + ["typescript"] for a in ALIASES[lang]]

# Where the agent looks for tools: the project's tools directory, then the system path (not
# the PATH of whoever runs the tests: a tool under /root/.cargo is no tool for the sandbox).
TOOL_PATH = os.pathsep.join([str(ROOT / "runtimes" / "node_modules" / ".bin"),
                             "/usr/local/bin", "/usr/bin", "/bin"])


# canonical name -> what must be installed on this machine for the runtime to exist
TOOLS = {
    "python": [],
    "javascript": ["node"],
    "typescript": ["node", "tsc"],
    "bash": ["bash"],
    "sh": ["dash"],
    "c": ["gcc"],
    "cpp": ["g++"],
    "java": ["javac", "java"],
    "go": ["go"],
    "rust": ["rustc"],
    "ruby": ["ruby"],
    "php": ["php"],
    "perl": ["perl"],
    "lua": ["lua5.4"],
    "sql": ["sqlite3"],
    "csharp": ["mcs", "mono"],
    "r": ["Rscript"],
}


def missing_tools(lang):
    """The tools of lang that are not installed where the agent looks."""
    return [t for t in TOOLS[lang] if not shutil.which(t, path=TOOL_PATH)]


# -- the programs ------------------------------------------------------------------------------

HELLO_OUT = "hello world\n"
STDIN_IN = "first line\nsecond line: ünïcode\n"
LOOP_OUT = "looping\n"   # printed (and flushed) before the infinite loop
ERR_MARK = "undefined_thing"  # the undefined name every compile error uses

P = {
    "python": {
        "hello": 'print("hello world")\n',
        "stdin": "import sys\nsys.stdout.write(sys.stdin.read())\n",
        "exit": 'import sys\nprint("before exit")\nsys.exit(3)\n',
        "loop": 'print("looping", flush=True)\nwhile True:\n    pass\n',
        "stderr": 'import sys\nprint("to stdout")\nprint("to stderr", file=sys.stderr)\n',
    },
    "javascript": {
        "hello": 'console.log("hello world");\n',
        "stdin": 'process.stdout.write(require("fs").readFileSync(0, "utf8"));\n',
        "exit": 'console.log("before exit");\nprocess.exit(3);\n',
        "loop": 'console.log("looping");\nfor (;;) {}\n',
        "stderr": 'console.log("to stdout");\nconsole.error("to stderr");\n',
    },
    "typescript": {
        "hello": 'const greeting: string = "hello world";\nconsole.log(greeting);\n',
        "stdin": 'import * as fs from "fs";\n'
                 'const data: string = fs.readFileSync(0, "utf8");\n'
                 'process.stdout.write(data);\n',
        "exit": 'console.log("before exit");\nprocess.exit(3);\n',
        "loop": 'console.log("looping");\nwhile (true) {}\n',
        "stderr": 'console.log("to stdout");\nconsole.error("to stderr");\n',
        # a type error, not a syntax error: proves tsc checks (node alone would run it)
        "compile_error": 'const count: number = "not a number";\nconsole.log(count);\n',
    },
    "bash": {
        # arrays: bash, not a POSIX sh
        "hello": 'words=(hello world)\necho "${words[@]}"\n',
        "stdin": "while IFS= read -r line; do printf '%s\\n' \"$line\"; done\n",
        "exit": 'echo "before exit"\nexit 3\n',
        "loop": 'echo looping\nwhile :; do :; done\n',
        "stderr": 'echo "to stdout"\necho "to stderr" >&2\n',
    },
    "sh": {
        "hello": "printf '%s\\n' \"hello world\"\n",
        "stdin": "while IFS= read -r line; do printf '%s\\n' \"$line\"; done\n",
        "exit": 'echo "before exit"\nexit 3\n',
        "loop": 'echo looping\nwhile :; do :; done\n',
        "stderr": 'echo "to stdout"\necho "to stderr" >&2\n',
    },
    "c": {
        "hello": '#include <stdio.h>\n\nint main(void)\n{\n    printf("hello world\\n");\n'
                 '    return 0;\n}\n',
        "stdin": "#include <stdio.h>\n\nint main(void)\n{\n    char buf[4096];\n    size_t n;\n\n"
                 "    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)\n"
                 "        fwrite(buf, 1, n, stdout);\n    return 0;\n}\n",
        "exit": '#include <stdio.h>\n\nint main(void)\n{\n    printf("before exit\\n");\n'
                '    return 3;\n}\n',
        "loop": '#include <stdio.h>\n\nint main(void)\n{\n    volatile unsigned long n = 0;\n\n'
                '    printf("looping\\n");\n    fflush(stdout);\n    for (;;)\n        n++;\n}\n',
        "stderr": '#include <stdio.h>\n\nint main(void)\n{\n    printf("to stdout\\n");\n'
                  '    fprintf(stderr, "to stderr\\n");\n    return 0;\n}\n',
        "compile_error": "int main(void)\n{\n    return undefined_thing;\n}\n",
    },
    "cpp": {
        "hello": '#include <iostream>\n\nint main()\n{\n'
                 '    std::cout << "hello world" << std::endl;\n'
                 '}\n',
        "stdin": "#include <iostream>\n#include <string>\n\nint main()\n{\n    std::string line;\n"
                 "    while (std::getline(std::cin, line))\n"
                 "        std::cout << line << '\\n';\n}\n",
        "exit": '#include <iostream>\n\nint main()\n{\n'
                '    std::cout << "before exit" << std::endl;\n'
                '    return 3;\n}\n',
        "loop": '#include <iostream>\n\nint main()\n{\n    volatile unsigned long n = 0;\n'
                '    std::cout << "looping" << std::endl;\n    for (;;)\n        n = n + 1;\n}\n',
        "stderr": '#include <iostream>\n\nint main()\n{\n'
                  '    std::cout << "to stdout" << std::endl;\n'
                  '    std::cerr << "to stderr" << std::endl;\n}\n',
        "compile_error": "#include <string>\n\nint main()\n{\n"
                         "    std::string s = undefined_thing;\n"
                         "}\n",
    },
    # A different public class name per program: the file name must come from the source.
    "java": {
        "hello": 'public class Hello {\n    public static void main(String[] args) {\n'
                 '        System.out.println("hello world");\n    }\n}\n',
        "stdin": "import java.io.BufferedReader;\nimport java.io.IOException;\n"
                 "import java.io.InputStreamReader;\nimport java.nio.charset.StandardCharsets;\n\n"
                 "public class Echo {\n"
                 "    public static void main(String[] args) throws IOException {\n"
                 "        BufferedReader r = new BufferedReader(\n"
                 "            new InputStreamReader(System.in, StandardCharsets.UTF_8));\n"
                 "        java.io.PrintStream out = new java.io.PrintStream(\n"
                 "            System.out, true, \"UTF-8\");\n"
                 "        String line;\n        while ((line = r.readLine()) != null)\n"
                 "            out.println(line);\n    }\n}\n",
        "exit": 'public class Quitter {\n    public static void main(String[] args) {\n'
                '        System.out.println("before exit");\n        System.exit(3);\n    }\n}\n',
        "loop": 'public class Spin {\n    public static void main(String[] args) {\n'
                '        System.out.println("looping");\n        System.out.flush();\n'
                '        while (true) {\n        }\n    }\n}\n',
        "stderr": 'public class Both {\n    public static void main(String[] args) {\n'
                  '        System.out.println("to stdout");\n'
                  '        System.err.println("to stderr");\n    }\n}\n',
        "compile_error": "public class Broken {\n    public static void main(String[] args) {\n"
                         "        int x = undefined_thing;\n    }\n}\n",
    },
    "go": {
        "hello": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello world")\n}\n',
        "stdin": 'package main\n\nimport (\n\t"io"\n\t"os"\n)\n\n'
                 'func main() {\n\tio.Copy(os.Stdout, os.Stdin)\n}\n',
        "exit": 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\n'
                'func main() {\n\tfmt.Println("before exit")\n\tos.Exit(3)\n}\n',
        "loop": 'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("looping")\n'
                '\tfor {\n\t}\n}\n',
        "stderr": 'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\n'
                  'func main() {\n\tfmt.Println("to stdout")\n'
                  '\tfmt.Fprintln(os.Stderr, "to stderr")\n}\n',
        "compile_error": "package main\n\nfunc main() {\n\tundefined_thing()\n}\n",
    },
    "rust": {
        "hello": 'fn main() {\n    println!("hello world");\n}\n',
        "stdin": "use std::io::{self, Read, Write};\n\nfn main() {\n"
                 "    let mut s = String::new();\n"
                 "    io::stdin().read_to_string(&mut s).unwrap();\n"
                 "    io::stdout().write_all(s.as_bytes()).unwrap();\n}\n",
        "exit": 'fn main() {\n    println!("before exit");\n    std::process::exit(3);\n}\n',
        "loop": 'fn main() {\n    println!("looping");\n    loop {}\n}\n',
        "stderr": 'fn main() {\n    println!("to stdout");\n    eprintln!("to stderr");\n}\n',
        "compile_error": "fn main() {\n    undefined_thing();\n}\n",
    },
    "ruby": {
        "hello": 'puts "hello world"\n',
        "stdin": "print $stdin.read\n",
        "exit": 'puts "before exit"\nexit 3\n',
        "loop": '$stdout.sync = true\nputs "looping"\nloop { }\n',
        "stderr": 'puts "to stdout"\n$stderr.puts "to stderr"\n',
    },
    "php": {
        "hello": '<?php\necho "hello world\\n";\n',
        "stdin": "<?php\necho stream_get_contents(STDIN);\n",
        "exit": '<?php\necho "before exit\\n";\nexit(3);\n',
        "loop": '<?php\necho "looping\\n";\nflush();\nwhile (true) {\n}\n',
        "stderr": '<?php\necho "to stdout\\n";\nfwrite(STDERR, "to stderr\\n");\n',
    },
    "perl": {
        "hello": 'print "hello world\\n";\n',
        "stdin": "print while <STDIN>;\n",
        "exit": 'print "before exit\\n";\nexit 3;\n',
        "loop": '$| = 1;\nprint "looping\\n";\n1 while 1;\n',
        "stderr": 'print "to stdout\\n";\nprint STDERR "to stderr\\n";\n',
    },
    "lua": {
        "hello": 'print("hello world")\n',
        "stdin": 'io.write(io.read("a"))\n',
        "exit": 'print("before exit")\nos.exit(3)\n',
        "loop": 'print("looping")\nio.stdout:flush()\nwhile true do end\n',
        "stderr": 'print("to stdout")\nio.stderr:write("to stderr\\n")\n',
    },
    # sqlite3 CLI, in-memory database, default list mode. It stops at the first error with a
    # non-zero exit, the error on stderr: that is both the "exit" and the "stderr" case.
    "sql": {
        "hello": "SELECT 'hello world';\n",
        "exit": "SELECT 'before exit';\nSELECT * FROM no_such_table;\n",
        "loop": "SELECT 'looping';\n"
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c)\n"
                "SELECT count(*) FROM c;\n",
        "stderr": "SELECT 'to stdout';\nSELECT * FROM no_such_table;\n",
    },
    "csharp": {
        "hello": 'using System;\n\nclass Program\n{\n    static void Main()\n    {\n'
                 '        Console.WriteLine("hello world");\n    }\n}\n',
        "stdin": "using System;\n\nclass Program\n{\n    static void Main()\n    {\n"
                 "        Console.OutputEncoding = new System.Text.UTF8Encoding(false);\n"
                 "        Console.InputEncoding = new System.Text.UTF8Encoding(false);\n"
                 "        Console.Write(Console.In.ReadToEnd());\n    }\n}\n",
        "exit": 'using System;\n\nclass Program\n{\n    static int Main()\n    {\n'
                '        Console.WriteLine("before exit");\n        return 3;\n    }\n}\n',
        "loop": 'using System;\n\nclass Program\n{\n    static void Main()\n    {\n'
                '        Console.WriteLine("looping");\n        while (true) { }\n    }\n}\n',
        "stderr": 'using System;\n\nclass Program\n{\n    static void Main()\n    {\n'
                  '        Console.WriteLine("to stdout");\n'
                  '        Console.Error.WriteLine("to stderr");\n    }\n}\n',
        "compile_error": "class Program\n{\n    static void Main()\n    {\n"
                         "        int x = undefined_thing;\n    }\n}\n",
    },
    "r": {
        "hello": 'cat("hello world\\n")\n',
        "stdin": 'writeLines(readLines(file("stdin"), encoding = "UTF-8"), useBytes = TRUE)\n',
        "exit": 'cat("before exit\\n")\nquit(status = 3)\n',
        "loop": 'cat("looping\\n")\nflush(stdout())\nrepeat {}\n',
        "stderr": 'cat("to stdout\\n")\ncat("to stderr\\n", file = stderr())\n',
    },
}
# What each compiler says about ERR_MARK (all of them name it).
COMPILE_ERROR_TEXT = {lang: ERR_MARK for lang in COMPILED}
COMPILE_ERROR_TEXT["typescript"] = "TS2322"

assert set(P) == set(LANGS)
assert all("compile_error" in P[lang] for lang in COMPILED)

LOOP_TIMEOUT = 2
# Generous upper bounds on the wall time of a request that times out after LOOP_TIMEOUT s:
# compiling (separately limited) under the load of this module on 2 cores, plus slack.
LOOP_BOUND_S = {lang: LOOP_TIMEOUT + (45 if lang in COMPILED else 10) for lang in LANGS}
RUN_TIMEOUT = 20  # for the programs that finish


# -- building the requests ----------------------------------------------------------------------

def agent_body(lang, kind):
    """(language sent, POST /execute body for the agent) of one case."""
    if kind == "alias":
        canon = ALIAS_OF[lang]
        return {"code": P[canon]["hello"], "language": lang, "timeout": RUN_TIMEOUT}
    body = {"code": P[lang][kind], "language": lang,
            "timeout": LOOP_TIMEOUT if kind == "loop" else RUN_TIMEOUT}
    if kind == "stdin":
        body["stdin"] = STDIN_IN
    return body


def orch_body(lang, kind):
    b = agent_body(lang, kind)
    b["generated_code"] = b.pop("code")
    b.pop("stdin", None)
    return b


# Test function name -> (via, kind): the cases `runs` starts ahead for the selected tests.
CASES = {}


def case(via, kind):
    def deco(fn):
        CASES[fn.__name__] = (via, kind)
        return fn
    return deco


# -- fixtures -----------------------------------------------------------------------------------

def _show(config, text):
    """Writes text to the real stderr even while pytest captures (the language table)."""
    capman = config.pluginmanager.getplugin("capturemanager")
    if capman is not None:
        with capman.global_and_fixture_disabled():
            sys.__stderr__.write(text)
            sys.__stderr__.flush()
    else:
        sys.__stderr__.write(text)
        sys.__stderr__.flush()


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    """This module's own agent (overrides the session one: conftest attaches its log to the
    report of a failing test that uses it)."""
    if not AGENT_BIN.exists():
        pytest.fail(f"{AGENT_BIN} not found: run `make`")
    ag = Agent(tmp_path_factory.mktemp("rt_agent"), {"log-level": "debug"})
    yield ag
    _stop_and_check(ag)


def _poll_languages(ag, timeout=30.0):
    """GET /languages until every version is probed (non-null), at most timeout s."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        st, body, _ = ag.get("/languages", timeout=10)
        last = (st, body)
        if (st == 200 and isinstance(body, dict) and isinstance(body.get("languages"), list)
                and all(isinstance(x, dict) and x.get("version") is not None
                        for x in body["languages"])):
            return st, body
        if st != 200 or time.monotonic() >= deadline:
            return last
        time.sleep(0.2)


@pytest.fixture(scope="module")
def languages(agent, request):
    """The agent's /languages once versions are probed: {name: entry}; prints the table."""
    st, body = _poll_languages(agent)
    entries = {}
    if st == 200 and isinstance(body, dict) and isinstance(body.get("languages"), list):
        entries = {x.get("name"): x for x in body["languages"] if isinstance(x, dict)}
    lines = ["", "== sandpit-agent runtimes (GET /languages)"]
    if not entries:
        lines.append(f"   GET /languages -> {st}: {str(body)[:300]}")
    for name in sorted(entries):
        x = entries[name]
        lines.append("   %-11s %-9s %-10s %-22s %s" % (
            name, "compiled" if x.get("compiled") else "", x.get("file") or "-",
            ",".join(x.get("aliases") or []), x.get("version")))
    absent = [lang for lang in LANGS if lang not in entries]
    for lang in absent:
        miss = missing_tools(lang)
        lines.append("   %-11s ABSENT (%s)" % (
            lang, "not installed: " + ", ".join(miss) if miss else "tools installed!"))
    lines.append("== end of runtimes")
    _show(request.config, "\n".join(lines) + "\n")
    return {"status": st, "body": body, "entries": entries}


def require(lang):
    """Skips when the runtime's tool is not installed on this machine. (Installed but absent
    from /languages fails test_languages_lists_installed_runtimes_with_versions; the other
    tests still try the runtime, so their failures say what /execute answers.)"""
    miss = missing_tools(lang)
    if miss:
        pytest.skip(f"{lang}: not installed on this machine ({', '.join(miss)})")


@pytest.fixture(scope="module")
def orch(tmp_path_factory):
    """An orchestrator spawning its local agent(s), as `make run` does."""
    if not ORCH_BIN.exists():
        pytest.fail(f"{ORCH_BIN} not found: run `make`")
    # The runs go ahead in parallel: tool calls of one workspace would run one at a time
    # (test_orch_workspaces.py covers the shared workspace, with other languages too).
    o = Orchestrator(tmp_path_factory.mktemp("rt_orch"), "--log-level", "debug",
                     "--toolcall-workspace", "none")
    yield o
    rc = o.stop()
    assert rc == 0, f"orchestrator exited with {rc} after SIGTERM:\n{o.log_text()}"


class Runs:
    """The module's executions, run ahead in a few threads; `get` waits for one."""

    HTTP_TIMEOUT = 120.0

    def __init__(self, agent, workers=4):
        self.agent = agent
        self._orch = None  # the orchestrator, or the exception its start raised
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="rt")
        self.futures = {}
        self.lock = threading.Lock()

    def start_orch(self, request):
        """In the fixture's thread (fixtures are not thread-safe); a failure to start fails the
        orchestrator's cases only."""
        try:
            self._orch = request.getfixturevalue("orch")
        except Exception as e:  # noqa: BLE001 - re-raised by each orchestrator case
            self._orch = e

    def orch(self):
        if isinstance(self._orch, BaseException):
            raise self._orch
        assert self._orch is not None, "orchestrator not started"
        return self._orch

    def _run(self, via, lang, kind):
        if via == "agent":
            target, body = self.agent, agent_body(lang, kind)
        else:
            target, body = self.orch(), orch_body(lang, kind)
        t0 = time.monotonic()
        st, res, _ = target.post("/execute", body, timeout=self.HTTP_TIMEOUT)
        return st, res, time.monotonic() - t0

    def submit(self, via, lang, kind):
        key = (via, lang, kind)
        with self.lock:
            if key not in self.futures:
                self.futures[key] = self.pool.submit(self._run, via, lang, kind)
            return self.futures[key]

    def get(self, via, lang, kind):
        """(http status, body, seconds) of the case."""
        return self.submit(via, lang, kind).result()

    def close(self):
        for f in self.futures.values():
            f.cancel()
        self.pool.shutdown(wait=True)


@pytest.fixture(scope="module")
def runs(agent, languages, request):
    """Starts, ahead, every case the selected tests of this module will look at."""
    needed = []
    for item in request.session.items:
        if item.module is not sys.modules[__name__]:
            continue
        via_kind = CASES.get(getattr(item, "originalname", item.name))
        params = getattr(getattr(item, "callspec", None), "params", {})
        name = params.get("lang") or params.get("alias")
        if via_kind and name:
            lang = ALIAS_OF.get(name, name) if via_kind[1] == "alias" else name
            if kind_applies(lang, via_kind[1]) and not missing_tools(lang):
                needed.append((via_kind[0], name, via_kind[1]))
    r = Runs(agent)
    if any(v == "orch" for v, _, _ in needed):
        r.start_orch(request)
    for via, name, kind in needed:
        r.submit(via, name, kind)
    yield r
    r.close()


def kind_applies(lang, kind):
    if kind == "compile_error":
        return lang in COMPILED
    if kind == "stdin":
        return lang != "sql"
    return True


def agent_result(runs, lang, kind):
    st, res, took = runs.get("agent", lang, kind)
    assert st == 200, f"POST /execute ({lang}, {kind}) -> {st}: {res!r}"
    assert isinstance(res, dict), res
    return res, took


def orch_result(runs, lang, kind):
    st, res, took = runs.get("orch", lang, kind)
    assert st == 200, f"orchestrator POST /execute ({lang}, {kind}) -> {st}: {res!r}"
    assert isinstance(res, dict), res
    return res, took


def show(res):
    """The parts of a result worth reading in a failure message."""
    keys = ("status", "process_status", "exit_reason", "exit_code", "signal", "error", "language",
            "stdout", "stderr", "execution_time")
    return json.dumps({k: res.get(k) for k in keys if k in res}, ensure_ascii=False)[:4000]


by_lang = pytest.mark.parametrize("lang", LANGS)
by_compiled = pytest.mark.parametrize("lang", COMPILED)
by_stdin_lang = pytest.mark.parametrize(
    "lang", [pytest.param(lang, marks=pytest.mark.skip(
        reason="sql: the sqlite3 CLI reads the program itself; a SQL program has no stdin of "
               "its own to echo")) if lang == "sql" else lang for lang in LANGS])


# -- /languages, /health ------------------------------------------------------------------------

def test_languages_lists_installed_runtimes_with_versions(agent, languages):
    assert languages["status"] == 200, languages["body"]
    body = languages["body"]
    assert isinstance(body, dict) and isinstance(body.get("languages"), list), body
    names = [x.get("name") for x in body["languages"]]
    assert len(names) == len(set(names)), names
    assert set(names) <= set(LANGS), f"names outside the contract: {set(names) - set(LANGS)}"
    installed = [lang for lang in LANGS if not missing_tools(lang)]
    assert set(installed) <= set(names), f"installed but not listed: {set(installed) - set(names)}"
    assert "python" in names
    for x in body["languages"]:
        name = x["name"]
        assert isinstance(x.get("version"), str) and x["version"].strip(), (
            f"{name}: version not probed within 30 s: {x!r}")
        assert isinstance(x.get("aliases"), list), x
        assert set(ALIASES[name]) <= set(x["aliases"]), (name, x["aliases"])
        assert name not in x["aliases"], x
        assert x.get("compiled") is (name in COMPILED), x
        if name in FILES:
            assert x.get("file") == FILES[name], x
        elif name == "java":
            assert x.get("file") is None or str(x["file"]).endswith(".java"), x
        elif name != "python":
            assert isinstance(x.get("file"), str) and x["file"], x


def test_health_lists_languages_and_runtime_versions(agent, languages):
    h = agent.health()
    entries = languages["entries"]
    assert isinstance(h.get("languages"), list), h
    assert sorted(h["languages"]) == sorted(entries), (h["languages"], sorted(entries))
    rt = h.get("runtimes")
    assert isinstance(rt, dict), h
    assert sorted(rt) == sorted(entries), rt
    for name, x in entries.items():
        assert rt[name] == x["version"], (name, rt[name], x["version"])


def test_unknown_language_is_400_naming_the_available_ones(agent, languages):
    st, body, _ = agent.post("/execute", {"code": "print(1)", "language": "cobol"})
    assert st == 400, (st, body)
    err = body["error"]
    assert err.get("field") == "language", body
    msg = err.get("message") or ""
    assert "cobol" in msg, msg
    for name in languages["entries"]:
        assert re.search(r"(?<![\w+#])" + re.escape(name) + r"(?![\w+#])", msg), (name, msg)


def test_orchestrator_unknown_language_is_400(orch):
    st, body, _ = orch.execute("x", language="cobol", timeout=5)
    assert st == 400, (st, body)
    assert body.get("process_status") == "error", body
    assert "stdout" in body and "stderr" in body, body


# -- per runtime, through the agent -------------------------------------------------------------

@case("agent", "hello")
@by_lang
def test_hello(runs, languages, lang):
    require(lang)
    res, _ = agent_result(runs, lang, "hello")
    assert res["status"] == "completed", show(res)
    assert res["stdout"] == HELLO_OUT, show(res)
    assert res["stderr"] == "", show(res)
    assert res["exit_code"] == 0, show(res)
    assert res["exit_reason"] == "exited", show(res)
    assert res["error"] is None, show(res)
    assert res["language"] == lang, show(res)


@case("agent", "stdin")
@by_stdin_lang
def test_stdin_is_the_programs_input(runs, languages, lang):
    require(lang)
    res, _ = agent_result(runs, lang, "stdin")
    assert res["status"] == "completed", show(res)
    assert res["stdout"] == STDIN_IN, show(res)
    assert res["exit_code"] == 0, show(res)


@case("agent", "compile_error")
@by_compiled
def test_compile_error(runs, languages, lang):
    require(lang)
    res, _ = agent_result(runs, lang, "compile_error")
    assert res["status"] == "failed", show(res)
    assert res["exit_reason"] == "compile_error", show(res)
    assert COMPILE_ERROR_TEXT[lang] in res["stderr"], show(res)  # the compiler's own words
    assert res["stdout"] == "", show(res)
    assert isinstance(res["error"], str) and res["error"].startswith("CompileError"), show(res)
    assert res["language"] == lang, show(res)


@case("agent", "exit")
@by_lang
def test_nonzero_exit(runs, languages, lang):
    require(lang)
    res, _ = agent_result(runs, lang, "exit")
    assert res["status"] == "failed", show(res)
    assert res["exit_reason"] == "exited", show(res)
    assert res["stdout"] == "before exit\n", show(res)
    if lang == "sql":  # no exit statement: the error ends the program
        assert isinstance(res["exit_code"], int) and res["exit_code"] != 0, show(res)
        assert "no such table" in res["stderr"], show(res)
    else:
        assert res["exit_code"] == 3, show(res)
    assert res["signal"] is None, show(res)


@case("agent", "loop")
@by_lang
def test_infinite_loop_is_killed_at_its_timeout(runs, languages, lang):
    require(lang)
    res, took = agent_result(runs, lang, "loop")
    assert res["status"] == "timeout", show(res)
    assert res["exit_reason"] == "timeout", show(res)
    assert took < LOOP_BOUND_S[lang], (took, show(res))
    # What it printed before is kept (test_output_before_a_timeout_is_kept checks it with a
    # margin); a slow start (JVM, R, mono) under this module's load may print nothing in 2 s.
    assert res["stdout"] in ("", LOOP_OUT), show(res)


@case("agent", "stderr")
@by_lang
def test_stderr_is_captured_apart(runs, languages, lang):
    require(lang)
    res, _ = agent_result(runs, lang, "stderr")
    assert res["stdout"] == "to stdout\n", show(res)
    if lang == "sql":  # sqlite3 writes to stderr only its errors (and then fails)
        assert "no such table: no_such_table" in res["stderr"], show(res)
        assert res["status"] == "failed", show(res)
    else:
        assert "to stderr\n" in res["stderr"], show(res)
        assert res["status"] == "completed", show(res)
        assert res["exit_code"] == 0, show(res)


@case("agent", "alias")
@pytest.mark.parametrize("alias", ALL_ALIASES)
def test_alias_resolves_to_canonical_name(runs, languages, alias):
    lang = ALIAS_OF[alias]
    require(lang)
    res, _ = agent_result(runs, alias, "alias")
    assert res["language"] == lang, show(res)
    assert res["status"] == "completed" and res["stdout"] == HELLO_OUT, show(res)


# -- per runtime, through the orchestrator ------------------------------------------------------

@case("orch", "hello")
@by_lang
def test_orch_hello(runs, languages, lang, orch):
    require(lang)
    res, _ = orch_result(runs, lang, "hello")
    assert res["process_status"] == "completed", show(res)
    assert res["stdout"] == HELLO_OUT, show(res)
    assert res["stderr"] == "", show(res)
    if "language" in res:
        assert res["language"] == lang, show(res)


@case("orch", "compile_error")
@pytest.mark.parametrize("lang", ORCH_COMPILED)
def test_orch_compile_error(runs, languages, lang, orch):
    require(lang)
    res, _ = orch_result(runs, lang, "compile_error")
    assert res["process_status"] == "error", show(res)
    assert COMPILE_ERROR_TEXT[lang] in res["stderr"], show(res)
    assert res["stdout"] == "", show(res)


@case("orch", "loop")
@pytest.mark.parametrize("lang", ORCH_SAMPLE)
def test_orch_timeout(runs, languages, lang, orch):
    require(lang)
    res, took = orch_result(runs, lang, "loop")
    assert res["process_status"] == "timeout", show(res)
    assert res["stderr"].endswith("Timed out\n"), show(res)
    assert took < LOOP_BOUND_S[lang], (took, show(res))
    assert res["stdout"] in ("", LOOP_OUT), show(res)


@case("orch", "exit")
@pytest.mark.parametrize("lang", ORCH_SAMPLE)
def test_orch_nonzero_exit(runs, languages, lang, orch):
    require(lang)
    res, _ = orch_result(runs, lang, "exit")
    assert res["process_status"] == "error", show(res)
    assert res["stdout"] == "before exit\n", show(res)
    if "exit_code" in res:
        if lang == "sql":
            assert res["exit_code"] not in (0, None), show(res)
        else:
            assert res["exit_code"] == 3, show(res)


@case("orch", "alias")
@pytest.mark.parametrize("alias", ORCH_ALIASES)
def test_orch_alias_routes_to_canonical_runtime(runs, languages, alias, orch):
    lang = ALIAS_OF[alias]
    require(lang)
    res, _ = orch_result(runs, alias, "alias")
    assert res["process_status"] == "completed", show(res)
    assert res["stdout"] == HELLO_OUT, show(res)
    if "language" in res:
        assert res["language"] == lang, show(res)


@pytest.mark.parametrize("lang,tag", [("c", "c"), ("cpp", "c++"), ("javascript", "js"),
                                      ("sh", "sh"), ("bash", "bash")])
def test_orch_markdown_block_of_the_language(languages, orch, lang, tag):
    """A fenced block tagged with the language (or an alias) is the code; others are not."""
    require(lang)
    text = (f"Here is the program:\n```python\nprint('not this one')\n```\n"
            f"```{tag}\n{P[lang]['hello']}```\nIt prints a greeting.\n")
    st, res, _ = orch.execute(text, language=lang, timeout=RUN_TIMEOUT)
    assert st == 200, (st, res)
    assert res["process_status"] == "completed", show(res)
    assert res["stdout"] == HELLO_OUT, show(res)


def test_orch_languages_lists_the_runtimes(orch, languages):
    st, body, _ = orch.get("/languages")
    assert st == 200, (st, body)
    names = body.get("languages") if isinstance(body, dict) else None
    assert isinstance(names, list), body
    names = [x["name"] if isinstance(x, dict) else x for x in names]
    missing = sorted(set(languages["entries"]) - set(names))
    assert not missing, f"the agent offers {missing} but the orchestrator lists only {names}"


# -- particular points of the contract ----------------------------------------------------------

SH_PROBE = 'echo "${BASH_VERSION:-posix sh}"\n'


@pytest.mark.parametrize("name", ["sh", "dash"])
def test_sh_is_a_posix_shell_not_bash(agent, languages, orch, name):
    """sh (alias dash) runs /bin/sh, not bash, through the agent and the orchestrator."""
    require("sh")
    res = agent.execute(SH_PROBE, language=name, timeout=10)
    assert res["status"] == "completed" and res["stdout"] == "posix sh\n", show(res)
    assert res["language"] == "sh", show(res)
    st, res, _ = orch.execute(SH_PROBE, language=name, timeout=10)
    assert st == 200, (st, res)
    assert res["process_status"] == "completed", show(res)
    assert res["stdout"] == "posix sh\n", show(res)


def test_bash_is_bash(agent, languages):
    require("bash")
    res = agent.execute(SH_PROBE, language="bash", timeout=10)
    assert res["status"] == "completed", show(res)
    assert re.match(r"^\d+\.\d+", res["stdout"]), show(res)


def test_sql_runs_on_an_in_memory_database_in_list_mode(agent, languages, orch):
    require("sql")
    code = ("CREATE TABLE t(x INTEGER, y TEXT);\n"
            "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c');\n"
            "SELECT sum(x) FROM t;\n"
            "SELECT x, y FROM t ORDER BY x DESC LIMIT 2;\n"
            "SELECT 1+1;\n")
    want = "6\n3|c\n2|b\n2\n"
    res = agent.execute(code, language="sql", timeout=10)
    assert res["status"] == "completed", show(res)
    assert res["stdout"] == want, show(res)
    # in-memory: nothing is left behind for the next execution
    res = agent.execute("SELECT count(*) FROM sqlite_master;\n", language="sqlite", timeout=10)
    assert res["status"] == "completed" and res["stdout"] == "0\n", show(res)
    st, res, _ = orch.execute(code, language="sql", timeout=10)
    assert st == 200 and res["process_status"] == "completed", (st, res)
    assert res["stdout"] == want, show(res)


@pytest.mark.parametrize("lang", ["c", "javascript"])
def test_output_before_a_timeout_is_kept(agent, languages, orch, lang):
    """The loop programs again, with time enough to start even on a loaded machine."""
    require(lang)
    with ThreadPoolExecutor(2) as pool:  # both at once: 4 s, not 8
        via_agent = pool.submit(agent.execute, P[lang]["loop"], language=lang, timeout=4)
        via_orch = pool.submit(orch.execute, P[lang]["loop"], language=lang, timeout=4)
        res = via_agent.result()
        st, ores, _ = via_orch.result()
    assert res["status"] == "timeout", show(res)
    assert res["stdout"] == LOOP_OUT, show(res)
    res = ores
    assert st == 200 and res["process_status"] == "timeout", (st, res)
    assert res["stdout"] == LOOP_OUT, show(res)
    assert res["stderr"].endswith("Timed out\n"), show(res)


def test_no_stdin_field_means_empty_stdin(agent, languages):
    require("c")
    res = agent.execute(P["c"]["stdin"], language="c", timeout=10)
    assert res["status"] == "completed", show(res)
    assert res["stdout"] == "", show(res)


def _slow_to_compile_c(n=4000):
    """A C program gcc needs ~1 s (-O0) to several (-O2) to compile, and no time to run."""
    src = ["#include <stdio.h>"]
    src += [f"int f{i}(int x) {{ return x * {i} + {i % 7}; }}" for i in range(n)]
    src.append('int main(void) { printf("compiled %%d\\n", f0(1) + f%d(0) > -1); return 0; }'
               % (n - 1))
    return "\n".join(src) + "\n"


def test_compilation_does_not_count_against_the_run_timeout(agent, languages):
    """The timeout counts the run; compiling has its own limit."""
    require("c")
    t0 = time.monotonic()
    res = agent.execute(_slow_to_compile_c(), language="c", timeout=0.5, timeout_http=120)
    took = time.monotonic() - t0
    assert res["status"] == "completed", (took, show(res))
    assert res["stdout"] == "compiled 1\n", show(res)


# Scans the working directory and /tmp for files holding its own marker (a literal, so its
# source and binary hold it; it also writes it to a file) and for the markers read from stdin
# (the other executions'). The other markers never appear in this program's source or binary.
SCAN_C = r'''
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char OWN[] = "@OWN@";
static char others[8][128];
static int n_others;

static int holds(const char *path, const char *needle)
{
    FILE *f = fopen(path, "rb");
    size_t len = strlen(needle), n, cap = 0, used = 0;
    char *buf = NULL, chunk[65536];
    int found = 0;

    if (!f)
        return 0;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0 && used < (64u << 20)) {
        if (used + n > cap) {
            cap = (used + n) * 2;
            buf = realloc(buf, cap);
        }
        memcpy(buf + used, chunk, n);
        used += n;
    }
    fclose(f);
    for (size_t i = 0; buf && i + len <= used && !found; i++)
        found = !memcmp(buf + i, needle, len);
    free(buf);
    return found;
}

static void scan(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    if (!d)
        return;
    while ((e = readdir(d))) {
        char p[4096];
        struct stat st;

        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (lstat(p, &st))
            continue;
        if (S_ISDIR(st.st_mode) && depth < 8)
            scan(p, depth + 1);
        else if (S_ISREG(st.st_mode)) {
            if (holds(p, OWN))
                printf("OWN %s\n", p);
            for (int i = 0; i < n_others; i++)
                if (holds(p, others[i]))
                    printf("OTHER %s %s\n", others[i], p);
        }
    }
    closedir(d);
}

int main(void)
{
    char cwd[4096], line[128];
    DIR *d;
    struct dirent *e;
    FILE *f;

    while (n_others < 8 && fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\n")] = 0;
        if (line[0])
            strcpy(others[n_others++], line);
    }
    f = fopen("written-at-run-time.txt", "w");
    if (f) {
        fputs(OWN, f);
        fclose(f);
    }
    printf("CWD %s\n", getcwd(cwd, sizeof cwd) ? cwd : "?");
    d = opendir(".");
    while (d && (e = readdir(d)))
        printf("FILE %s\n", e->d_name);
    if (d)
        closedir(d);
    fflush(stdout);
    sleep(2); /* the other execution is up by now */
    scan(".", 0);
    if (strcmp(cwd, "/tmp"))
        scan("/tmp", 0);
    return 0;
}
'''


def _scan_program(marker):
    return SCAN_C.replace("@OWN@", marker)


def _check_scan(res, own, others):
    assert res["status"] == "completed", show(res)
    out = res["stdout"]
    assert re.search(r"^OWN ", out, re.M), f"positive control: own marker not found\n{out}"
    for m in others:
        assert m not in out, f"saw another execution's files ({m}):\n{out}"
    assert "OTHER" not in out, out


def test_concurrent_compiled_executions_do_not_see_each_others_files(agent, languages):
    require("c")
    a, b = "mkA" + uuid.uuid4().hex, "mkB" + uuid.uuid4().hex
    results = {}

    def run(name, own, other):
        try:
            results[name] = agent.execute(_scan_program(own), language="c", stdin=other + "\n",
                                          timeout=30, timeout_http=120)
        except BaseException as e:  # noqa: B036 - reported by the main thread
            results[name] = e

    threads = [threading.Thread(target=run, args=("a", a, b)),
               threading.Thread(target=run, args=("b", b, a))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results.values():
        if isinstance(r, BaseException):
            raise r
    _check_scan(results["a"], a, [b])
    _check_scan(results["b"], b, [a])
    # and after both are gone: a third never finds their sources, binaries or files
    c = "mkC" + uuid.uuid4().hex
    res = agent.execute(_scan_program(c), language="c", stdin=f"{a}\n{b}\n", timeout=30,
                        timeout_http=120)
    _check_scan(res, c, [a, b])


@pytest.fixture(autouse=True)
def _orch_log_on_failure(request):
    """The orchestrator's log after each test that used it (pytest shows it on failure)."""
    yield
    if "orch" in request.fixturenames:
        log_on_failure(request.getfixturevalue("orch"))


def test_languages_flag_restricts_the_set(make_agent):
    ag = make_agent(languages="c,python", preload="")
    st, body = _poll_languages(ag)
    assert st == 200, (st, body)
    names = sorted(x["name"] for x in body["languages"])
    want = sorted(x for x in ("c", "python") if not missing_tools(x))
    assert names == want, body
    h = ag.health()
    assert sorted(h["languages"]) == want, h
    assert sorted(h.get("runtimes") or {}) == want, h
    # allowed ones run, by name and alias
    if "c" in want:
        res = ag.execute(P["c"]["hello"], language="gcc", timeout=20)
        assert res["status"] == "completed" and res["stdout"] == HELLO_OUT, show(res)
        assert res["language"] == "c", show(res)
    res = ag.execute('print("hello world")', language="python", timeout=20)
    assert res["status"] == "completed" and res["stdout"] == HELLO_OUT, show(res)
    # others are a clean 400 naming what is available
    for lang in ("javascript", "bash", "cpp"):
        st, body, _ = ag.post("/execute", {"code": "x", "language": lang})
        assert st == 400, (lang, st, body)
        err = body["error"]
        assert err.get("field") == "language", body
        assert "python" in err.get("message", ""), body
        assert re.search(r"(?<![\w+#])c(?![\w+#])", err.get("message", "")), body


def test_restricted_policy_does_not_pretend_to_confine_other_languages(make_agent):
    """--policy restricted is AST checks on Python: another language is refused, not run
    unconfined; with the override allowed, asking for "standard" runs it."""
    ag = make_agent(languages="c,python", preload="", policy="restricted")
    st, body, _ = ag.post("/execute", {"code": "int main(){return 0;}", "language": "c"})
    assert st == 400, body
    assert body["error"]["field"] == "policy" and "Python only" in body["error"]["message"], body
    assert ag.execute("print(1)")["status"] == "completed"
    ag2 = make_agent(languages="c,python", preload="", policy="restricted",
                     env_extra={"SANDPIT_ALLOW_POLICY_OVERRIDE": "true"})
    res = ag2.execute("int main(){return 0;}", language="c", policy="standard")
    assert res["status"] == "completed", res


def test_cold_child_compile_then_run_clock(make_agent):
    """Without a warm pool every job gets a child still isolating itself when the job arrives:
    its "ready" and "compiled" signals must both be heard, so the run is killed at its own
    timeout, not at the compile phase's longer limit (30 s for c)."""
    ag = make_agent(languages="c,python", preload="", warm_pool=0)
    t0 = time.monotonic()
    res = ag.execute("int main(){ for(;;); }", language="c", timeout=2, timeout_http=90)
    took = time.monotonic() - t0
    assert res["status"] == "timeout" and "compilation" not in (res["error"] or ""), res
    assert took < 20, took  # 2 s run + compile; the compile limit alone would be 30 s
    res = ag.execute('#include <stdio.h>\nint main(){ puts("ok"); return 0; }', language="c")
    assert res["status"] == "completed" and res["stdout"] == "ok\n", res
