"""Library settings the restricted policy freezes, library entry points it closes.

A setting that names a program, its arguments or a module to import turns
an allowed function into a way to run something of the code's choosing:
matplotlib's `animation.ffmpeg_path = "/bin/sh"` made FFMpegWriter run sh on
a file the code wrote. Under the restricted policy such settings keep the
value they had when the execution started (changing them is a
PolicyViolation) and matplotlib refuses `module://` backends. The audit hook
(policy_hook) refuses starting any program anyway; this layer gives the
early, clear error and covers what is not a program start (a backend import).

pandas' expression engine (pandas.core.computation.eval.eval, behind
DataFrame.eval/query) reads any attribute the expression names: the names
`eval`/`query` are refused at compile time, but pandas' by-name dispatch
(`df.apply("eval", args=("@x.__class__",), local_dict=...)`) reached it
anyway, so the engine itself refuses under the restricted policy.

Like the other guards these are process-wide patches: install them only in
the execution's own forked child.
"""

import sys

MODULE_BACKEND = "module://"


def program_setting(key):
    """True for a matplotlib rcParams key that names a program or its
    arguments (animation.ffmpeg_path, animation.convert_args...)."""
    last = key.rsplit(".", 1)[-1]
    return last.endswith(("_path", "_args"))


def _frozen_setitem(setitem, frozen, violation):
    """RcParams.__setitem__ refusing a new value for a frozen key of one of
    the global RcParams objects (a style file parsed into its own RcParams
    is not refused: only what reaches the globals matters)."""
    if getattr(setitem, "sandpit_frozen", False):
        return setitem

    def guarded(self, key, value):
        values = frozen.get(id(self))
        if values is None or key not in values:
            return setitem(self, key, value)
        setitem(self, key, value)
        # judged on what was stored (a replaced validator could answer twice)
        if dict.__getitem__(self, key) != values[key]:
            dict.__setitem__(self, key, values[key])
            raise violation("rcParams['%s'] cannot be changed under the restricted "
                            "policy: it names a program or its arguments" % key, "setting")
    guarded.sandpit_frozen = True
    return guarded


def _no_module_backend(validate, violation):
    if getattr(validate, "sandpit_frozen", False):
        return validate

    def check(name):
        if isinstance(name, str) and name.lower().startswith(MODULE_BACKEND):
            raise violation("the backend %r is not allowed under the restricted policy: "
                            "'module://' backends import a module by name" % name, "setting")
        return validate(name)
    check.sandpit_frozen = True
    return check


def _refuse_expressions(violation):
    def refused(*args, **kwargs):
        raise violation("pandas expression evaluation (eval, query) is not allowed under the "
                        "restricted policy: it reads any attribute the expression names",
                        "attribute")
    refused.sandpit_frozen = True
    return refused


def guard_libraries(violation):
    """All of the above, for the libraries loaded so far (idempotent)."""
    freeze_program_settings(violation)
    engine = sys.modules.get("pandas.core.computation.eval")
    if engine is not None and not getattr(engine.eval, "sandpit_frozen", False):
        engine.eval = _refuse_expressions(violation)


def freeze_program_settings(violation):
    """Freeze matplotlib's program settings (when matplotlib is loaded).
    Idempotent: called at install and again whenever the code gets a new
    module, in case matplotlib was first imported by the code."""
    mpl = sys.modules.get("matplotlib")
    if mpl is None:
        return
    validators = mpl.RcParams.validate
    frozen = {}
    for name in ("rcParams", "rcParamsDefault", "rcParamsOrig"):
        params = getattr(mpl, name, None)
        if isinstance(params, dict):
            frozen[id(params)] = {key: dict.__getitem__(params, key) for key in params
                                  if program_setting(key)}
    mpl.RcParams.__setitem__ = _frozen_setitem(mpl.RcParams.__setitem__, frozen, violation)
    if "backend" in validators:
        validators["backend"] = _no_module_backend(validators["backend"], violation)
    cbook = sys.modules.get("matplotlib.cbook")
    if cbook is not None and hasattr(cbook, "_backend_module_name"):
        # every route to a backend import (use, switch_backend, rcParams set
        # behind the validators' back) passes here
        cbook._backend_module_name = _no_module_backend(cbook._backend_module_name, violation)
