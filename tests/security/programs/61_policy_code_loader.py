"""Attacks the restricted policy (issue 17, 1a): an allowed library function that loads code.
numpy.compat.py3k.npy_load_module("m", "m.py") ran a file written with open() as a module, with
the real builtins (then os, a shell, everything).

Expected containment: run with "policy": "restricted". numpy.compat is not reachable (a
PolicyViolation at the attribute), and the audit hook refuses running code from a file outside
the installed libraries, whichever loader reaches it. Prints "CONTAINED: <route>" per route;
"BREACH" if the module ran.
"""
import numpy

with open("m.py", "w") as fh:
    fh.write("import os\nprint('BREACH: m.py ran with real builtins, uid', os.getuid())\n")


def load_module():
    return numpy.compat.py3k.npy_load_module("m", "m.py")


def compat_by_name():
    return getattr(numpy, "com" + "pat")


for name, attempt in (("numpy.compat.py3k.npy_load_module", load_module),
                      ("getattr(numpy, 'compat')", compat_by_name)):
    try:
        attempt()
        print("BREACH: %s was allowed" % name)
    except Exception as exc:
        kind = type(exc).__name__
        print(("CONTAINED: %s" if kind == "PolicyViolation" else "UNEXPECTED: %s: ") % name,
              kind, exc)
print("done")
