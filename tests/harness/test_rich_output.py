"""Rich output (issue 16, harness/display.py): matplotlib figures as PNG, display(), the
trailing value's execute_result, the caps, both policies and session cells."""

import base64
import json
import struct
import textwrap

from conftest import execute
from harness import display, runner
from session_driver import Session


def code(text):
    return textwrap.dedent(text).lstrip("\n")


def png_size(b64):
    """(width, height) from the IHDR chunk of a base64 PNG."""
    data = base64.b64decode(b64)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return struct.unpack(">II", data[16:24])


def outputs(out):
    assert out.result is not None, out
    return out.result.get("outputs", [])


def test_plain_code_has_no_outputs_in_its_frame():
    out = execute("print(1)\n2 + 3")
    assert out.exit_code == 0, out
    assert "outputs" not in out.result and "outputs_truncated" not in out.result, out.result


def test_show_captures_a_png_of_the_figures_pixel_size_once_and_closes_it():
    out = execute(code("""
        import matplotlib.pyplot as plt
        fig = plt.figure(figsize=(4, 3), dpi=50)
        plt.plot([1, 2, 3])
        plt.show()
        print(plt.get_fignums())
    """))
    assert out.exit_code == 0, out
    assert out.stdout == "[]\n"  # closed by show(), so not captured again at the end
    [item] = outputs(out)
    assert item["type"] == "display_data"
    assert set(item["data"]) == {"image/png", "text/plain"}
    assert png_size(item["data"]["image/png"]) == (200, 150)
    assert item["metadata"] == {"image/png": {"width": 200, "height": 150}}
    assert item["data"]["text/plain"] == "<Figure size 200x150 with 1 Axes>"
    assert "Warning" not in out.stderr, out.stderr  # Agg's "cannot show" warning is gone


def test_figures_left_open_are_captured_after_the_code_in_creation_order():
    out = execute(code("""
        import matplotlib.pyplot as plt
        plt.figure(figsize=(2, 1), dpi=50)
        plt.plot([1, 2])
        plt.figure(figsize=(3, 1), dpi=50)
        plt.plot([2, 1])
        plt.figure(1)  # the first one active again: the order stays the creation order
        plt.title("first")
    """))
    assert out.exit_code == 0, out
    items = outputs(out)
    assert [png_size(i["data"]["image/png"]) for i in items] == [(100, 50), (150, 50)]
    assert [i["type"] for i in items] == ["display_data"] * 2


def test_shown_figures_then_open_ones_keep_the_order_of_the_code():
    out = execute(code("""
        import matplotlib.pyplot as plt
        plt.figure(figsize=(1, 1), dpi=30); plt.plot([1]); plt.show()
        plt.figure(figsize=(2, 1), dpi=30); plt.plot([1]); plt.show()
        plt.figure(figsize=(3, 1), dpi=30); plt.plot([1])
    """))
    sizes = [png_size(i["data"]["image/png"]) for i in outputs(out)]
    assert sizes == [(30, 30), (60, 30), (90, 30)], out


def test_figure_dpi_in_the_spec_sets_the_png_size():
    out = execute("import matplotlib.pyplot as plt\nplt.figure(figsize=(2, 1))\nplt.plot([1])",
                  figure_dpi=30)
    [item] = outputs(out)
    assert png_size(item["data"]["image/png"]) == (60, 30)


def test_display_of_a_dataframe_gives_html_and_text():
    out = execute(code("""
        import pandas as pd
        display(pd.DataFrame({"a": [1, 2], "b": ["x", "y"]}))
        print("after")
    """))
    assert out.exit_code == 0 and out.stdout == "after\n", out
    [item] = outputs(out)
    assert item["type"] == "display_data"
    assert "<table" in item["data"]["text/html"] and "<td>x</td>" in item["data"]["text/html"]
    assert item["data"]["text/plain"].split() == ["a", "b", "0", "1", "x", "1", "2", "y"]


def test_a_trailing_dataframe_is_an_execute_result_and_result_stays():
    out = execute("import pandas as pd\npd.DataFrame({'a': [7]})")
    [item] = outputs(out)
    assert item["type"] == "execute_result"
    assert "<table" in item["data"]["text/html"]
    assert out.result["result_type"] == "pandas.DataFrame"
    assert "7" in out.result["result"]


def test_a_trailing_value_without_a_rich_repr_gives_no_item():
    out = execute("x = [1, 2]\nx")
    assert out.result["result"] == [1, 2] and "outputs" not in out.result, out.result


def test_a_trailing_figure_is_one_execute_result_not_a_second_display():
    out = execute(code("""
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(2, 2), dpi=20)
        ax.plot([1, 2])
        fig
    """))
    [item] = outputs(out)
    assert item["type"] == "execute_result" and png_size(item["data"]["image/png"]) == (40, 40)


