"""Corpus programs of issue 17 that need two executions at once, or a scenario, with the four
post-conditions of test_corpus.py after each (terminals, per-user limits, the disk sum).

The first execution is started asynchronously and the second only once the first has printed
that it holds what it attacks (read from its output so far, never guessed from a sleep); the
first is then cancelled, and its output so far judged.
"""
from sec_helpers import load_program, new_marker, wait_until
from test_corpus import (Ctx, base_input, check_after, check_outcome, run_program,  # noqa: F401
                         zygote_baseline)


def _start(agent, host, name, marker, extra):
    data = base_input(agent, host, marker)
    data.update(extra)
    st, body, _ = agent.post("/execute", {"code": load_program(name), "timeout": 60,
                                          "input_data": data, "async": True,
                                          "debug_mode": False})
    assert st == 202, (st, body)
    return body["execution_id"]


def _view(agent, eid):
    st, body, _ = agent.get(f"/execution/{eid}")
    assert st == 200, (st, body)
    return body


def _wait_for(agent, eid, text):
    ok = wait_until(lambda: text in (_view(agent, eid).get("stdout") or "")
                    or _view(agent, eid)["status"] not in ("pending", "running"), 60, 0.05)
    res = _view(agent, eid)
    assert ok and text in (res.get("stdout") or ""), res


def _cancel(agent, eid):
    agent.delete(f"/execution/{eid}")
    assert wait_until(lambda: _view(agent, eid)["status"] not in ("pending", "running"), 30)
    return _view(agent, eid)


def _no_breach(res):
    text = (res.get("stdout") or "") + (res.get("stderr") or "")
    assert "BREACH" not in text, text[-3000:]


def test_a_pty_of_another_execution_is_out_of_reach(small_agent, host, zygote_baseline):
    """The plant holds a pty; the probe sees only its own devpts instance and cannot write
    into the plant's terminal."""
    marker = new_marker()
    eid = _start(small_agent, host, "70_pty_sharing", marker, {"role": "plant", "hold": 60})
    _wait_for(small_agent, eid, "planted /dev/pts/")
    probe, _ = run_program(small_agent, host, "70_pty_sharing", marker, {"role": "probe"})
    check_outcome("70_pty_sharing", probe, Ctx())
    wait_until(lambda: False, 0.5)  # anything injected would be read and printed by now
    plant = _cancel(small_agent, eid)
    _no_breach(plant)
    check_after(small_agent, host, marker, *zygote_baseline)


def test_per_user_limits_are_per_execution(small_agent, host, zygote_baseline):
    """The hog exhausts inotify instances, queued signals, pipe pages and message queues of its
    uid; a concurrent execution runs as another uid and still gets each."""
    marker = new_marker()
    eid = _start(small_agent, host, "72_per_uid_limits", marker, {"role": "hog", "hold": 60})
    _wait_for(small_agent, eid, "hog holding")
    victim, _ = run_program(small_agent, host, "72_per_uid_limits", marker, {"role": "victim"})
    hog = _cancel(small_agent, eid)
    _no_breach(hog)
    _no_breach(victim)
    assert victim["status"] == "completed", victim
    assert victim["stdout"].count("CONTAINED: got a") == 4, victim["stdout"]
    uids = [int(r["stdout"].split("uid ", 1)[1].split()[0]) for r in (hog, victim)]
    assert uids[0] != uids[1] and 0 not in uids, uids
    check_after(small_agent, host, marker, *zygote_baseline)


def test_disk_limit_bounds_every_writable_place_together(small_agent, host, zygote_baseline):
    """diskLimitMb 8: the working directory, /tmp, /dev/shm and /var/tmp hold 8 MiB in sum."""
    res, marker = run_program(small_agent, host, "73_disk_sum", scenario={"diskLimitMb": 8})
    check_outcome("73_disk_sum", res, Ctx(disk_mb=8))
    check_after(small_agent, host, marker, *zygote_baseline)
