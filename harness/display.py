"""Rich output (issue 16): display(), matplotlib figures, the trailing value's mime bundle.

An execution (a session's cell too) collects output items in Jupyter's mime-bundle shape:
    {"type": "display_data" | "execute_result",
     "data": {mime: str, ...},                      # always a "text/plain" (the repr)
     "metadata": {"image/png": {"width": W, "height": H}},
     "truncated": true}                             # only when a value was dropped (caps)
Every value is a string: images are base64, JSON types (application/json, plotly's) JSON text.

Where items come from, in order:
- display(*objs) (a builtin while the code runs, under both policies): one display_data each;
- matplotlib.pyplot.show(): every open figure as PNG (display_data), then closed;
- after the code: the trailing expression's value as an execute_result when its bundle has
  more than text/plain, then every figure still open (creation order) as display_data, but
  one already captured and not changed since.
PNGs are drawn at Spec.figure_dpi when given, else at rcParams["savefig.dpi"] (the figure's
own dpi by default), with no bbox cropping: the image is figsize x dpi pixels.

What this calls is user code (reprs, __getattr__, a library's _repr_html_ on the user's
data): each call runs under a describe.CallGuard (REPR_S per repr, RENDER_S per figure,
BUDGET_S per display() call and for the whole end phase); one that raises or runs out of time
loses that value only. During the code only Exception is caught (a KeyboardInterrupt or a
session's CellTimeout reaches the code), and a pending alarm of the code is given back.

Caps (the first items are kept; from the first one over a cap on, items are counted, not
kept): ITEM_LIMIT characters of data per item (larger values are dropped from the item, which
is flagged "truncated"), TOTAL_LIMIT encoded bytes and MAX_ITEMS items per execution, and what
the agent's frame can still hold (runner._encode_fitted). The frame then carries
"outputs_truncated": true and "outputs_dropped": N.
"""

import base64
import functools
import io
import signal
import sys
import time
from collections import OrderedDict as _OrderedDict
from types import ModuleType as _ModuleType

from . import describe

ITEM_LIMIT = 10 << 20  # characters of one item's data (base64 for images)
TOTAL_LIMIT = 32 << 20  # bytes of every item together, as encoded in the frame
MAX_ITEMS = 100
TEXT_LIMIT = 10000  # characters of a text/plain repr
REPR_S = 2.0  # one repr method
RENDER_S = 10.0  # drawing one figure
BUDGET_S = 20.0  # one display() call; the end phase
DIMENSION_MAX = 1 << 20  # a width or height in metadata

PNG, PLOTLY = "image/png", "application/vnd.plotly.v1+json"
# IPython's formatters, in its order: the method and the mime type it gives.
_REPR_METHODS = (
    ("_repr_png_", PNG), ("_repr_jpeg_", "image/jpeg"), ("_repr_svg_", "image/svg+xml"),
    ("_repr_html_", "text/html"), ("_repr_markdown_", "text/markdown"),
    ("_repr_latex_", "text/latex"), ("_repr_json_", "application/json"),
)
_BINARY = frozenset({PNG, "image/jpeg"})
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Bound now: user code may monkeypatch these modules.
_encode = describe.FRAME_ENCODER.encode
_b64encode = base64.b64encode
_b64decode = base64.b64decode
_getitimer = signal.getitimer
_setitimer = signal.setitimer
_monotonic = time.monotonic
_FAILED = object()

_current = None  # the running execution's Outputs, or None


