"""wg status, wg check, wg viz, wg why-blocked (spec core 11.14-11.15)."""

from __future__ import annotations

import json
import os
import re
import time

from tests.conftest import Project
from workgraph.timeutil import format_ts


def _append(project: Project, *records: dict[str, object]) -> None:
    with project.graph_path.open("a") as fh:
        for rec in records:
            fh.write(json.dumps({"kind": "task", "priority": 10, **rec}) + "\n")


def _task(tid: str, status: str = "open", **extra: object) -> dict[str, object]:
    return {"id": tid, "title": tid.upper(), "status": status, **extra}


NOW = time.time_ns()
HOUR = 3600 * 1_000_000_000


def _counts_graph(project: Project) -> None:
    _append(
        project,
        _task("ip", "in-progress"),
        _task("pe", "pending-eval"),
        _task("fpe", "failed-pending-eval"),
        _task("r1"),
        _task("bl", after=["r1"]),
        _task("stored", "blocked"),
        _task("dl", not_before=format_ts(NOW + 48 * HOUR)),
        _task("dn", "done", completed_at=format_ts(NOW)),
        _task("old", "done", completed_at="2020-01-01T00:00:00+00:00"),
        _task("failed-one", "failed"),
        _task(".sys", "in-progress"),
        _task(".sys-open"),
    )


def test_status_counts_and_system_tasks(project: Project) -> None:
    _counts_graph(project)
    out = project.ok("status").out
    assert "Tasks: 3 in-progress, 1 ready, 2 blocked, 1 delayed, 2 done (today: 1)" in out
    assert out.startswith(
        "Service: stopped\nDispatcher: max=8, executor=claude, model=claude:opus, poll=60s\n"
    )
    assert "\nAgents: none\n" in out
    out_all = project.ok("status", "--all").out
    assert "Tasks: 4 in-progress, 2 ready, 2 blocked, 1 delayed, 2 done (today: 1)" in out_all


def test_status_no_delayed_part_when_zero(project: Project) -> None:
    project.ok("add", "Solo", "--no-place")
    out = project.ok("status").out
    assert "Tasks: 0 in-progress, 1 ready, 0 blocked, 0 done (today: 0)" in out
    assert "Recent:" not in out
    assert "Attention" not in out


def test_status_json_keys(project: Project) -> None:
    _counts_graph(project)
    data = project.ok("--json", "status").json()
    assert isinstance(data, dict)
    assert list(data) == [
        "service",
        "coordinator",
        "agents",
        "tasks",
        "cycles",
        "recent",
        "dangling_deps",
        "verify_failing",
    ]
    assert data["tasks"] == {
        "in_progress": 3,
        "ready": 1,
        "blocked": 2,
        "delayed": 1,
        "done_today": 1,
        "done_total": 2,
    }
    assert data["service"]["running"] is False
    assert data["coordinator"]["max_agents"] == 8
    assert [r["task_id"] for r in data["recent"]] == ["dn", "old"]
    assert data["dangling_deps"] == []


def test_status_dangling_deps_attention_block(project: Project) -> None:
    _append(project, _task("a", after=["ghost", "phantom"]), _task("b", after=["a"]))
    out = project.ok("status").out
    block = (
        "\n⚠ Attention: 1 task(s) have unresolved dependencies:\n"
        "  a → ghost (missing)\n"
        "  a → phantom (missing)\n"
        "  Run 'wg check' for details.\n"
    )
    assert block in out
    data = project.ok("status", "--json").json()
    assert data["dangling_deps"] == [{"task": "a", "dep": "ghost"}, {"task": "a", "dep": "phantom"}]  # type: ignore[index]


