"""Agent commands (spec service 8) and their IPC requests (4): agents, kill, spawn, heartbeat, retry, reclaim,
sweep. Real daemons in temp repos, always killed by the ``svc`` fixture."""

from __future__ import annotations

import json
import os
import time

from tests.conftest import Project
from tests.daemon_helpers import pid_alive, started_pid, svc, wait_for
from tests.service.test_daemon import Conn, sock_path

__all__ = ["svc"]


def registry(p: Project) -> dict[str, dict[str, object]]:
    try:
        agents = json.loads((p.wg / "service" / "registry.json").read_text()).get("agents", {})
    except (OSError, ValueError):
        return {}
    assert isinstance(agents, dict)
    return agents


def agent_of(p: Project, task: str) -> tuple[str, int]:
    def find() -> tuple[str, int] | None:
        assigned = p.task(task).get("assigned")
        entry = registry(p).get(str(assigned))
        if entry and entry.get("status") == "working" and isinstance(entry.get("pid"), int):
            return str(assigned), int(entry["pid"])  # type: ignore[arg-type]
        return None

    found = wait_for(find, 5, f"an agent on {task}")
    assert isinstance(found, tuple)
    return found


def add_sleeper(p: Project, tid: str, *extra: str) -> None:
    p.ok("add", tid, "--id", tid, "--exec", "sleep 60", "--no-place", *extra)


# -- wg agents ----------------------------------------------------------------------------------


def test_agents_empty_and_table_and_json(svc: Project) -> None:
    assert svc.ok("agents").out == "No agents registered.\n"
    assert svc.ok("agents", "--json").json() == []
    started_pid(svc)
    add_sleeper(svc, "a-very-long-task-identifier-that-is-cut-somewhere")
    add_sleeper(svc, "b")
    agent_a, pid_a = agent_of(svc, "a-very-long-task-identifier-that-is-cut-somewhere")
    agent_b, _ = agent_of(svc, "b")
    svc.ok("kill", agent_b)
    lines = svc.ok("agents").out.splitlines()
    assert lines[0] == f"{'ID':<8}  {'TASK':<40}  EXECUTOR     PID  UPTIME  STATUS"
    rows = {ln.split()[0]: ln for ln in lines[1:] if ln.startswith("agent-")}
    cut = "a-very-long-task-identifier-that-is-c..."
    assert rows[agent_a].startswith(f"{agent_a:<8}  {cut:<40}  {'shell':<8}  {pid_a:>6}  ")
    assert rows[agent_a].endswith("s  working") and len(cut) == 40
    assert rows[agent_b].endswith("  dead")
    assert lines[-2] == "" and lines[-1] == "2 agent(s) total: 1 alive, 1 dead"
    alive = svc.ok("agents", "--alive").out
    assert agent_a in alive and agent_b not in alive and alive.endswith("\n1 agent(s)\n")
    assert agent_b in svc.ok("agents", "--dead").out and agent_a not in svc.ok("agents", "--dead").out
    assert agent_a in svc.ok("agents", "--working").out
    assert svc.ok("agents", "--idle").out == "No agents registered.\n"
    data = svc.ok("agents", "--json").json()
    assert isinstance(data, list) and len(data) == 2
    keys = {"id", "task_id", "executor", "pid", "started_at", "last_heartbeat", "uptime", "uptime_secs",
            "status", "process_alive", "output_file"}  # fmt: skip
    for item in data:
        assert set(item) == keys
    by_id = {d["id"]: d for d in data}
    assert by_id[agent_a]["process_alive"] is True and by_id[agent_a]["pid"] == pid_a
    assert by_id[agent_b]["process_alive"] is False and by_id[agent_b]["status"] == "dead"
    assert isinstance(by_id[agent_a]["uptime_secs"], int)
    assert str(by_id[agent_a]["output_file"]).endswith(f"{agent_a}/output.log")
    svc.fails("agents", "--alive", "--dead", code=2)


def test_agents_shows_dead_process(svc: Project) -> None:
    svc.ok("add", "t", "--id", "t", "--no-place")
    (svc.wg / "service").mkdir(exist_ok=True)
    fake = {"id": "agent-7", "pid": 999999, "task_id": "t", "executor": "claude", "status": "working",
            "started_at": "2020-01-01T00:00:00Z", "last_heartbeat": "2020-01-01T00:00:00Z",
            "output_file": "/nonexistent"}  # fmt: skip
    (svc.wg / "service" / "registry.json").write_text(
        json.dumps({"agents": {"agent-7": fake}, "next_agent_id": 8})
    )
    out = svc.ok("agents").out
    assert out.splitlines()[1].endswith("  dead (process exited)")
    assert "agent-7" in out and " 999999 " in out
    assert out.endswith("1 agent(s) total: 0 alive, 1 dead\n")


