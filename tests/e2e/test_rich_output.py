"""Rich output (issue 16) through sandpit-agent: POST /execute and a session cell give
`outputs` (Jupyter mime bundles: a figure's PNG of its pixel size, a DataFrame's HTML), the kept
result gives them again, caps are flagged, and a forged frame passes nothing but bundles."""
import base64
import json
import struct
import textwrap

from conftest import Agent  # noqa: F401  (the agent fixture's type)

FIGURE = textwrap.dedent("""
    import matplotlib.pyplot as plt
    import pandas as pd
    fig = plt.figure(figsize=(4, 3), dpi=50)
    plt.plot([1, 2, 3])
    plt.show()
    plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([3, 1])
    pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
""")


def png_size(b64):
    data = base64.b64decode(b64)
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", data[:16]
    return struct.unpack(">II", data[16:24])


def check_figure_run(res):
    """What FIGURE gives: the shown figure, the DataFrame's execute_result, the open figure."""
    assert res["status"] == "completed", res
    assert res["outputs_truncated"] is False and res["outputs_dropped"] == 0, res
    shown, frame, left = res["outputs"]
    assert shown["type"] == "display_data" and png_size(shown["data"]["image/png"]) == (200, 150)
    assert shown["metadata"] == {"image/png": {"width": 200, "height": 150}}
    assert shown["data"]["text/plain"] == "<Figure size 200x150 with 1 Axes>"
    assert frame["type"] == "execute_result" and "<table" in frame["data"]["text/html"]
    assert frame["data"]["text/plain"].split()[:2] == ["a", "b"]
    assert left["type"] == "display_data" and png_size(left["data"]["image/png"]) == (100, 50)
    assert res["result_type"] == "pandas.DataFrame"  # result and result_type as before


def test_execute_returns_figures_and_a_dataframe_and_keeps_them(agent):
    res = agent.execute(FIGURE)
    check_figure_run(res)
    st, kept, _ = agent.get(f"/execution/{res['execution_id']}")
    assert st == 200 and kept["outputs"] == res["outputs"], kept
    st, page, _ = agent.get("/executions?limit=5")
    summary = next(e for e in page["executions"] if e["execution_id"] == res["execution_id"])
    assert "outputs" not in summary and summary["outputs_truncated"] is False, summary
    st, page, _ = agent.get("/executions?limit=5&output=1")
    full = next(e for e in page["executions"] if e["execution_id"] == res["execution_id"])
    assert full["outputs"] == res["outputs"]


def test_a_plain_run_has_an_empty_outputs_list(agent):
    res = agent.execute("print(1)")
    assert res["outputs"] == [] and res["outputs_truncated"] is False
    assert res["outputs_dropped"] == 0


def test_a_session_cell_returns_its_outputs(agent):
    st, sess, _ = agent.post("/sessions", {})
    assert st == 201, sess
    sid = sess["session_id"]
    try:
        st, res, _ = agent.post(f"/sessions/{sid}/execute", {"code": FIGURE}, timeout=60)
        assert st == 200, res
        check_figure_run(res)
        assert res["session_id"] == sid and res["execution_count"] == 1
        st, res, _ = agent.post(f"/sessions/{sid}/execute",
                                {"code": "display(pd.DataFrame({'c': [9]}))\nplt.get_fignums()"})
        assert st == 200, res
        [item] = res["outputs"]
        assert item["type"] == "display_data" and "<td>9</td>" in item["data"]["text/html"]
        assert res["result"] == []  # the first cell's figures were closed when captured
    finally:
        agent.delete(f"/sessions/{sid}")


def test_restricted_policy_gets_outputs(agent):
    res = agent.execute(FIGURE, policy="restricted")
    check_figure_run(res)


def test_outputs_past_the_frame_are_dropped_and_flagged(agent):
    # 40 MiB in all: over the 32 MiB cap and the frame the agent reads (2 MiB for now).
    res = agent.execute("for i in range(40):\n"
                        "    display({'text/html': 'x' * (1 << 20), 'text/plain': str(i)}, raw=True)")
    assert res["status"] == "completed" and "report_error" not in res, res
    kept = len(res["outputs"])
    assert 1 <= kept < 32, kept
    assert [o["data"]["text/plain"] for o in res["outputs"]] == [str(i) for i in range(kept)]
    assert res["outputs_truncated"] is True and res["outputs_dropped"] == 40 - kept


def test_a_forged_frame_passes_only_bundles_of_strings(agent):
    frame = json.dumps({"result": 1, "outputs_dropped": 1, "outputs": [
        {"type": "display_data", "data": {"text/html": "<b>ok</b>"},
         "metadata": {"text/html": {"width": 3, "script": "x"}}, "onload": "alert(1)"},
        {"type": "display_data", "data": {"text/html": {"nested": "object"}}},
        {"type": "stream", "data": {"text/plain": "x"}},
        {"type": "display_data", "data": {"text/html\"><script": "x"}},
    ] + [{"type": "display_data", "data": {"text/plain": str(i)}} for i in range(120)]})
    res = agent.execute(f"import os\nos.write(3, {frame.encode()!r})\nos._exit(0)\n")
    assert res["status"] == "completed" and "report_error" not in res, res
    outputs = res["outputs"]
    assert len(outputs) == 100
    assert outputs[0] == {"type": "display_data", "data": {"text/html": "<b>ok</b>"},
                          "metadata": {"text/html": {"width": 3}}}
    assert [o["data"]["text/plain"] for o in outputs[1:]] == [str(i) for i in range(99)]
    assert res["outputs_dropped"] == 1 + 3 + 21 and res["outputs_truncated"] is True
