"""Attacks the restricted policy (issue 17, 1b): a configurable program path.
matplotlib.rcParams["animation.ffmpeg_path"] = "/bin/sh", then FFMpegWriter().saving(...) ran
sh on a file written beforehand (sh -f rawvideo ...: the script is named after ffmpeg's first
argument). Variants: rcParams.update, rc(), the validator bypassed with dict.__setitem__, and a
'module://' backend (an import of the code's choosing).

Expected containment: run with "policy": "restricted". Program settings (*_path, *_args) cannot
be changed (PolicyViolation); with the setting forced behind the validator, the audit hook
refuses starting the program; module:// backends are refused. Prints "CONTAINED: <route>";
"BREACH" if the script ran (it would create shell_ran).
"""
import matplotlib
import matplotlib.pyplot as plt
from matplotlib.animation import FFMpegWriter

with open("rawvideo", "w") as fh:
    fh.write("echo ran > shell_ran\n")


def save():
    with FFMpegWriter().saving(plt.figure(), "out.mp4", 10):
        pass


def set_path():
    matplotlib.rcParams["animation.ffmpeg_path"] = "/bin/sh"


def update_path():
    matplotlib.rcParams.update({"animation.ffmpeg_path": "/bin/sh"})


def rc_args():
    matplotlib.rc("animation", ffmpeg_args=["-c", "id"])


def forced_then_save():
    dict.__setitem__(matplotlib.rcParams, "animation.ffmpeg_path", "/bin/sh")
    save()


def module_backend():
    plt.switch_backend("module://antigravity")


for name, attempt in (("rcParams[ffmpeg_path]", set_path), ("rcParams.update", update_path),
                      ("rc(ffmpeg_args)", rc_args), ("dict.__setitem__ then saving", forced_then_save),
                      ("module:// backend", module_backend)):
    try:
        attempt()
        print("BREACH: %s was allowed" % name)
    except Exception as exc:
        kind = type(exc).__name__
        print(("CONTAINED: %s" if kind == "PolicyViolation" else "UNEXPECTED: %s: ") % name,
              kind, exc)
try:
    open("shell_ran").close()
    print("BREACH: the shell ran")
except FileNotFoundError:
    print("CONTAINED: no shell ran")