def test_a_displayed_figure_comes_again_at_the_end_only_when_changed():
    out = execute(code("""
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(1, 1), dpi=20)
        display(fig)
        fig2, ax2 = plt.subplots(figsize=(2, 1), dpi=20)
        display(fig2)
        ax2.plot([1, 2])
    """))
    sizes = [png_size(i["data"]["image/png"]) for i in outputs(out)]
    assert sizes == [(20, 20), (40, 20), (40, 20)], out


def test_a_plotly_figure_gives_the_plotly_mime_type():
    out = execute(code("""
        import plotly.graph_objects as go
        fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
        display(fig)
        fig
    """))
    assert out.exit_code == 0, out
    items = outputs(out)
    assert [i["type"] for i in items] == ["display_data", "execute_result"]
    for item in items:
        figure = json.loads(item["data"]["application/vnd.plotly.v1+json"])
        assert figure["data"][0]["type"] == "scatter" and figure["data"][0]["y"] == [3, 4]
        assert "text/plain" in item["data"]


def test_repr_methods_and_mimebundle_as_ipython_calls_them():
    out = execute(code("""
        import base64, struct, zlib
        def png(w, h):
            def chunk(kind, body):
                return (struct.pack(">I", len(body)) + kind + body
                        + struct.pack(">I", zlib.crc32(kind + body)))
            raw = b"".join(b"\\0" + b"\\0\\0\\0" * w for _ in range(h))
            return (b"\\x89PNG\\r\\n\\x1a\\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2,
                    0, 0, 0)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
        class Rich:
            def _repr_png_(self): return png(3, 2)
            def _repr_svg_(self): return "<svg/>"
            def _repr_markdown_(self): return ("**md**", {"width": 5})
            def _repr_latex_(self): return "$x$"
            def _repr_json_(self): return {"k": [1, 2]}
            def __repr__(self): return "Rich()"
        class Bundle:
            def _repr_html_(self): return "<i>plain method</i>"
            def _repr_mimebundle_(self, include=None, exclude=None):
                return {"text/html": "<b>bundle wins</b>", "application/x-thing+json": [1]}
        display(Rich(), Bundle())
        display(Rich(), include=["image/svg+xml"])
        display(Rich(), exclude=["image/png", "application/json"])
        display({"text/plain": "raw", "image/png": png(4, 4)}, raw=True)
        display(int)  # a class: its methods are not its instances' reprs
    """))
    assert out.exit_code == 0, out
    rich, bundle, included, excluded, raw, cls = outputs(out)
    assert set(rich["data"]) == {"image/png", "image/svg+xml", "text/markdown", "text/latex",
                                 "application/json", "text/plain"}
    assert png_size(rich["data"]["image/png"]) == (3, 2)
    assert rich["metadata"] == {"image/png": {"width": 3, "height": 2},
                                "text/markdown": {"width": 5}}
    assert json.loads(rich["data"]["application/json"]) == {"k": [1, 2]}
    assert rich["data"]["text/plain"] == "Rich()"
    assert bundle["data"]["text/html"] == "<b>bundle wins</b>"
    assert json.loads(bundle["data"]["application/x-thing+json"]) == [1]
    assert set(included["data"]) == {"image/svg+xml"}
    assert set(excluded["data"]) == {"image/svg+xml", "text/markdown", "text/latex", "text/plain"}
    assert raw["data"]["text/plain"] == "raw" and png_size(raw["data"]["image/png"]) == (4, 4)
    assert cls["data"] == {"text/plain": "<class 'int'>"}


def test_a_raising_or_hanging_repr_loses_its_value_only():
    out = execute(code("""
        class Raises:
            def _repr_html_(self): raise ValueError("no html")
            def __repr__(self): return "Raises()"
        class Hangs:
            def _repr_html_(self):
                while True:
                    pass
            def __repr__(self):
                while True:
                    pass
        class Odd:
            def _repr_html_(self): return 42
            def _repr_png_(self): return "aGVsbG8="  # a str: taken as base64 already
        class Claims:
            def _repr_html_(self): return "<b>not asked</b>"
            def __getattr__(self, name): return lambda: "anything"
        display(Raises(), Hangs(), Odd(), Claims())
        print("after")
        Hangs()
    """), timeout=120)
    assert out.exit_code == 0 and out.stdout == "after\n", out
    raises, hangs, odd, claims = outputs(out)  # the trailing Hangs(): no rich repr, no item
    assert raises["data"] == {"text/plain": "Raises()"}
    assert hangs["data"] == {"text/plain": "<repr failed>"}
    assert odd["data"]["text/plain"].startswith("<__main__.Odd object")
    assert odd["data"]["image/png"] == "aGVsbG8=" and "text/html" not in odd["data"]
    assert odd["metadata"] == {}  # not a PNG: no size
    # An object answering every attribute (IPython's canary) has no rich repr at all.
    assert list(claims["data"]) == ["text/plain"]
    assert out.result["result"] == "<repr timed out>"


