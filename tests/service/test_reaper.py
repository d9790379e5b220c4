"""Deaths, retries, throttle, stray agents and completion rows with real daemons (spec service 5.2-5.7, 11)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from typing import Any

from tests.conftest import Project
from tests.daemon_helpers import pid_alive, started_pid, svc, wait_for

__all__ = ["svc"]  # the fixture: daemon and agents killed at the end, even on failure


def registry(p: Project) -> dict[str, Any]:
    try:
        data = json.loads((p.wg / "service" / "registry.json").read_text())
    except (OSError, ValueError):
        return {}
    agents = data.get("agents", {})
    assert isinstance(agents, dict)
    return agents


def agents_of(p: Project, tid: str) -> list[dict[str, Any]]:
    return [e for e in registry(p).values() if e.get("task_id") == tid]


def messages(task: dict[str, object]) -> list[str]:
    log = task.get("log") or []
    assert isinstance(log, list)
    return [str(e.get("message")) for e in log]


def write_registry(p: Project, agents: dict[str, Any], next_id: int) -> None:
    (p.wg / "service").mkdir(exist_ok=True)
    (p.wg / "service" / "registry.json").write_text(json.dumps({"agents": agents, "next_agent_id": next_id}))


def start_time(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        return int(fh.read().rsplit(")", 1)[1].split()[19])


def test_retry_limit_enforced_on_deaths(svc: Project) -> None:
    """A shell agent whose whole group is SIGKILLed (no exit status of its own) is a death; limit 1 → failed."""
    svc.ok("add", "c", "--id", "c", "--no-place", "--max-retries", "1", "--exec", "kill -KILL 0")
    started_pid(svc)
    wait_for(lambda: svc.task("c")["status"] == "failed", 10, "c failed")
    task = svc.task("c")
    assert task["failure_class"] == "agent-died"
    assert str(task["failure_reason"]).startswith("Retry limit reached (max_retries=1): agent '")
    assert any("process exited" in m for m in messages(task))
    assert len(agents_of(svc, "c")) == 2
    wait_for(lambda: all(e["status"] == "dead" for e in agents_of(svc, "c")), 3, "entries dead")
    svc.ok("service", "stop")


def test_throttle_after_second_death(svc: Project) -> None:
    """Two deaths within 300 s: ready_after ≥ 60 s after the last one and no third agent starts."""
    svc.ok("add", "t", "--id", "t", "--no-place", "--max-retries", "10", "--exec", "kill -KILL 0")
    started_pid(svc)
    wait_for(lambda: svc.task("t").get("retry_count") == 2, 10, "two deaths")
    task = svc.task("t")
    from workgraph.timeutil import parse_ts

    deaths = [e for e in task["log"] if str(e["message"]).startswith("Task unclaimed")]  # type: ignore[union-attr]
    assert len(deaths) == 2
    last = parse_ts(deaths[-1]["timestamp"])
    after = parse_ts(task["ready_after"])
    assert last is not None and after is not None and after - last >= 60 * 10**9
    time.sleep(1.5)
    assert len(agents_of(svc, "t")) == 2
    assert svc.task("t")["status"] == "open"
    svc.ok("service", "stop")


def test_exit_codes_124_and_143(svc: Project) -> None:
    """124 is a hard timeout (failed); 143 not caused by wg is a death (reopened, retry counted)."""
    svc.ok("add", "h", "--id", "h", "--no-place", "--exec", "exit 124")
    svc.ok("add", "k", "--id", "k", "--no-place", "--max-retries", "0", "--exec", "exit 143")
    started_pid(svc)
    wait_for(lambda: svc.task("h")["status"] == "failed", 5, "h failed")
    assert svc.task("h")["failure_class"] == "agent-hard-timeout"
    assert svc.task("h")["failure_reason"] == "Agent exceeded hard timeout"
    wait_for(lambda: svc.task("k")["status"] == "failed", 5, "k failed")
    k = svc.task("k")
    assert k["failure_class"] == "agent-died"
    assert str(k["failure_reason"]).startswith("Retry limit reached (max_retries=0)")
    svc.ok("service", "stop")


def test_output_archived_and_captured(svc: Project) -> None:
    svc.ok("add", "a", "--id", "a", "--no-place", "--exec", "echo hello-out")
    svc.ok("add", "b", "--id", "b", "--no-place", "--exec", "exit 3")
    started_pid(svc)
    wait_for(lambda: svc.task("a")["status"] == "done" and svc.task("b")["status"] == "failed", 5, "a, b")
    assert svc.task("b")["failure_reason"] == "Command exited with code 3"
    assert svc.task("b")["retry_count"] == 1
    for tid in ("a", "b"):
        wait_for(lambda tid=tid: (svc.wg / "output" / tid / "log.json").exists(), 3, f"output/{tid}")
        runs = list((svc.wg / "log" / "agents" / tid).iterdir())
        assert len(runs) == 1 and len(runs[0].name) == 16 and runs[0].name.endswith("Z")
        assert (runs[0] / "run.sh").exists() and (runs[0] / "exit_code").exists()
    assert "hello-out" in next((svc.wg / "log" / "agents" / "a").iterdir()).joinpath("output.log").read_text()
    log = json.loads((svc.wg / "output" / "a" / "log.json").read_text())
    assert any(e["message"] == "Task marked as done" for e in log)
    svc.ok("service", "stop")


def test_stray_agent_killed_when_task_done_by_hand(svc: Project) -> None:
    """Kill before reopen: a TERM-ignoring agent whose task is marked done is gone within 7 s."""
    svc.ok("add", "s", "--id", "s", "--no-place", "--exec", "trap '' TERM; sleep 1000")
    started_pid(svc)
    entry = wait_for(lambda: next((e for e in agents_of(svc, "s") if e.get("pid")), None), 5, "agent")
    assert isinstance(entry, dict)
    pid = entry["pid"]
    time.sleep(0.3)
    svc.ok("done", "s")
    wait_for(lambda: not pid_alive(pid), 8, "stubborn agent gone")
    wait_for(lambda: agents_of(svc, "s")[0]["status"] == "done", 3, "registry done")
    log = (svc.wg / "service" / "daemon.log").read_text()
    assert "still alive but task 's' is done — sending SIGTERM" in log
    assert svc.task("s")["status"] == "done"
    svc.ok("service", "stop")


def test_pid_reuse_reopens_without_signalling(svc: Project) -> None:
    svc.ok("add", "r", "--id", "r", "--no-place")
    svc.ok("claim", "r", "--actor", "agent-3")
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        entry = {
            "id": "agent-3",
            "task_id": "r",
            "status": "working",
            "executor": "shell",
            "pid": sleeper.pid,
            "pgid": sleeper.pid,
            "pid_start_time": start_time(sleeper.pid) + 12345,
        }
        write_registry(svc, {"agent-3": entry}, 4)
        svc.ok("service", "pause")
        started_pid(svc)
        wait_for(lambda: svc.task("r")["status"] == "open", 3, "r reopened")
        assert any("PID reused" in m for m in messages(svc.task("r")))
        assert sleeper.poll() is None, "the unrelated process must not be signalled"
        wait_for(lambda: registry(svc)["agent-3"]["status"] == "dead", 3, "entry dead")
        svc.ok("service", "stop")
    finally:
        sleeper.kill()
        sleeper.wait()


def test_maintenance_runs_while_saturated(svc: Project) -> None:
    """--max-agents 1 with one hanging agent: a dead claim elsewhere is reopened; a stale open claim cleared."""
    svc.ok("add", "hang", "--id", "hang", "--no-place", "--exec", "sleep 1000")
    svc.ok("add", "d", "--id", "d", "--no-place", "--exec", "true")
    svc.ok("add", "o", "--id", "o", "--no-place", "--exec", "true")
    started_pid(svc, "--max-agents", "1")
    wait_for(lambda: svc.task("hang")["status"] == "in-progress", 5, "hang runs")
    svc.ok("service", "pause")
    # d: claimed by a registry entry with a dead pid; o: open but still naming an unknown agent.
    svc.ok("claim", "d", "--actor", "agent-77")

    def change(data: dict[str, Any]) -> None:
        data["agents"]["agent-77"] = {"id": "agent-77", "task_id": "d", "status": "working", "pid": 999999}

    data = json.loads((svc.wg / "service" / "registry.json").read_text())
    change(data)
    (svc.wg / "service" / "registry.json").write_text(json.dumps(data))
    rows = svc.rows()
    for row in rows:
        if row.get("id") == "o":
            row["assigned"] = "agent-88"
    svc.graph_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    svc.ok("service", "resume")
    wait_for(lambda: svc.task("d")["status"] == "open", 2.5, "d reopened while saturated")
    wait_for(lambda: "assigned" not in svc.task("o"), 2.5, "o's stale claim cleared")
    assert any("stale-claim cleared" in m for m in messages(svc.task("o")))
    assert svc.task("hang")["status"] == "in-progress"
    svc.ok("service", "stop", "--kill-agents")


def test_death_during_pause_reopens(svc: Project) -> None:
    svc.ok("add", "x", "--id", "x", "--no-place", "--exec", "sleep 1000")
    started_pid(svc)
    entry = wait_for(lambda: next((e for e in agents_of(svc, "x") if e.get("pid")), None), 5, "agent")
    assert isinstance(entry, dict)
    svc.ok("service", "pause")
    os.killpg(entry["pgid"], signal.SIGKILL)
    wait_for(lambda: svc.task("x")["status"] == "open", 3, "x reopened during pause")
    assert svc.task("x")["retry_count"] == 1
    time.sleep(0.5)
    assert len(agents_of(svc, "x")) == 1, "paused: no respawn"
    svc.ok("service", "stop")


def _fake_claude(p: Project, body: str) -> dict[str, str]:
    bindir = p.root.parent / "fakebin"
    bindir.mkdir(exist_ok=True)
    fake = bindir / "claude"
    fake.write_text("#!/bin/sh\ncat > /dev/null\n" + body + "\n")
    fake.chmod(0o755)
    return {"PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}


def test_zero_output_breaker(svc: Project) -> None:
    """A silent claude agent is killed after zero_output_timeout; the third kill trips the breaker (5.7)."""
    with open(svc.wg / "config.toml", "a") as fh:
        fh.write("\n[dispatcher]\nzero_output_timeout = 1\nrespawn_backoff_secs = 0\nmax_retries = 5\n")
    env = _fake_claude(svc, "exec sleep 1000")
    svc.ok("add", "z", "--id", "z", "--no-place")
    started_pid(svc, env=env)
    wait_for(lambda: "zero-output-circuit-broken" in (svc.task("z").get("tags") or []), 20, "breaker tripped")
    task = svc.task("z")
    assert task["status"] == "incomplete" and "assigned" not in task
    msgs = messages(task)
    resets = [m for m in msgs if m.startswith("Zero-output agent '")]
    assert len(resets) == 2 and resets[1].endswith("Task reset for respawn (attempt 2/2).")
    assert msgs[-1].startswith("Circuit breaker tripped: agent '")
    assert msgs[-1].endswith("Max respawns (2) exceeded — marked incomplete for evaluator review.")
    wait_for(
        lambda: len(agents_of(svc, "z")) == 3 and all(e["status"] == "dead" for e in agents_of(svc, "z")), 3
    )
    assert {e.get("death_reason") for e in agents_of(svc, "z")} == {"zero-output"}
    state = json.loads((svc.wg / "service" / "zero_output_state.json").read_text())
    assert state["task_respawn_counts"]["z"] == 3
    time.sleep(1.5)
    assert len(agents_of(svc, "z")) == 3, "a tripped breaker is no candidate"
    svc.ok("service", "stop")
