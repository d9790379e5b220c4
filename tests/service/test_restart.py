"""Restart, re-adoption, pause persistence, freeze/thaw, reload and tick (spec service 3.3-3.5, 5.9, 11)."""

from __future__ import annotations

import json
import os
import signal
import time

from tests.conftest import Project
from tests.daemon_helpers import pid_alive, started_pid, svc, wait_for
from tests.service.test_reaper import agents_of, messages, registry

__all__ = ["svc"]  # the fixture: daemon and agents killed at the end, even on failure


def live_pid(p: Project, tid: str) -> int:
    def find() -> int | None:
        for e in agents_of(p, tid):
            if e.get("status") == "working" and isinstance(e.get("pid"), int):
                return int(e["pid"])
        return None

    pid = wait_for(find, 5, f"agent of {tid}")
    assert isinstance(pid, int)
    return pid


def proc_state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as fh:
        return fh.read().rsplit(")", 1)[1].split()[0]


def test_restart_readopts_live_agents(svc: Project) -> None:
    svc.ok("add", "a", "--id", "a", "--no-place", "--exec", "sleep 1000")
    svc.ok("add", "b", "--id", "b", "--no-place", "--exec", "sleep 1000")
    first = started_pid(svc, "--max-agents", "3")
    pa, pb = live_pid(svc, "a"), live_pid(svc, "b")
    r = svc.ok("service", "restart")
    lines = r.out.splitlines()
    assert lines[0] == f"Service stopped (PID {first}), agents continue running"
    assert lines[1].startswith("Service started (PID ")
    assert "max_agents=3" in r.out, "restart keeps the previous flag overrides"
    assert pid_alive(pa) and pid_alive(pb)
    time.sleep(0.5)
    assert {e["status"] for e in registry(svc).values()} == {"working"}
    log = (svc.wg / "service" / "daemon.log").read_text()
    assert f"Re-adopted agent agent-1 (PID {pa}) for task 'a'" in log
    assert f"Re-adopted agent agent-2 (PID {pb}) for task 'b'" in log
    assert len(registry(svc)) == 2, "no second agent for a re-adopted task"
    svc.ok("service", "stop", "--kill-agents")


def test_kill9_daemon_then_one_agent_dies(svc: Project) -> None:
    svc.ok("add", "a", "--id", "a", "--no-place", "--exec", "sleep 1000")
    svc.ok("add", "b", "--id", "b", "--no-place", "--exec", "sleep 1000")
    daemon = started_pid(svc)
    pa, pb = live_pid(svc, "a"), live_pid(svc, "b")
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not pid_alive(daemon), 3, "daemon gone")
    os.killpg(pa, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pa), 3, "agent a gone")
    svc.ok("service", "pause")  # no respawn: we look at the reopened task
    started_pid(svc)
    wait_for(lambda: svc.task("a")["status"] == "open", 3, "a reopened")
    a = svc.task("a")
    assert a["retry_count"] == 1 and "assigned" not in a
    assert any(m.startswith("Task unclaimed: agent 'agent-1'") for m in messages(a))
    assert svc.task("b")["status"] == "in-progress" and pid_alive(pb)
    log = (svc.wg / "service" / "daemon.log").read_text()
    assert f"Re-adopted agent agent-2 (PID {pb}) for task 'b'" in log
    svc.ok("service", "stop", "--kill-agents")


def test_adopted_agent_exit_completes_its_task(svc: Project) -> None:
    """An agent outliving its daemon finishes later: its exit_code file decides (5.4, 5.9)."""
    marker = svc.root / "go"
    svc.ok("add", "w", "--id", "w", "--no-place", "--exec", f"while [ ! -e {marker} ]; do sleep 0.05; done")
    started_pid(svc)
    live_pid(svc, "w")
    svc.ok("service", "restart")
    marker.write_text("")
    wait_for(lambda: svc.task("w")["status"] == "done", 4, "w done after its adopted agent exits")
    wait_for(lambda: agents_of(svc, "w")[0]["status"] == "done", 2, "entry done")
    assert agents_of(svc, "w")[0].get("exit_code") == 0
    svc.ok("service", "stop")


def test_pause_persists_across_restart(svc: Project) -> None:
    started_pid(svc)
    svc.ok("service", "pause", "--reason", "maintenance window")
    svc.ok("service", "restart")
    svc.ok("add", "p", "--id", "p", "--no-place", "--exec", "true")
    time.sleep(3)
    assert svc.task("p")["status"] == "open"
    st = svc.ok("service", "status").out
    assert ", PAUSED," in st and "  Pause reason: maintenance window" in st
    state = json.loads((svc.wg / "service" / "dispatcher-state.json").read_text())
    assert state["paused"] is True and state["pause_reason"] == "maintenance window"
    t0 = time.monotonic()
    svc.ok("service", "resume")
    wait_for(lambda: svc.task("p")["status"] != "open", 2, "p dispatched after resume")
    assert time.monotonic() - t0 < 1.5
    svc.ok("service", "stop")


