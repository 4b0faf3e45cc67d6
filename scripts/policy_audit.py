#!/usr/bin/python3
"""Audit the restricted policy: walk what restricted code can reach, flag dangerous paths.

Run as `/usr/bin/python3 scripts/policy_audit.py` (tests/harness/test_policy_audit.py runs it in
`make test`). It preloads what the agent preloads, installs the policy in this process (its
library guards and audit hook included) and walks every allowed module AS THE POLICY EXPOSES IT:
module attributes through ModuleProxy (allow-list, refused and guarded functions), other
attributes through the policy's guarded getattr (no "_" names, no frame/code attributes), to a
bounded depth (each module in full; from a module, two attribute steps into its classes and
objects). Nothing reached is called.

A reached object is a finding when it is
- one of the interpreter's dangerous callables (DANGEROUS below: exec/eval/compile/import
  machinery, importlib/runpy/zipimport/pkgutil loaders, subprocess/os.system/exec*/spawn*/fork/
  popen/pty, ctypes, pickle/marshal/shelve loaders, code/codeop, frame walkers);
- a library function whose name says it loads code, unpickles or starts a program (NAME_RE);
- a code object, frame, traceback, a module's globals dict or the builtins dict;
- an object of ctypes/cffi;
- a mapping with a program setting (a key ending in _path/_args/executable/command) that
  restricted code can change (the audit tries it and restores it).
Findings in REVIEWED (path -> why it is safe, each reviewed by hand) are reported as reviewed;
any other finding is NEW: printed with its path, and the exit status is 1.

--plant NAME (for tests) adds a hole before walking: a module attribute of an allowed module
bound to a dangerous function; the audit must find it.
"""

import argparse
import builtins
import functools
import os
import re
import sys
import tempfile
import time
import types

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from harness import policy, runner  # noqa: E402

# Reviewed findings: path -> why restricted code having it is not a hole. Keep each reviewed:
# a new entry needs the reason it is safe (or a guard in harness/policy*.py instead).
REVIEWED = {
    # named like loaders, and reviewed: they read data, never code
    # the numpy.load guard (RestrictedPolicy.numpy_load: allow_pickle=True refused; the audit
    # hook refuses pickle.find_class whatever reaches the unpickler)
    "harness.policy.load": "the guarded numpy.load",
    "json.load": "parses JSON",
    "json.loads": "parses JSON",
    "matplotlib.font_manager.json_load": "reads matplotlib's JSON font cache",
    "pandas._libs.json.loads": "ujson: parses JSON",
    "matplotlib.style.core.reload_library": "re-reads the .mplstyle key: value files",
    "matplotlib.layout_engine.LayoutEngine.execute": "lays out a figure",
    "matplotlib.layout_engine.TightLayoutEngine.execute": "lays out a figure",
    "matplotlib.layout_engine.ConstrainedLayoutEngine.execute": "lays out a figure",
    "matplotlib.layout_engine.PlaceHolderLayoutEngine.execute": "lays out a figure",
    "matplotlib.figure.Figure.execute_constrained_layout": "lays out a figure",
    "numpy.random.bit_generator.SeedSequence.spawn": "derives random seeds",
    "numpy.random.bit_generator.ISpawnableSeedSequence.spawn": "derives random seeds",
    "numpy.random.bit_generator.SeedlessSeedSequence.spawn": "derives random seeds",
    # runs SQL on a connection the code passes in; making one needs sqlite3 or sqlalchemy,
    # neither importable under the policy
    "pandas.io.sql.execute": "SQL on a connection the code cannot create",
    "pandas.io.sql.SQLDatabase.execute": "SQL on a connection the code cannot create",
    "pandas.io.sql.SQLiteDatabase.execute": "SQL on a connection the code cannot create",
    # dataclasses re-exports it; calling it needs a code object, and none is reachable (the
    # audit flags any code object it reaches)
    "types.FunctionType": "needs a code object, none reachable",
    # program settings that are not live: read once when matplotlib starts (rcParams is built
    # from them); the live rcParams keys are frozen (harness/policy_libs.py) and the audit hook
    # refuses starting any program
    "matplotlib.defaultParams['animation.convert_args']": "read at start only",
    "matplotlib.defaultParams['animation.convert_path']": "read at start only",
    "matplotlib.defaultParams['animation.ffmpeg_args']": "read at start only",
    "matplotlib.defaultParams['animation.ffmpeg_path']": "read at start only",
    "scipy.io.matlab.miobase.doc_dict['load_args']": "docstring fragments",
}

