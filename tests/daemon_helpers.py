"""Helpers for tests that run a real daemon: deadlines, starting it, and killing whatever a test started.

Every daemon and agent a test starts is killed by :func:`kill_service` (the ``svc`` fixture calls it), even
when the test fails: they run in their own sessions, so each is killed by process group.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Project


def kill_group(pid: object) -> None:
    if isinstance(pid, int) and pid > 0:
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def daemon_pids(wg: Path) -> set[int]:
    """The daemon's pid as ``daemon.lock`` and ``state.json`` record it (either may be missing)."""
    service = wg / "service"
    pids: set[int] = set()
    try:
        pids.add(int((service / "daemon.lock").read_text().strip()))
    except (OSError, ValueError):
        pass
    try:
        pid = json.loads((service / "state.json").read_text()).get("pid")
        if isinstance(pid, int):
            pids.add(pid)
    except (OSError, ValueError):
        pass
    return pids


def kill_service(wg: Path) -> None:
    """Kill the daemon and every agent in its registry (the daemon runs in its own session: pgid == pid)."""
    for pid in daemon_pids(wg):
        kill_group(pid)
    try:
        agents = json.loads((wg / "service" / "registry.json").read_text()).get("agents", {})
    except (OSError, ValueError):
        agents = {}
    for entry in agents.values():
        kill_group(entry.get("pgid"))


@pytest.fixture
def svc(project: Project) -> Iterator[Project]:
    """A project whose daemon (and its agents) are always killed at the end, even on failure."""
    yield project
    kill_service(project.wg)


def wait_for(
    pred: Callable[[], object], timeout: float = 5.0, what: str = "condition", interval: float = 0.05
) -> object:
    # A deadline, not a speed check: scaled up (default x3) so a loaded CI machine cannot make it flaky.
    timeout *= float(os.environ.get("WG_TEST_TIMEOUT_SCALE", "3"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def started_pid(p: Project, *args: str, env: dict[str, str] | None = None) -> int:
    r = p.ok("service", "start", *args, env=env)
    first = r.out.splitlines()[0]
    assert first.startswith("Service started (PID "), r.out
    return int(first.split("PID ")[1].rstrip(")"))


def pid_alive(pid: int) -> bool:
    """A process that exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