# -- wg kill ------------------------------------------------------------------------------------


def test_kill_live_agent_pauses_task_via_daemon(svc: Project) -> None:
    started_pid(svc)
    add_sleeper(svc, "k")
    agent, pid = agent_of(svc, "k")
    r = svc.ok("kill", agent)
    assert r.out == (
        f"Killed {agent} (PID {pid})\nTask 'k' paused (use 'wg resume k' to re-enable dispatch)\n"
    )
    assert not pid_alive(pid)
    task = svc.task("k")
    assert task["status"] == "open" and task.get("paused") is True and "assigned" not in task
    assert int(task.get("retry_count") or 0) == 0
    messages = [e["message"] for e in task["log"]]  # type: ignore[union-attr]
    assert (
        messages[-1] == f"Agent '{agent}' killed — task auto-paused (use 'wg resume' to re-enable dispatch)"
    )
    entry = registry(svc)[agent]
    assert entry["status"] == "dead" and entry["death_reason"] == "killed"
    time.sleep(0.5)  # paused: the dispatcher must not pick it up again
    assert svc.task("k")["status"] == "open"
    # already dead, and unknown agents
    r = svc.ok("kill", agent)
    assert r.out == f"Agent '{agent}' (PID {pid}) already dead — task 'k' will be reconciled by dispatcher.\n"
    assert svc.ok("kill", "agent-999").out == "Agent 'agent-999' not in registry — nothing to kill.\n"


def test_kill_redispatch_and_force(svc: Project) -> None:
    started_pid(svc)
    add_sleeper(svc, "r")
    agent, pid = agent_of(svc, "r")
    r = svc.ok("kill", agent, "--redispatch", "--force")
    assert r.out == f"Force killed {agent} (PID {pid})\nTask 'r' unclaimed (will be re-dispatched)\n"
    assert not pid_alive(pid)
    new_agent, new_pid = wait_for(lambda: (a := agent_of(svc, "r")) and a[0] != agent and a, 5, "a new agent")  # type: ignore[misc]
    assert new_pid != pid
    task = svc.task("r")
    assert task.get("paused") is None and int(task.get("retry_count") or 0) == 0
    assert f"Task unclaimed: agent '{agent}' was killed (--redispatch)" in [
        e["message"]
        for e in task["log"]  # type: ignore[union-attr]
    ]
    svc.ok("kill", str(new_agent))


def test_kill_without_daemon_and_all(svc: Project) -> None:
    for t in ("x", "y"):
        add_sleeper(svc, t)
        r = svc.ok("spawn", t)
        assert r.out.startswith("Spawned agent-") and f" for task '{t}'\n  Executor: shell (shell)\n" in r.out
    pids = [int(e["pid"]) for e in registry(svc).values()]  # type: ignore[call-overload]
    assert all(pid_alive(p) for p in pids)
    r = svc.ok("kill", "--all")
    lines = r.out.splitlines()
    assert lines[0] == "Killed 2 agent(s) (tasks paused):"
    assert sorted(lines[1:]) == sorted(
        f"  {a} (PID {e['pid']}) - task '{e['task_id']}'" for a, e in registry(svc).items()
    )
    assert not any(pid_alive(p) for p in pids)
    for t in ("x", "y"):
        assert svc.task(t)["status"] == "open" and svc.task(t)["paused"] is True
    assert svc.ok("kill", "--all").out == "No running agents to kill.\n"
    svc.fails("kill", code=2)


def test_kill_tree(svc: Project) -> None:
    add_sleeper(svc, "root")
    add_sleeper(svc, "leaf", "--after", "root")
    svc.ok("add", "other", "--id", "other", "--no-place")
    svc.ok("spawn", "root")
    svc.ok("spawn", "leaf")  # wg spawn may start a blocked task
    dry = svc.ok("kill", "--tree", "root", "--dry-run").out
    assert "Would kill agent-1" in dry and "Would abandon 'leaf'" in dry and "other" not in dry
    assert svc.task("root")["status"] == "in-progress"
    r = svc.ok("kill", "--tree", "root")
    assert r.out.splitlines()[0] == "Killed 2 agent(s) in the tree of 'root'"
    assert svc.task("root")["status"] == "abandoned" and svc.task("leaf")["status"] == "abandoned"
    assert svc.task("other")["status"] == "open"