class Outputs:
    """The items of one execution, encoded as they come (bounded: see the caps above)."""

    def __init__(self, dpi=None):
        self.dpi = dpi
        self.encoded = []  # each item's JSON bytes
        self.size = 0
        self.dropped = 0
        self.full = False  # a cap was reached: every later item is dropped
        self.cut = False  # an item lost a value
        self.catch = Exception  # what a failing user call may raise and be caught
        self.rendered = {}  # id -> figure captured (and not changed since, while not stale)
        self.plain_results = False  # a kernel's cell: a text/plain-only value is Out[n] too

    def add(self, kind, data, metadata, truncated=False):
        if self.full:
            self.dropped += 1
            return
        item = {"type": kind, "data": data, "metadata": metadata}
        if truncated:
            item["truncated"] = self.cut = True
        encoded = _encode(item).encode("ascii")
        if len(self.encoded) >= MAX_ITEMS or self.size + len(encoded) + 1 > TOTAL_LIMIT:
            self.full = True
            self.dropped += 1
            return
        self.encoded.append(encoded)
        self.size += len(encoded) + 1

    def frame_members(self, budget):
        """The frame's members for these items as JSON text (no braces), fitted into `budget`
        bytes by dropping the last items; b"" when there were none."""
        if not self.encoded and not self.dropped:
            return b""
        size, kept = 80, 0  # the brackets and the two flags
        for encoded in self.encoded:
            if size + len(encoded) + 1 > budget:
                break
            size += len(encoded) + 1
            kept += 1
        dropped = self.dropped + len(self.encoded) - kept
        text = b'"outputs":[' + b",".join(self.encoded[:kept]) + b"]"
        if dropped or self.cut:
            text += b',"outputs_truncated":true,"outputs_dropped":%d' % dropped
        return text


# ---------------------------------------------------------------- the execution's side

def begin(outputs, builtins_dict):
    """Before the code: `outputs` collects, display is in `builtins_dict` (the code's builtins),
    pyplot.show captures (now, or once pyplot is imported)."""
    global _current
    _current = outputs
    outputs.catch = Exception
    builtins_dict["display"] = display
    _hook_pyplot()


def finish(outputs, value, has_value):
    """After the code (its output silenced): the trailing value's execute_result, then the
    figures left open. Never raises."""
    global _current
    _current = None
    outputs.catch = BaseException
    if (not has_value or value is None) and _surely_no_figures():
        return  # nothing to show: no guard, no pages of the machinery below touched
    try:
        with describe.CallGuard(per_call=REPR_S, budget=BUDGET_S) as guard:
            if has_value and value is not None:
                data, metadata, cut = bundle(value, guard, outputs)
                if len(data) > 1 or "text/plain" not in data or outputs.plain_results:
                    outputs.add("execute_result", data, metadata, cut)
            _capture_open_figures(outputs, guard)
    except BaseException:
        pass  # an Expired past the budget: what was captured stays


def display(*objs, include=None, exclude=None, metadata=None, raw=False, **_ignored):
    """Show objects as rich output, as IPython's display(): one item per object, in its mime
    types (include/exclude filter them); with raw=True each object is a {mime: value} bundle.
    Outside a run, prints their reprs."""
    outputs = _current
    if outputs is None:
        for obj in objs:
            print(repr(obj))
        return
    with _KeepAlarm(), describe.CallGuard(per_call=REPR_S, budget=BUDGET_S) as guard:
        for obj in objs:
            try:
                if raw:
                    data, meta, cut = _raw_bundle(obj, outputs, guard)
                else:
                    data, meta, cut = bundle(obj, guard, outputs, include, exclude)
            except describe.Expired:
                data, meta, cut = {"text/plain": "<display timed out>"}, {}, True
            if type(metadata) is dict:
                meta.update(_metadata(metadata, data))
            if data:
                outputs.add("display_data", data, meta, cut)


class _KeepAlarm:
    """Gives the code's pending ITIMER_REAL back (less the time spent) after a CallGuard,
    which stops it."""

    def __enter__(self):
        self.start = _monotonic()
        try:
            self.saved = _getitimer(signal.ITIMER_REAL)
        except (ValueError, OSError):
            self.saved = (0.0, 0.0)
        return self

    def __exit__(self, *exc_info):
        value, interval = self.saved
        if value > 0:
            try:
                _setitimer(signal.ITIMER_REAL, max(1e-6, value - (_monotonic() - self.start)),
                           interval)
            except (ValueError, OSError):
                pass
        return False


# ---------------------------------------------------------------- bundles

def _call(guard, outputs, fn, *args, seconds=REPR_S):
    """fn(*args) under the guard for at most `seconds`, or _FAILED when it raised (what
    outputs.catch allows) or ran out of its time."""
    guard.per_call = seconds
    try:
        return guard.call(fn, *args)
    except describe.Expired:
        return _FAILED
    except outputs.catch:
        return _FAILED


