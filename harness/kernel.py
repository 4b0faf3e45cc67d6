"""A Jupyter kernel's cells (docs/kernels.md): what a session's cell does differently when the
agent runs it for /api/kernels (the spec says "kernel": true).

- IPython's shell escape: a statement-level line `!command` runs `command` with /bin/sh in
  the session's sandbox, the working directory (the workspace) as its directory, its output
  (stdout and stderr together, as IPython shows them) written to the cell's stdout as it
  comes; `_exit_code` holds its status. transform() rewrites such lines before the cell is
  compiled; a `!` inside a string, a bracket or a continued line is left alone. Under the
  restricted policy a shell escape is refused at compile time: that policy starts no program.
- input(): the cell's stdin is its side channel to the agent (a socket, see
  agent/kernel_chan.c). input(prompt) sends an 'I' record {"prompt", "password"} and waits
  for the line; the agent answers with it (from the client's input_reply) or with "refused"
  when the request had allow_stdin false: StdinNotImplementedError, as IPython raises. The
  wait is the cell's: its timeout and an interrupt end it.
- An uncaught exception goes to the agent as an 'E' record {"ename", "evalue", "traceback"}
  (the error message's fields) instead of the stderr traceback a plain cell prints.
"""

import io
import json
import os
import re
import subprocess
import sys
import tokenize

SHELL_NAME = "_sandpit_shell_"
_PLACEHOLDER = re.compile(r"_sandpit_sh(\d+)_")
_PROMPT_MAX = 4096  # characters of a prompt sent (the agent cuts to 4096 bytes too)
_REFUSED = 0xFFFFFFFF
_os_read, _os_write = os.read, os.write


class StdinNotImplementedError(NotImplementedError):
    """input() in a cell whose request had allow_stdin false (IPython's name and message)."""


# ---------------------------------------------------------------- the shell escape

def _candidates(lines):
    """Indexes of the lines that may be shell escapes: `!` first, not `!=`."""
    found = []
    for i, line in enumerate(lines):
        text = line.lstrip(" \t")
        if text.startswith("!") and not text.startswith("!="):
            found.append(i)
    return found


def _statement_level(lines, found):
    """Those of `found` whose `!` starts a logical line: each is replaced by a placeholder name
    and the source tokenized; a placeholder that comes out as a NAME at a statement's start is
    one (inside a string it is part of a STRING token, inside brackets not first)."""
    trial = list(lines)
    for i in found:
        line = lines[i]
        indent = line[:len(line) - len(line.lstrip(" \t"))]
        trial[i] = "%s_sandpit_sh%d_\n" % (indent, i)
    confirmed, first = set(), True
    try:
        for tok in tokenize.generate_tokens(io.StringIO("".join(trial)).readline):
            if tok.type == tokenize.NAME and first:
                m = _PLACEHOLDER.fullmatch(tok.string)
                if m and int(m.group(1)) + 1 == tok.start[0]:
                    confirmed.add(int(m.group(1)))
            if tok.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                first = True
            elif tok.type not in (tokenize.NL, tokenize.COMMENT):
                first = False
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass  # the compiler will say what is wrong; lines confirmed before it stay confirmed
    return sorted(confirmed)


def shell_lines(source):
    """Line numbers (1-based) of the statement-level `!command` lines of source."""
    lines = source.splitlines(keepends=True)
    found = _candidates(lines)
    return [i + 1 for i in _statement_level(lines, found)] if found else []


def transform(source):
    """source with each statement-level `!command` line made a call of the shell helper."""
    lines = source.splitlines(keepends=True)
    found = _candidates(lines)
    if not found:
        return source
    for i in _statement_level(lines, found):
        line = lines[i]
        body = line.lstrip(" \t")
        indent = line[:len(line) - len(body)]
        command = body[1:].rstrip("\r\n")
        lines[i] = "%s%s(%r)\n" % (indent, SHELL_NAME, command)
    return "".join(lines)


def shell(command):
    """Runs command with /bin/sh -c in the working directory; its output to sys.stdout as it
    comes. Sets `_exit_code` in the caller's globals (as IPython does); returns None."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    proc = subprocess.Popen(["/bin/sh", "-c", command], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=os.getcwd())
    try:
        while True:
            chunk = proc.stdout.read1(65536)
            if not chunk:
                break
            sys.stdout.write(chunk.decode("utf-8", "replace"))
            sys.stdout.flush()
        code = proc.wait()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        proc.stdout.close()
    sys._getframe(1).f_globals["_exit_code"] = code


# ---------------------------------------------------------------- the side channel

def _send(kind, obj):
    data = json.dumps(obj).encode("utf-8")
    record = kind + len(data).to_bytes(4, "big") + data
    while record:
        record = record[_os_write(0, record):]


def _recv_exact(n):
    parts = []
    while n:
        chunk = _os_read(0, min(n, 1 << 16))
        if not chunk:
            raise EOFError("the input channel closed")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def kernel_input(prompt=""):
    """input() of a kernel cell: the line comes from the client (input_request/input_reply)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (AttributeError, ValueError, OSError):
            pass
    try:
        _send(b"I", {"prompt": str(prompt)[:_PROMPT_MAX], "password": False})
    except (BrokenPipeError, ConnectionResetError):
        raise EOFError("the input channel closed") from None  # the agent ended it
    n = int.from_bytes(_recv_exact(4), "big")
    if n == _REFUSED:
        raise StdinNotImplementedError(
            "raw_input was called, but this frontend does not support input requests.")
    return _recv_exact(n).decode("utf-8", "replace")


def send_error(exc, traceback_text):
    """The uncaught exception as the error message's fields. False when the channel is gone."""
    try:
        _send(b"E", {"ename": type(exc).__name__, "evalue": str(exc),
                     "traceback": traceback_text.rstrip("\n").split("\n")})
        return True
    except (OSError, ValueError, TypeError):
        return False


def begin(builtins_dict, namespace):
    """Before a kernel cell runs: input() asks the client, sys.stdin reads nothing (the
    socket is the protocol's), the shell helper is in the namespace."""
    builtins_dict["input"] = kernel_input
    sys.stdin = io.StringIO("")
    namespace[SHELL_NAME] = shell