# -- IPC ----------------------------------------------------------------------------------------


def test_ipc_agents_kill_heartbeat_spawn_query(svc: Project) -> None:
    started_pid(svc)
    svc.ok("add", "q", "--id", "q", "--no-place", "--exec", "sleep 60", "--paused")
    c = Conn(sock_path(svc))
    try:
        assert c.ask({"cmd": "kill", "agent_id": "agent-42"}) == {
            "ok": False,
            "error": "Agent 'agent-42' not found",
        }
        assert c.ask({"cmd": "heartbeat", "agent_id": "agent-42"}) == {
            "ok": False,
            "error": "Agent 'agent-42' not found",
        }
        assert c.ask({"cmd": "spawn", "task_id": "nope", "executor": ""}) == {
            "ok": False,
            "error": "Task 'nope' not found",
        }
        assert str(c.ask({"cmd": "kill"})["error"]).startswith("Invalid request:")
        sp = c.ask({"cmd": "spawn", "task_id": "q", "executor": ""})
        assert sp["ok"] is True and sp["task_id"] == "q" and sp["executor"] == "shell"
        assert isinstance(sp["pid"], int) and pid_alive(sp["pid"])
        again = c.ask({"cmd": "spawn", "task_id": "q", "executor": ""})
        assert again["ok"] is False and str(again["error"]).startswith(
            f"Task 'q' is already claimed by @{sp['agent_id']}"
        )
        q = c.ask({"cmd": "query_task", "task_id": "q"})
        assert q["status"] == "InProgress" and q["assigned"] == sp["agent_id"]
        ag = c.ask({"cmd": "agents"})
        assert ag["ok"] is True and [a["id"] for a in ag["agents"]] == [sp["agent_id"]]  # type: ignore[union-attr]
        assert set(ag["agents"][0]) == {  # type: ignore[index]
            "id", "task_id", "executor", "pid", "status", "uptime", "started_at", "last_heartbeat",
        }  # fmt: skip
        hb = c.ask({"cmd": "heartbeat", "agent_id": sp["agent_id"]})
        assert hb == {"ok": True, "agent_id": sp["agent_id"], "heartbeat": "recorded"}
        k = c.ask({"cmd": "kill", "agent_id": sp["agent_id"], "redispatch": False})
        assert (
            k["ok"] is True and k["killed"] == sp["agent_id"] and k["paused"] is True and k["force"] is False
        )
        assert not pid_alive(int(sp["pid"]))  # type: ignore[call-overload]
        m = c.ask({"cmd": "send_message", "task_id": "q", "body": "hello"})
        assert m["ok"] is True and m["task_id"] == "q" and isinstance(m["message_id"], int)
    finally:
        c.close()


# -- spawn, heartbeat ---------------------------------------------------------------------------


def test_spawn_errors_and_daemon_spawn(svc: Project) -> None:
    svc.fails("spawn", "ghost")
    svc.ok("add", "d", "--id", "d", "--no-place")
    svc.ok("done", "d")
    assert svc.fails("spawn", "d").err == "Error: Task 'd' is already done\n"
    svc.ok("add", "f", "--id", "f", "--no-place")
    svc.ok("fail", "f")
    assert "Cannot spawn on task 'f': task is Failed. Use 'wg retry' first." in svc.fails("spawn", "f").err
    svc.fails("spawn", "f", "--timeout", "soon")
    started_pid(svc)
    svc.ok("add", "s", "--id", "s", "--no-place", "--exec", "echo spawned > s.txt", "--paused")
    r = svc.ok("spawn", "s")
    lines = r.out.splitlines()
    assert lines[0].startswith("Spawned agent-") and lines[0].endswith(" for task 's'")
    assert lines[1:3] == ["  Executor: shell (shell)", "  Model: default"]
    assert lines[3].startswith("  PID: ") and lines[4].startswith("  Output: ")
    wait_for(lambda: svc.task("s")["status"] == "done", 5, "s done")
    assert (svc.root / "s.txt").read_text() == "spawned\n"
    assert "Spawned by wg spawn --executor shell" in [e["message"] for e in svc.task("s")["log"]]  # type: ignore[union-attr]