def test_display_gives_a_pending_alarm_back():
    out = execute(code("""
        import signal
        signal.setitimer(signal.ITIMER_REAL, 100)
        display(1)
        print(0 < signal.getitimer(signal.ITIMER_REAL)[0] <= 100)
        signal.setitimer(signal.ITIMER_REAL, 0)
    """))
    assert out.stdout == "True\n", out


def test_outputs_stay_when_the_code_fails():
    out = execute("display('before')\nimport matplotlib.pyplot as plt\nplt.plot([1])\n1 / 0")
    assert out.result["error_type"] == "ZeroDivisionError"
    first, figure = outputs(out)
    assert first["data"] == {"text/plain": "'before'"}
    assert "image/png" in figure["data"]


def test_an_item_over_the_item_cap_keeps_its_text_and_is_flagged():
    out = execute(code("""
        class Huge:
            def _repr_html_(self): return "x" * (%d + 1)
            def __repr__(self): return "Huge()"
        display(Huge())
    """ % display.ITEM_LIMIT))
    [item] = outputs(out)
    assert item["data"] == {"text/plain": "Huge()"} and item["truncated"] is True
    assert out.result["outputs_truncated"] is True and out.result["outputs_dropped"] == 0


def test_items_past_what_the_frame_holds_are_dropped_and_counted():
    # 30 items of a 20th of the frame each: the first ones are kept, whatever the frame's size.
    out = execute(code("""
        for i in range(30):
            display({"text/html": "x" * %d, "text/plain": str(i)}, raw=True)
    """ % (runner.AGENT_FRAME_MAX // 20)))
    items = outputs(out)
    frame = json.dumps(out.result).encode()
    assert len(frame) <= runner.AGENT_FRAME_MAX
    assert 5 <= len(items) < 20, len(items)
    assert [i["data"]["text/plain"] for i in items] == [str(n) for n in range(len(items))]
    assert out.result["outputs_truncated"] is True
    assert out.result["outputs_dropped"] == 30 - len(items)


def test_at_most_max_items_are_kept():
    out = execute("for i in range(%d):\n    display(i)" % (display.MAX_ITEMS + 7))
    items = outputs(out)
    assert len(items) == display.MAX_ITEMS
    assert items[-1]["data"]["text/plain"] == str(display.MAX_ITEMS - 1)
    assert out.result["outputs_dropped"] == 7 and out.result["outputs_truncated"] is True


def test_restricted_policy_has_display_and_figures_but_not_its_insides():
    out = execute(code("""
        import matplotlib.pyplot as plt
        import pandas as pd
        plt.figure(figsize=(2, 2), dpi=10)
        plt.plot([1, 2])
        plt.show()
        display(pd.DataFrame({"a": [1]}))
        plt.figure(figsize=(1, 1), dpi=10)
    """), policy="restricted")
    assert out.exit_code == 0, out
    shown, frame, left = outputs(out)
    assert png_size(shown["data"]["image/png"]) == (20, 20)
    assert "<table" in frame["data"]["text/html"]
    assert png_size(left["data"]["image/png"]) == (10, 10)
    refused = execute("display.__globals__", policy="restricted")
    assert refused.result["error_type"] == "PolicyViolation", refused
    refused = execute("getattr(display, '__globals__')", policy="restricted")
    assert refused.result["error_type"] == "PolicyViolation", refused


def test_session_cells_each_report_their_own_outputs():
    with Session() as s:
        first = s.cell(code("""
            import matplotlib.pyplot as plt
            fig = plt.figure(figsize=(2, 1), dpi=10)
            plt.plot([1])
        """))
        [item] = outputs(first)
        assert png_size(item["data"]["image/png"]) == (20, 10)
        second = s.cell("display('second')\nplt.get_fignums()")
        assert outputs(second) == [{"type": "display_data", "data": {"text/plain": "'second'"},
                                    "metadata": {}}]
        assert second.result["result"] == []  # the first cell's figure was closed
        third = s.cell("plt.figure(figsize=(1, 1), dpi=10); plt.show()")
        [item] = outputs(third)
        assert png_size(item["data"]["image/png"]) == (10, 10)


def test_show_is_captured_when_pyplot_was_preloaded_as_in_the_zygote():
    """The zygote imports pyplot before any run (runner.preload): show() is hooked at the run's
    set-up then, not by the import hook. Preloaded in a child of ours, which runs the code."""
    import os
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_end)
            loaded = runner.preload(["matplotlib"])["loaded"]
            out = execute("import matplotlib.pyplot as plt\nplt.figure(figsize=(1, 1), dpi=20)\n"
                          "plt.plot([1])\nplt.show()\nprint(plt.get_fignums())")
            os.write(write_end, json.dumps([loaded, out.stdout, outputs(out)]).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        loaded, stdout, items = json.loads(pipe.read())
    os.waitpid(pid, 0)
    assert loaded == ["matplotlib"] and stdout == "[]\n"
    [item] = items
    assert png_size(item["data"]["image/png"]) == (20, 20)