def test_freeze_and_thaw(svc: Project) -> None:
    svc.ok("add", "f", "--id", "f", "--no-place", "--exec", "sleep 1000")
    started_pid(svc)
    pid = live_pid(svc, "f")
    assert svc.ok("service", "freeze").out.strip() == "Froze 1 agent(s). Service paused."
    wait_for(lambda: proc_state(pid) == "T", 2, "agent stopped")
    assert svc.ok("service", "freeze").out.strip() == "Service is already frozen."
    st = svc.ok("service", "status").out
    assert "enabled, FROZEN, PAUSED" in st and f"  Frozen PIDs: [{pid}]" in st
    assert registry(svc)["agent-1"]["status"] == "frozen"
    assert svc.ok("service", "thaw").out.strip() == "Thawed 1 agent(s). Service resumed."
    wait_for(lambda: proc_state(pid) != "T", 2, "agent continued")
    assert registry(svc)["agent-1"]["status"] == "working"
    assert svc.ok("service", "thaw").out.strip() == "Service is not frozen."
    svc.ok("service", "stop", "--kill-agents")


def test_reload_raises_max_agents(svc: Project) -> None:
    for i in range(4):
        svc.ok("add", f"h{i}", "--id", f"h{i}", "--no-place", "--exec", "sleep 1000")
    started_pid(svc, "--max-agents", "1")
    time.sleep(0.5)
    assert sum(1 for i in range(4) if svc.task(f"h{i}")["status"] == "in-progress") == 1
    r = svc.ok("service", "reload", "--max-agents", "3")
    assert r.out.splitlines()[0] == "Configuration updated"
    assert r.out.splitlines()[1].startswith("Effective config: max_agents=3, ")
    wait_for(
        lambda: sum(1 for i in range(4) if svc.task(f"h{i}")["status"] == "in-progress") == 3, 1.5, "3 agents"
    )
    time.sleep(0.3)
    assert sum(1 for i in range(4) if svc.task(f"h{i}")["status"] == "in-progress") == 3
    svc.ok("service", "stop", "--kill-agents")


def test_tick_without_daemon(svc: Project) -> None:
    svc.ok("add", "k", "--id", "k", "--no-place", "--exec", "true")
    r = svc.ok("service", "tick", "--max-agents", "2")
    lines = r.out.splitlines()
    assert lines[0].startswith("Running single coordinator tick (max_agents=2, ")
    assert lines[-1] == "Tick complete: 1 alive, 1 ready, 1 spawned"
    assert svc.task("k")["status"] == "in-progress"
    time.sleep(0.3)
    r = svc.ok("service", "tick")  # the next tick collects the exit from the exit_code file
    assert svc.task("k")["status"] == "done"
    svc.ok("service", "pause")
    svc.ok("add", "k2", "--id", "k2", "--no-place", "--exec", "true")
    r = svc.ok("service", "tick")
    assert "Dispatch is paused (paused by user) — spawn step skipped." in r.out
    assert svc.task("k2")["status"] == "open"


def test_starting_entries_of_a_dead_spawner(svc: Project) -> None:
    """A spawner killed mid-spawn: no process → the task is reopened at once (not after 60 s); a started
    ``run.sh`` whose pid was never recorded → found by its path and adopted (5.9)."""
    import subprocess

    from workgraph.timeutil import format_ts, now_ns

    dead = subprocess.Popen(["true"])
    dead.wait()
    svc.ok("add", "x", "--id", "x", "--no-place", "--exec", "true")
    svc.ok("add", "y", "--id", "y", "--no-place", "--exec", "true")
    svc.ok("claim", "x", "--actor", "agent-5")
    svc.ok("claim", "y", "--actor", "agent-6")
    adir = svc.wg / "agents" / "agent-6"
    adir.mkdir(parents=True)
    (adir / "run.sh").write_text("sleep 1000\n")
    runner = subprocess.Popen(["bash", str(adir / "run.sh")], start_new_session=True)
    try:
        now = format_ts(now_ns())
        base = {"status": "starting", "executor": "shell", "started_at": now, "spawner_pid": dead.pid}
        agents = {
            "agent-5": {**base, "id": "agent-5", "task_id": "x"},
            "agent-6": {**base, "id": "agent-6", "task_id": "y"},
        }
        (svc.wg / "service").mkdir(exist_ok=True)
        (svc.wg / "service" / "registry.json").write_text(json.dumps({"agents": agents, "next_agent_id": 7}))
        svc.ok("service", "pause")
        started_pid(svc)
        wait_for(lambda: svc.task("x")["status"] == "open", 3, "x reopened at once")
        assert any(m == "Task unclaimed: agent 'agent-5' never started" for m in messages(svc.task("x")))
        wait_for(lambda: registry(svc)["agent-6"].get("pid") == runner.pid, 3, "agent-6 adopted")
        assert registry(svc)["agent-6"]["status"] == "working"
        assert svc.task("y")["status"] == "in-progress" and runner.poll() is None
        log = (svc.wg / "service" / "daemon.log").read_text()
        assert f"Re-adopted agent agent-6 (PID {runner.pid}) for task 'y'" in log
        svc.ok("service", "stop")
    finally:
        runner.kill()
        runner.wait()