def bundle(obj, guard, outputs, include=None, exclude=None):
    """(data, metadata, truncated) of obj: {mime: str}, {mime: {width, height}}, whether a value
    was dropped for the item cap."""
    data, metadata = {}, {}
    kind = type(obj)
    if _subclass(kind, "matplotlib.figure", "Figure"):
        png = _call(guard, outputs, _figure_png, obj, outputs.dpi, seconds=RENDER_S)
        if type(png) is bytes:
            data[PNG] = png
            outputs.rendered[id(obj)] = obj
    elif _subclass(kind, "plotly.basedatatypes", "BaseFigure"):
        text = _call(guard, outputs, _plotly_json, obj, seconds=RENDER_S)
        if type(text) is str:
            data[PLOTLY] = text
    elif not _subclass(kind, None, type):  # a class's methods are not its instances' reprs
        _rich_reprs(obj, guard, outputs, data, metadata)
    text = _call(guard, outputs, describe.bounded_repr, obj, TEXT_LIMIT)
    data["text/plain"] = describe.cut(text, TEXT_LIMIT) if type(text) is str else (
        "<repr failed>")
    if include is not None or exclude is not None:
        data = {k: v for k, v in data.items()
                if (include is None or k in include) and (exclude is None or k not in exclude)}
    return _finish_bundle(data, metadata)


def _raw_bundle(obj, outputs, guard):
    if type(obj) is not dict:
        return {}, {}, False
    data, metadata = {}, {}
    _merge(obj, None, data, metadata, guard, outputs)
    return _finish_bundle(data, metadata)


def _subclass(kind, module_name, name):
    """Whether class `kind` derives from `name` of `module_name` (a class when module_name is
    None), without importing it; False when it is not loaded."""
    if module_name is not None:
        module = sys.modules.get(module_name)
        name = getattr(module, name, None) if module is not None else None
        if name is None:
            return False
    try:
        return issubclass(kind, name)
    except Exception:
        return False


def _figure_png(figure, dpi):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi)
    figure.stale = False  # captured as it is now; a change makes it stale again
    return buffer.getvalue()


def _plotly_json(figure):
    base = sys.modules["plotly.basedatatypes"].BaseFigure
    return base.to_json(figure, validate=False)


def _rich_reprs(obj, guard, outputs, data, metadata):
    """The _repr_*_ methods of obj, as IPython's formatters call them; _repr_mimebundle_'s
    values win over theirs."""
    # An object claiming every attribute (a __getattr__ answering anything) has none of them.
    canary = _call(guard, outputs, getattr, obj, "_ipython_canary_method_should_not_exist_",
                   None)
    if canary is not None:
        return
    for method_name, mime in _REPR_METHODS:
        method = _call(guard, outputs, getattr, obj, method_name, None)
        if method is None or method is _FAILED or not callable(method):
            continue
        value = _call(guard, outputs, method)
        meta = None
        if type(value) is tuple and len(value) == 2:
            value, meta = value
        _merge({mime: value}, {mime: meta} if type(meta) is dict else None, data, metadata,
               guard, outputs)
    method = _call(guard, outputs, getattr, obj, "_repr_mimebundle_", None)
    if method is None or method is _FAILED or not callable(method):
        return
    value = _call(guard, outputs, functools.partial(method, include=None, exclude=None))
    meta = None
    if type(value) is tuple and len(value) == 2:
        value, meta = value
    if type(value) is dict:
        _merge(value, meta, data, metadata, guard, outputs)


def _merge(values, meta, data, metadata, guard, outputs):
    """Copies {mime: value} into data as strings (bytes of an image as base64, JSON data as its
    text, anything else dropped) and meta's sizes into metadata."""
    for mime, value in list(values.items())[:32]:
        if type(mime) is not str or not 0 < len(mime) < 128 or mime.count("/") != 1:
            continue
        text = _mime_text(mime, value, guard, outputs)
        if text is not None:
            data[mime] = text
    if type(meta) is dict:
        metadata.update(_metadata(meta, data))


def _mime_text(mime, value, guard, outputs):
    kind = type(value)
    if kind is bytes or kind is bytearray:
        if mime == PNG:
            return bytes(value)  # _finish_bundle encodes it, with its size
        if mime in _BINARY:
            return _b64encode(value).decode("ascii")
        return bytes(value).decode("utf-8", "replace")
    if kind is str:
        return value
    if mime == "application/json" or mime.endswith("+json"):
        text = _call(guard, outputs, describe.json_fragment, value, ITEM_LIMIT)
        return text if type(text) is str else None
    return None