def test_heartbeat(svc: Project) -> None:
    r = svc.fails("heartbeat", "agent-3")
    assert r.err == "Error: Agent 'agent-3' not found\n"
    add_sleeper(svc, "h")
    svc.ok("spawn", "h")
    before = registry(svc)["agent-1"]["last_heartbeat"]
    time.sleep(0.01)
    r = svc.ok("heartbeat", env={"WG_AGENT_ID": "agent-1"})
    after = registry(svc)["agent-1"]["last_heartbeat"]
    assert r.out == f"Agent heartbeat recorded for 'agent-1' at {after}\n"
    assert after != before
    svc.fails("heartbeat")  # neither an id nor WG_AGENT_ID
    svc.ok("kill", "agent-1", "--force")


# -- retry, reclaim, sweep ----------------------------------------------------------------------


def test_retry_in_progress_kills_agent_first(svc: Project) -> None:
    started_pid(svc)
    add_sleeper(svc, "rt")
    agent, pid = agent_of(svc, "rt")
    svc.ok("pause", "rt")  # keep the dispatcher from starting the next attempt during the checks
    r = svc.ok("retry", "rt")
    assert (
        r.out.splitlines()[0]
        == f"Reset 'rt' from in-progress to open (attempt #2); killed agent {agent} (PID {pid})"
    )
    assert not pid_alive(pid)
    task = svc.task("rt")
    assert task["status"] == "open" and task["retry_count"] == 1 and "assigned" not in task
    messages = [e["message"] for e in task["log"]]  # type: ignore[union-attr]
    assert f"Agent '{agent}' (PID {pid}) killed for retry" in messages
    assert not any(m.startswith("Execution failed") for m in messages)
    assert registry(svc)[agent]["status"] == "dead"


def test_retry_in_progress_without_daemon(svc: Project) -> None:
    add_sleeper(svc, "nd")
    svc.ok("spawn", "nd")
    pid = int(registry(svc)["agent-1"]["pid"])  # type: ignore[call-overload]
    r = svc.ok("retry", "nd")
    assert r.out.startswith(
        f"Reset 'nd' from in-progress to open (attempt #2); killed agent agent-1 (PID {pid})"
    )
    assert not pid_alive(pid)
    assert svc.task("nd")["status"] == "open" and svc.task("nd")["retry_count"] == 1


def test_reclaim(svc: Project) -> None:
    add_sleeper(svc, "rc")
    svc.fails("reclaim", "rc", "--from", "agent-1", "--to", "alice")  # not in progress
    svc.ok("spawn", "rc")
    pid = int(registry(svc)["agent-1"]["pid"])  # type: ignore[call-overload]
    r = svc.fails("reclaim", "rc", "--from", "bob", "--to", "alice")
    assert "is assigned to 'agent-1', not 'bob'" in r.err
    assert svc.ok("reclaim", "rc", "--from", "agent-1", "--to", "alice").out == (
        "Reclaimed task 'rc' from 'agent-1' to 'alice'\n"
    )
    assert not pid_alive(pid)
    task = svc.task("rc")
    assert task["status"] == "in-progress" and task["assigned"] == "alice"


def test_sweep_reopens_dead_agent_task(svc: Project) -> None:
    add_sleeper(svc, "sw")
    svc.ok("spawn", "sw")
    pid = int(registry(svc)["agent-1"]["pid"])  # type: ignore[call-overload]
    os.killpg(pid, 9)
    wait_for(lambda: not pid_alive(pid), 5, "agent gone")
    dry = svc.ok("sweep", "--dry-run").out
    assert dry.startswith("Would: collect agent-1 (task 'sw'): process gone")
    assert svc.task("sw")["status"] == "in-progress"
    out = svc.ok("sweep").out
    assert "agent-1: working -> dead" in out
    task = svc.task("sw")
    assert task["status"] == "open" and task["retry_count"] == 1
    assert svc.ok("sweep").out.startswith("Nothing to sweep")


def test_service_install_writes_a_foreground_user_unit(svc: Project) -> None:
    dry = svc.ok("service", "install", "--dry-run").out
    assert "ExecStart=" in dry and "service start --foreground" in dry
    assert not (svc.home / ".config").exists()
    out = svc.ok("service", "install").out
    units = list((svc.home / ".config" / "systemd" / "user").glob("wg-*.service"))
    assert len(units) == 1 and f"Wrote {units[0]}" in out
    text = units[0].read_text()
    assert f"--dir {svc.wg} service start --foreground" in text and "Type=simple" in text
    assert "WantedBy=default.target" in text
