"""Fixtures of the hostile-code corpus: one agent with small limits shared by the module
(`small_agent`), a host snapshot (canary files, /etc/passwd, ...), and agent logs attached to
failing reports. Helpers live in sec_helpers.py (a unique module name: tests/e2e has its own
conftest.py)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from sec_helpers import AGENT_BIN, SMALL_LIMITS, Agent, HostSnapshot  # noqa: E402

_AGENTS = []


def _stop(ag):
    try:
        if ag.stopped_rc is None:
            rc = ag.terminate(10)
            assert rc == 0, f"agent exited with {rc} after SIGTERM"
    finally:
        ag.kill()


@pytest.fixture(scope="session")
def small_agent(tmp_path_factory):
    if not AGENT_BIN.exists():
        pytest.fail(f"{AGENT_BIN} not found: run `make`")
    # With a token, as the orchestrator runs agents: the fixture sends it, user code has not.
    ag = Agent(tmp_path_factory.mktemp("secagent"),
               dict(SMALL_LIMITS, log_level="info", agent_token="sec-" + os.urandom(16).hex()))
    _AGENTS.append(("small_agent", ag))
    yield ag
    _stop(ag)


@pytest.fixture(scope="session")
def host():
    snap = HostSnapshot()
    yield snap
    snap.cleanup()


@pytest.fixture
def make_sec_agent(tmp_path):
    made = []

    def make(**flags):
        ag = Agent(tmp_path / f"agent{len(made)}", flags)
        made.append(ag)
        _AGENTS.append((f"dedicated agent {len(made)}", ag))
        return ag

    yield make
    for ag in made:
        _stop(ag)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for name, ag in _AGENTS:
            rep.sections.append((f"{name} log ({ag.log_path})", ag.log_text(120)))
