"""The restricted policy's process layer: a CPython audit hook.

The AST rules and module proxies decide what restricted code may *name*.
This layer decides what the process may *do* while it runs, however the
call was reached: an allowed library function that starts a program, loads
native code, unpickles, builds code objects or runs code from a file that
is not part of the installed libraries raises an audit event, and the hook
refuses it (PolicyViolation). Audit hooks cannot be removed, so install()
belongs in the execution's own forked child, never in the zygote; it stays
on for the rest of that process (the harness's report needs none of these).

What stays allowed: code compiled from pseudo files ("<code>", "<string>",
"<frozen os>": the user's program, namedtuple/dataclass templates) and code
and extension modules whose files resolve inside the interpreter's library
directories (lazy imports of numpy, pandas, scipy submodules).
"""

import os
import sys
import sysconfig
import threading

_PROGRAM = "it starts a program"
_NATIVE = "it reaches native code or raw memory through ctypes"

# event -> why it is refused, whatever its arguments
REFUSED_EVENTS = {
    "subprocess.Popen": _PROGRAM,
    "os.system": _PROGRAM,
    "os.exec": _PROGRAM,
    "os.spawn": _PROGRAM,
    "os.posix_spawn": _PROGRAM,
    "os.startfile": _PROGRAM,
    "os.fork": "it creates a process",
    "os.forkpty": "it creates a process",
    "pickle.find_class": "unpickling runs arbitrary code",
}
# ctypes.dlopen(None) is allowed (importing ctypes opens the interpreter's
# own symbols); any other library, and what reaches native code or memory
# through ctypes, is not
REFUSED_EVENTS.update(dict.fromkeys((
    "ctypes.dlsym", "ctypes.dlsym/handle", "ctypes.call_function", "ctypes.cdata",
    "ctypes.cdata/buffer", "ctypes.addressof", "ctypes.string_at", "ctypes.wstring_at",
    "ctypes.PyObj_FromPtr", "ctypes.create_string_buffer", "ctypes.create_unicode_buffer",
    "ctypes.get_errno", "ctypes.set_errno", "ctypes.seh_exception"), _NATIVE))


def library_roots():
    """The directories installed Python code lives in (absolute, resolved)."""
    roots = set()
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    roots.update(p for p in sys.path if p and os.path.isabs(p) and os.path.isdir(p))
    return tuple(sorted({os.path.realpath(r) for r in roots}))


def _under(path, root):
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class AuditGuard:
    """The hook: call(event, args) raises `violation(what, kind)` for a
    refused event. `cwd` (the working directory) never counts as library
    code, even when it lies under a library root."""

    def __init__(self, cwd, violation, roots=None):
        self.cwd = os.path.realpath(cwd)
        self.violation = violation
        self.roots = library_roots() if roots is None else tuple(roots)
        self.last_open = {}  # thread id -> last path opened for reading

    def refuse(self, event, why):
        raise self.violation("%s is not allowed under the restricted policy: %s"
                             % (event, why), "process")

    def trusted_file(self, filename):
        """True for a pseudo file name or a file inside the libraries."""
        if isinstance(filename, bytes):
            filename = os.fsdecode(filename)
        elif isinstance(filename, os.PathLike):
            filename = os.fspath(filename)
        if not isinstance(filename, str) or not filename:
            return False
        if filename.startswith("<") and filename.endswith(">") and os.sep not in filename:
            # a real file of that name in the working directory is the user's
            return not os.path.lexists(os.path.join(self.cwd, filename))
        path = os.path.realpath(os.path.join(self.cwd, filename))
        return (not _under(path, self.cwd)
                and any(_under(path, root) for root in self.roots))

    def __call__(self, event, args):
        why = REFUSED_EVENTS.get(event)
        if why is not None:
            self.refuse(event, why)
        if event == "open":
            if isinstance(args[0], (str, bytes)) and "r" in (args[1] or "r"):
                self.last_open[threading.get_ident()] = args[0]
        elif event == "exec":
            if not self.trusted_file(getattr(args[0], "co_filename", None)):
                self.refuse("running code from %r" % getattr(args[0], "co_filename", None),
                            "only the program and the installed libraries run")
        elif event == "ctypes.dlopen":
            if args[0] is not None:
                self.refuse("loading the native library %r" % (args[0],), _NATIVE)
        elif event == "compile":
            if args[1] is not None and not self.trusted_file(args[1]):
                self.refuse("compiling %r" % (args[1],),
                            "only the program and the installed libraries run")
        elif event == "import":
            if len(args) > 1 and args[1] is not None and not self.trusted_file(args[1]):
                self.refuse("loading module %r from %r" % (args[0], args[1]),
                            "only the installed libraries load")
        elif event in ("marshal.loads", "marshal.load"):
            source = self.last_open.get(threading.get_ident())
            if source is None or not self.trusted_file(source):
                self.refuse("unmarshalling code read from %r" % (source,),
                            "only the installed libraries' bytecode loads")


def install(cwd, violation):
    """Add the hook to this process (irrevocably). platform.uname() is
    answered first: its processor field runs `uname -p` once and is cached,
    and pandas asks for it on import (when it was not preloaded)."""
    import platform
    platform.uname()[4]
    guard = AuditGuard(cwd, violation)
    sys.addaudithook(guard)
    return guard