# (module, names) whose objects are dangerous wherever they are reached
DANGEROUS = {
    "builtins": "exec eval compile __import__ open globals vars locals breakpoint input "
                "getattr setattr delattr",
    "importlib": "import_module reload __import__",
    "importlib.util": "spec_from_file_location module_from_spec spec_from_loader LazyLoader "
                      "find_spec",
    "importlib.machinery": "SourceFileLoader SourcelessFileLoader ExtensionFileLoader "
                           "FileFinder PathFinder ModuleSpec",
    "runpy": "run_path run_module",
    "zipimport": "zipimporter",
    "pkgutil": "get_loader find_loader iter_modules walk_packages ImpImporter ImpLoader",
    "subprocess": "Popen run call check_call check_output getoutput getstatusoutput",
    "os": "system popen execv execve execl execle execlp execlpe execvp execvpe spawnv spawnve "
          "spawnl spawnle spawnlp spawnlpe spawnvp spawnvpe posix_spawn posix_spawnp fork "
          "forkpty kill killpg open fdopen",
    "pty": "spawn fork",
    "_posixsubprocess": "fork_exec",
    "ctypes": "CDLL PyDLL cdll pydll pythonapi cast memmove memset string_at wstring_at "
              "addressof pointer POINTER CFUNCTYPE PYFUNCTYPE",
    "pickle": "load loads Unpickler",
    "_pickle": "load loads Unpickler",
    "marshal": "load loads",
    "shelve": "open Shelf DbfilenameShelf",
    "code": "InteractiveInterpreter InteractiveConsole interact compile_command",
    "codeop": "compile_command Compile CommandCompiler",
    "sys": "_getframe settrace setprofile addaudithook",
    "gc": "get_objects get_referrers get_referents",
    "inspect": "currentframe stack trace getouterframes getinnerframes",
    "traceback": "walk_stack walk_tb",
    "types": "FunctionType CodeType LambdaType",
    "io": "open_code",
    "shutil": "which",
}

NAME_RE = re.compile(r"load_module|exec_module|load_source|load_compiled|load_dynamic|run_path|"
                     r"run_module|import_module|spec_from|module_from_spec|load_library|dlopen|"
                     r"read_pickle|unpickl|pickle_load|load_pickle|popen|spawn|^system$|^exec|"
                     r"fork|subprocess|run_command|^shell|_load$|^load$|^loads$", re.I)
SETTING_RE = re.compile(r"(_path|_args|executable|command)$")
RAW_TYPES = (types.CodeType, types.FrameType, types.TracebackType)

LEAVES = (str, bytes, int, float, complex, bool, type(None), property)
OBJECT_DEPTH = 2  # attribute steps from a module into its classes and objects


def canonical(value):
    """'module.qualname' of a function, class or method, else None."""
    if callable(value) and not isinstance(value, functools.partial):
        module = getattr(value, "__module__", None)
        if module is None:  # a C method: its class says where it lives
            module = getattr(getattr(value, "__objclass__", None), "__module__", None)
        name = getattr(value, "__qualname__", None)
        if isinstance(module, str) and isinstance(name, str):
            return "%s.%s" % (module, name)
    return None


def dangerous_objects():
    """id -> (object, 'module.name') for DANGEROUS."""
    import importlib
    found = {}
    for module_name, names in DANGEROUS.items():
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        for name in names.split():
            value = getattr(module, name, None)
            if value is not None:
                found.setdefault(id(value), (value, "%s.%s" % (module_name, name)))
    return found