def _metadata(meta, data):
    """The width and height of meta's entries for data's mime types (ints in range); nothing
    else is kept."""
    kept = {}
    for mime, sizes in list(meta.items())[:32]:
        if type(mime) is not str or mime not in data or type(sizes) is not dict:
            continue
        entry = {k: sizes[k] for k in ("width", "height")
                 if type(sizes.get(k)) is int and 0 <= sizes[k] <= DIMENSION_MAX}
        if entry:
            kept[mime] = entry
    return kept


def _finish_bundle(data, metadata):
    """PNG bytes to base64 with their pixel size, text made encodable (no lone surrogate: the
    agent's JSON reader refuses one), values over ITEM_LIMIT dropped."""
    cut = False
    png = data.get(PNG)
    if type(png) is bytes:
        data[PNG] = _b64encode(png).decode("ascii")
    elif type(png) is str:  # base64 already: its head holds the size
        try:
            png = _b64decode(png[:32])
        except ValueError:
            png = b""
    size = png_size(png) if png is not None else None
    if size is not None and PNG not in metadata:
        metadata[PNG] = {"width": size[0], "height": size[1]}
    for mime, text in list(data.items()):
        if not text.isascii():
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                data[mime] = text = text.encode("utf-8", "replace").decode("utf-8")
    total = sum(len(text) for text in data.values())
    for mime in sorted(data, key=lambda m: -len(data[m])):
        if total <= ITEM_LIMIT:
            break
        total -= len(data.pop(mime))
        metadata.pop(mime, None)
        cut = True
    return data, metadata, cut


def png_size(data):
    """(width, height) from a PNG's IHDR chunk, or None when data is not a PNG."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


# ---------------------------------------------------------------- matplotlib

def _open_figures():
    """The figures pyplot has open, in creation order (their numbers), or []."""
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if helpers is None:
        return []
    managers = sorted(helpers.Gcf.get_all_fig_managers(), key=lambda m: m.num)
    return [m.canvas.figure for m in managers]


def _surely_no_figures():
    """True when pyplot is not loaded, or its figure registry is the plain empty dict it
    starts as; False when unsure (anything replaced), without running user code."""
    if sys.modules.get("matplotlib.pyplot") is None:
        return True
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if type(helpers) is not _ModuleType:
        return False
    gcf = helpers.__dict__.get("Gcf")
    if type(gcf) is not type:
        return False
    figs = gcf.__dict__.get("figs")
    return type(figs) in (dict, _OrderedDict) and not figs


def _capture_open_figures(outputs, guard):
    """Every open figure as a display_data item, then closed; one already captured (display)
    and not changed since is closed without a second item."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is None:
        return
    for figure in _open_figures():
        seen = outputs.rendered.get(id(figure)) is figure
        if not seen or figure.stale:
            data, metadata, cut = bundle(figure, guard, outputs)
            outputs.add("display_data", data, metadata, cut)
        _call(guard, outputs, _close, figure)


def _close(figure):
    sys.modules["matplotlib.pyplot"].close(figure)


def show(*args, **kwargs):
    """pyplot.show while a run collects: every open figure becomes an item and is closed (as
    Jupyter's inline backend does). Never blocks."""
    outputs = _current
    if outputs is None:
        return
    with _KeepAlarm(), describe.CallGuard(per_call=REPR_S, budget=BUDGET_S) as guard:
        try:
            _capture_open_figures(outputs, guard)
        except describe.Expired:
            pass


show.sandpit_show = True


def _hook_pyplot():
    """pyplot.show is ours when pyplot is loaded; else once it is (a one-shot import hook)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        if not getattr(pyplot.show, "sandpit_show", False):
            pyplot.show = show
        return
    if not any(isinstance(f, _PyplotWatch) for f in sys.meta_path):
        sys.meta_path.insert(0, _PyplotWatch())


class _PyplotWatch:
    """A meta path finder that finds nothing itself: when matplotlib.pyplot is imported, it
    wraps that module's loader so pyplot.show is replaced once the module has run."""

    def find_spec(self, name, path=None, target=None):
        if name != "matplotlib.pyplot":
            return None
        try:
            sys.meta_path.remove(self)
        except ValueError:
            pass
        import importlib.machinery
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        exec_module = loader.exec_module

        def exec_and_hook(module):
            exec_module(module)
            module.show = show

        loader.exec_module = exec_and_hook
        return spec