def test_status_recent_and_title_cut(project: Project) -> None:
    long_title = "T" * 60
    done_at = NOW - 2 * 60 * 1_000_000_000
    _append(
        project,
        {"id": "late", "title": long_title, "status": "done", "completed_at": format_ts(done_at)},
        *[_task(f"d{i}", "done", completed_at=format_ts(done_at - (i + 1) * HOUR)) for i in range(6)],
    )
    out = project.ok("status").out
    lt = time.localtime(done_at // 1_000_000_000)
    recent = out.split("Recent:\n", 1)[1].splitlines()
    assert recent[0] == f"  {lt.tm_hour:02d}:{lt.tm_min:02d}  {'T' * 47}... [done]"
    assert len(recent) == 5
    assert recent[-1].endswith("  D3 [done]")


def test_status_reads_service_state_and_registry(project: Project) -> None:
    service = project.wg / "service"
    service.mkdir(exist_ok=True)
    pid = os.getpid()
    state = {"pid": pid, "socket_path": str(service / "daemon.sock"), "started_at": format_ts(NOW - 2 * HOUR)}
    (service / "state.json").write_text(json.dumps(state))
    registry = {
        "agents": {
            "agent-1": {
                "id": "agent-1",
                "pid": pid,
                "task_id": "build",
                "executor": "claude",
                "status": "working",
            },
            "agent-2": {
                "id": "agent-2",
                "pid": 999_999_999,
                "task_id": "old",
                "executor": "shell",
                "status": "done",
            },
        },
        "next_agent_id": 3,
    }
    (service / "registry.json").write_text(json.dumps(registry))
    out = project.ok("status").out
    assert out.startswith(f"Service: running (PID {pid}, 2h uptime)\n")
    assert "Agents (1 alive, 1 dead):" in out
    assert any("agent-1" in line and "build" in line and "working" in line for line in out.splitlines())
    data = project.ok("status", "--json").json()
    assert data["service"]["running"] is True  # type: ignore[index]
    assert data["agents"]["alive"] == 1  # type: ignore[index]
    # a dead pid means the service is stopped
    (service / "state.json").write_text(json.dumps(dict(state, pid=999_999_999)))
    assert project.ok("status").out.startswith("Service: stopped\n")


def test_status_dispatcher_line_from_config(project: Project) -> None:
    (project.wg / "config.toml").write_text(
        '[dispatcher]\nmax_agents = 3\npoll_interval = 15\n\n[agent]\nmodel = "codex:gpt-5"\n'
    )
    out = project.ok("status").out
    assert "Dispatcher: max=3, executor=codex, model=codex:gpt-5, poll=15s" in out


def test_status_cycles_block(project: Project) -> None:
    _append(
        project,
        _task("loop-a", after=["loop-b"], cycle_config={"max_iterations": 3}, loop_iteration=1),
        _task("loop-b", "done", after=["loop-a"]),
    )
    out = project.ok("status").out
    assert "\nCycles:\n  loop-a [open] iter 2/3 — last: never, next: ready\n" in out


# -- check ----------------------------------------------------------------------------------------


def test_check_ok(project: Project) -> None:
    project.ok("add", "One", "--no-place")
    project.ok("add", "Two", "--no-place", "--after", "one")
    r = project.ok("check")
    assert r.out == "Graph OK: 2 nodes, no issues found\n"


def test_check_cycle_is_a_warning(project: Project) -> None:
    _append(project, _task("a", after=["b"]), _task("b", after=["a"]))
    r = project.ok("check")
    assert r.out == "Graph OK: 2 nodes, 1 warning(s)\n"
    assert "Warning: Cycles detected (this is OK for recurring tasks):\n  a -> b\n" in r.err


def test_check_orphan_is_an_error(project: Project) -> None:
    _append(project, _task("a", after=["ghost"]))
    r = project.fails("check")
    assert "Error: Orphan references (dependencies on non-existent tasks):" in r.err
    assert "ghost" in r.err
    assert r.err.rstrip().endswith("Found 1 error(s) and 0 warning(s)")
    assert "Graph OK" not in r.out


# -- viz ------------------------------------------------------------------------------------------


def test_viz_dependents_hang_under_dependency(project: Project) -> None:
    project.ok("add", "Root", "--no-place")
    project.ok("add", "Left", "--no-place", "--after", "root")
    project.ok("add", "Right", "--no-place", "--after", "root")
    project.ok("add", "Leaf", "--no-place", "--after", "left")
    lines = project.ok("viz").out.splitlines()
    assert lines[0].startswith("root  (open)")
    assert lines[1].startswith("├→ left  (open)")
    assert lines[2].startswith("│  └→ leaf  (open)")
    assert lines[3].startswith("└→ right  (open)")


def test_viz_extra_edge_is_an_arc(project: Project) -> None:
    project.ok("add", "A", "--no-place")
    project.ok("add", "B", "--no-place")
    project.ok("add", "C", "--no-place", "--after", "a,b")
    lines = project.ok("viz").out.splitlines()
    assert lines[0].startswith("a  (open)")
    assert lines[1].startswith("└→ c  (open)") and "←" in lines[1] and lines[1].endswith("┐")
    assert lines[2].startswith("b  (open)") and lines[2].endswith("┘")


def test_viz_empty_and_finished_components(project: Project) -> None:
    assert project.ok("viz").out == "(no tasks to display)\n"
    project.ok("add", "Finished", "--no-place")
    project.ok("claim", "finished")
    project.ok("done", "finished")
    assert project.ok("viz").out == "(no tasks to display)\n"
    assert project.ok("viz", "--all").out.startswith("finished  (done)")
    _append(project, _task(".hidden"))
    assert ".hidden" not in project.ok("viz", "--all").out
    assert ".hidden  (open)" in project.ok("viz", "--show-internal").out


def test_viz_output_requires_dot(project: Project) -> None:
    project.ok("add", "A", "--no-place")
    r = project.run("viz", "-o", "graph.png")
    assert r.code in (1, 2)
    assert "--output requires --format dot" in r.err
    project.ok("viz", "--dot", "-o", "graph.dot")
    assert (project.root / "graph.dot").read_text().startswith("digraph")
    assert '"a" [label="a\\nopen"' in project.ok("viz", "--dot").out
    for flag in ("--critical-path", "--layout", "--edge-color", "--columns"):
        extra = {"--layout": ["tree"], "--edge-color": ["gray"], "--columns": ["80"]}.get(flag, [])
        project.ok("viz", flag, *extra)


# -- why-blocked ----------------------------------------------------------------------------------


def test_why_blocked_failed_dependency(project: Project) -> None:
    project.ok("add", "Base", "--no-place")
    project.ok("add", "Mid", "--no-place", "--after", "base")
    project.ok("add", "Top", "--no-place", "--after", "mid")
    project.ok("claim", "base")
    project.ok("fail", "base", "--reason", "boom")
    out = project.ok("why-blocked", "top").out
    assert out.startswith(
        "Task 'top' is not ready:\n  - waiting on 'mid' (open)\n    - waiting on 'base' (failed)\n"
    )
    assert "Root blockers:\n  - base: failed" in out
    data = project.ok("--json", "why-blocked", "top").json()
    assert isinstance(data, dict)
    assert data["ready"] is False
    assert data["reasons"][0]["id"] == "mid"
    assert data["reasons"][0]["reasons"][0] == {
        "kind": "dependency",
        "id": "base",
        "status": "failed",
        "reasons": [{"kind": "status", "status": "failed"}],
    }
    assert [r["id"] for r in data["root_blockers"]] == ["base"]


def test_why_blocked_paused_and_ready(project: Project) -> None:
    project.ok("add", "Alone", "--no-place")
    assert project.ok("why-blocked", "alone").out == "Task 'alone' is ready: nothing blocks it\n"
    project.ok("pause", "alone")
    out = project.ok("why-blocked", "alone").out
    assert out == "Task 'alone' is not ready:\n  - paused (run 'wg resume alone')\n"
    project.fails("why-blocked", "nosuch")


def test_why_blocked_missing_dependency_and_delay(project: Project) -> None:
    _append(project, _task("t", after=["ghost"], ready_after=format_ts(NOW + 2 * HOUR)))
    out = project.ok("why-blocked", "t").out
    # NOW is fixed at import: a slow machine may be a minute or more past it by now
    assert "  - ready after " in out and re.search(r"\(in (1h 5\dm|2h 0m)\)", out), out
    assert "  - waiting on 'ghost' (missing: no such task)" in out
    assert "  - ghost: missing" in out