class Audit:
    def __init__(self, restriction):
        self.policy = restriction
        self.danger = dangerous_objects()
        self.module_dicts = {id(m.__dict__): m for m in list(sys.modules.values())
                             if isinstance(m, types.ModuleType)}
        self.module_dicts[id(builtins.__dict__)] = builtins
        # module-level dicts by id -> 'module.name', to name a mapping finding stably
        self.dict_owner = {id(v): "%s.%s" % (m.__name__, k)
                           for m in list(sys.modules.values()) if isinstance(m, types.ModuleType)
                           for k, v in list(vars(m).items()) if isinstance(v, dict)}
        self.seen = set()
        self.findings = {}  # path -> what
        self.objects = 0

    def flag(self, key, path, what):
        """Record a finding under `key` (the object's own name, so the key does
        not depend on the walk's order), with the first `path` that reached it."""
        self.findings.setdefault(key, (path, what))

    def classify(self, path, value):
        key = canonical(value) or path
        entry = self.danger.get(id(value))
        if entry is not None and entry[0] is value:
            self.flag(entry[1], path, "is %s" % entry[1])
            return
        owner = getattr(value, "__self__", None)
        if isinstance(value, policy.RestrictedPolicy) or isinstance(owner,
                                                                     policy.RestrictedPolicy):
            self.flag(key, path, "is the policy itself (its guards and originals)")
        if isinstance(value, functools.partial):  # .func and .args are public
            for index, item in enumerate((value.func,) + tuple(value.args)):
                self.classify("%s.args[%d]" % (path, index - 1) if index else path + ".func",
                              item)
        if isinstance(value, RAW_TYPES):
            self.flag(path, path, "is a %s object" % type(value).__name__)
        elif isinstance(value, dict) and id(value) in self.module_dicts:
            self.flag(path, path, "is the globals of module %s"
                      % self.module_dicts[id(value)].__name__)
        kind = type(value) if not isinstance(value, type) else value
        module = getattr(kind, "__module__", "") or ""
        if module.split(".")[0] in ("ctypes", "_ctypes", "cffi", "_cffi_backend"):
            self.flag(key, path, "is a ctypes/cffi object (%s)" % module)
        if callable(value) and not isinstance(value, type):
            name = getattr(value, "__name__", "")
            if isinstance(name, str) and NAME_RE.search(name):
                self.flag(key, path, "is a function named %r (loads code, unpickles or "
                                     "starts a program?)" % name)
        if isinstance(value, dict) and not isinstance(value, type):
            self.settings(path, value)

    def settings(self, path, mapping):
        owner = self.dict_owner.get(id(mapping), path)
        try:
            keys = [k for k in list(dict.keys(mapping))[:2000]
                    if isinstance(k, str) and SETTING_RE.search(k)]
        except Exception:
            return
        for key in keys:
            old = dict.__getitem__(mapping, key)
            if callable(old):
                continue  # a table of functions (validators), not a setting
            try:
                mapping[key] = "/bin/sh"
            except Exception:
                continue  # refused (PolicyViolation) or invalid: fine
            dict.__setitem__(mapping, key, old)
            self.flag("%s[%r]" % (owner, key), "%s[%r]" % (path, key),
                      "a program setting restricted code can change")

    def walk(self, roots):
        modules = [(name, self.policy.import_(name, None, None, None, 0)) for name in roots]
        # import_ returns the top-level package: walk from there
        queue = [(name.split(".")[0], proxy) for name, proxy in modules]
        while queue:
            path, proxy = queue.pop()
            target = proxy.__dict__["_sandpit_target"]
            if id(target) in self.seen:
                continue
            self.seen.add(id(target))
            for name in sorted(dir(proxy)):
                try:
                    value = getattr(proxy, name)
                except Exception:
                    continue  # refused or absent: not reachable
                child = "%s.%s" % (path, name)
                if isinstance(value, policy.ModuleProxy):
                    queue.append((child, value))
                    continue
                self.visit(child, value, OBJECT_DEPTH)

    def visit(self, path, value, depth):
        self.objects += 1
        self.classify(path, value)
        if depth == 0 or id(value) in self.seen or isinstance(value, policy.ModuleProxy):
            return
        if isinstance(value, LEAVES) or (callable(value) and not isinstance(value, type)
                                         and not isinstance(value, functools.partial)):
            return  # nothing public to walk into (functions, numbers, text)
        self.seen.add(id(value))
        try:
            names = sorted(n for n in dir(value) if isinstance(n, str))
        except Exception:
            return
        for name in names:
            if policy.attribute_problem(name):
                continue
            try:
                child = self.policy.getattr(value, name)
            except Exception:
                continue
            self.visit("%s.%s" % (path, name), child, depth - 1)


def plant(name):
    """Test hook: bind a dangerous function as a public attribute of an allowed module."""
    import importlib.util
    module_name, attr = name.rsplit(".", 1)
    setattr(sys.modules[module_name], attr, importlib.util.spec_from_file_location)


def main():
    import warnings
    warnings.simplefilter("ignore")  # deprecated attributes warn when read
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--plant", help="add a hole first (module.attr), for tests")
    parser.add_argument("--all", action="store_true", help="also list reviewed findings")
    args = parser.parse_args()
    started = time.monotonic()
    allowed = policy.DEFAULT_ALLOWED_IMPORTS
    runner.preload([m for m in allowed if m in ("numpy", "pandas", "matplotlib", "scipy")])
    import importlib
    for name in allowed:
        importlib.import_module(name)
    if args.plant:
        plant(args.plant)
    work = tempfile.mkdtemp(prefix="policy-audit-")
    restriction = policy.RestrictedPolicy(work, allowed)
    restriction.install()
    audit = Audit(restriction)
    audit.walk(allowed)
    new = {p: w for p, w in audit.findings.items() if p not in REVIEWED}
    reviewed = {p: w for p, w in audit.findings.items() if p in REVIEWED}
    print("policy audit: %d objects reached from %d modules in %.1f s; %d reviewed, %d new"
          % (audit.objects, len(allowed), time.monotonic() - started, len(reviewed), len(new)))
    if args.all:
        for path in sorted(reviewed):
            print("reviewed: %s %s (reached as %s): %s" % (path, reviewed[path][1],
                                                            reviewed[path][0], REVIEWED[path]))
    for key in sorted(new):
        path, what = new[key]
        print("NEW: %s %s (reached as %s)" % (key, what, path))
    return 1 if new else 0


if __name__ == "__main__":
    sys.exit(main())
