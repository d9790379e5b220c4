"""claim, unclaim, done, fail, abandon, retry (spec core 5, 11.5-11.9, 11.17; checks 7, 9-11, 13, 20)."""

from __future__ import annotations

import json
import re

from tests.conftest import Project

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00"


def add(project: Project, tid: str, *extra: str) -> None:
    project.ok("add", tid.upper(), "--id", tid, "--no-place", *extra)


def messages(project: Project, tid: str) -> list[str]:
    return [str(e["message"]) for e in project.task(tid).get("log", [])]  # type: ignore[union-attr]


def ready_ids(project: Project) -> list[str]:
    return [row["id"] for row in project.ok("--json", "ready").json() if row["ready"]]  # type: ignore[union-attr]


def write_rows(project: Project, *rows: dict[str, object]) -> None:
    project.graph_path.write_text("".join(json.dumps(r) + "\n" for r in rows))


# -- claim / unclaim ----------------------------------------------------------------------------


def test_claim_and_unclaim(project: Project) -> None:
    add(project, "a")
    add(project, "b")
    assert project.ok("claim", "a").out == "Claimed 'a'\n"
    a = project.task("a")
    assert a["status"] == "in-progress" and "assigned" not in a
    assert re.fullmatch(TS, str(a["started_at"]))
    assert messages(project, "a")[-1] == "Task claimed"
    before = project.graph_bytes()
    r = project.fails("claim", "a")
    assert f"Error: Task 'a' is already in progress (since {a['started_at']})" in r.err
    assert project.graph_bytes() == before

    assert project.ok("claim", "b", "--actor", "x").out == "Claimed 'b' for 'x'\n"
    b = project.task("b")
    assert b["assigned"] == "x"
    assert b["log"][-1]["actor"] == "x"  # type: ignore[index]
    assert b["log"][-1]["message"] == "Task claimed by @x"  # type: ignore[index]
    r = project.fails("claim", "b", "--actor", "x")
    assert (
        f"Error: Task 'b' is already claimed by @x (since {b['started_at']}). "
        "Use 'wg unclaim b' to release it first." in r.err
    )
    assert project.ok("unclaim", "b").out == "Unclaimed 'b'\n"
    b = project.task("b")
    assert b["status"] == "open" and "assigned" not in b and "started_at" in b
    assert messages(project, "b")[-1] == "Task unclaimed (was assigned to @x)"


def test_claim_json(project: Project) -> None:
    add(project, "a")
    assert project.ok("--json", "claim", "a", "--actor", "p").json() == {
        "id": "a",
        "status": "in-progress",
        "assigned": "p",
    }
    assert project.ok("--json", "unclaim", "a").json() == {"id": "a", "status": "open", "assigned": None}


def test_claim_ignores_dependencies_and_pause(project: Project) -> None:
    add(project, "a")
    add(project, "b", "--after", "a")
    project.ok("add", "P", "--id", "p", "--paused")
    project.ok("claim", "b")
    project.ok("claim", "p")
    assert project.task("b")["status"] == "in-progress"
    assert project.task("p")["status"] == "in-progress"


def test_claim_refusals_by_status(project: Project) -> None:
    rows = [
        {"kind": "task", "id": s, "title": s, "status": s}
        for s in ("done", "failed", "abandoned", "waiting", "pending-eval", "failed-pending-eval")
    ]
    write_rows(project, *rows)
    before = project.graph_bytes()
    expected = {
        "done": "Task 'done' is already done",
        "failed": "Cannot claim task 'failed': task is Failed. Use 'wg retry' to retry it.",
        "abandoned": "Cannot claim task 'abandoned': task is Abandoned",
        "waiting": "Cannot claim task 'waiting': task is Waiting. Use 'wg resume' first.",
        "pending-eval": "Cannot claim task 'pending-eval': task is pending evaluation",
        "failed-pending-eval": "Cannot claim task 'failed-pending-eval': task is pending rescue evaluation",
    }
    for tid, msg in expected.items():
        r = project.fails("claim", tid)
        assert f"Error: {msg}\n" in r.err
    assert project.graph_bytes() == before


def test_unclaim_refusals(project: Project) -> None:
    write_rows(
        project,
        {"kind": "task", "id": "d", "title": "d", "status": "done"},
        {"kind": "task", "id": "w", "title": "w", "status": "waiting"},
    )
    assert "Error: Cannot unclaim task 'd': task is Done" in project.fails("unclaim", "d").err
    assert (
        "Error: Cannot unclaim task 'w': task is Waiting. Use 'wg resume' first."
        in project.fails("unclaim", "w").err
    )


def test_unknown_task(project: Project) -> None:
    add(project, "alpha")
    assert "Error: Task 'nosuch' not found" in project.fails("claim", "nosuch").err
    assert "Error: Task 'alph' not found. Did you mean 'alpha'?" in project.fails("done", "alph").err
    assert "Did you mean 'alpha'?" in project.fails("fail", "alpha2").err


# -- done ---------------------------------------------------------------------------------------


def test_done_blocked_then_done_twice(project: Project) -> None:
    add(project, "a")
    add(project, "b", "--after", "a")
    before = project.graph_bytes()
    r = project.fails("done", "b")
    assert r.err.splitlines()[:2] == [
        "Error: Cannot mark 'b' as done: blocked by 1 unresolved task(s):",
        "  - a (A): Open",
    ]
    assert project.graph_bytes() == before
    r = project.ok("done", "a")
    assert r.out == "Marked 'a' as done\n"
    assert 'Tip: Log validation steps before wg done (e.g., wg log a "Validated: tests pass")' in r.err
    a = project.task("a")
    assert a["status"] == "done" and re.fullmatch(TS, str(a["completed_at"]))
    assert messages(project, "a")[-1] == "Task marked as done"
    after_done = project.graph_bytes()
    r = project.ok("done", "a")
    assert r.out == "Task 'a' is already done\n"
    assert project.graph_bytes() == after_done
    assert project.ok("--json", "done", "a").json() == {
        "id": "a",
        "status": "done",
        "changed": False,
        "reactivated": [],
    }


def test_done_from_open_paused_and_failed(project: Project) -> None:
    add(project, "a")
    project.ok("add", "P", "--id", "p", "--paused")
    add(project, "f")
    project.ok("fail", "f")
    for tid in ("a", "p", "f"):
        project.ok("done", tid)
        assert project.task(tid)["status"] == "done"


def test_done_not_blocked_by_failed_abandoned_or_missing(project: Project) -> None:
    add(project, "f")
    add(project, "x")
    add(project, "b", "--after", "f,x")
    project.ok("add", "C", "--id", "c", "--no-place", "--after", "ghost", "--allow-phantom")
    project.ok("fail", "f")
    project.ok("abandon", "x")
    project.ok("done", "b")
    project.ok("done", "c")


def test_done_pending_eval_and_actor(project: Project) -> None:
    add(project, "a")
    project.ok("add", "E", "--id", ".evaluate-a", "--no-place", "--after", "a")
    project.ok("claim", "a", "--actor", "ag")
    r = project.ok("done", "a")
    assert r.out.startswith(
        "Marked 'a' as pending-eval — awaiting `.evaluate-a` to score before downstream tasks unblock"
    )
    a = project.task("a")
    assert a["status"] == "pending-eval"
    assert a["log"][-1] == {"timestamp": a["completed_at"], "actor": "ag", "message": "Task marked as done"}  # type: ignore[index]


def test_done_json_and_no_tip_after_validation_log(project: Project) -> None:
    add(project, "a")
    project.ok("claim", "a")
    # a log message containing "validat" suppresses the tip
    rows = project.rows()
    rows[0]["log"] = [*rows[0]["log"], {"timestamp": "2026-01-01T00:00:00+00:00", "message": "VALIDATED ok"}]  # type: ignore[misc]
    write_rows(project, *rows)
    r = project.ok("done", "a")
    assert "Tip:" not in r.err
    add(project, "b")
    assert project.ok("--json", "done", "b").json() == {
        "id": "b",
        "status": "done",
        "changed": True,
        "reactivated": [],
    }


# -- fail / abandon / retry ---------------------------------------------------------------------


def test_fail_retry_max_retries(project: Project) -> None:
    add(project, "a", "--max-retries", "1")
    r = project.ok("fail", "a", "--reason", "boom")
    assert r.out.splitlines() == [
        "Marked 'a' as failed (boom) (retry #1)",
        "  Warning: Max retries (1) reached. Consider abandoning or increasing limit.",
    ]
    a = project.task("a")
    assert a["status"] == "failed" and a["retry_count"] == 1 and a["failure_reason"] == "boom"
    assert messages(project, "a")[-1] == "Task marked as failed: boom"
    before = project.graph_bytes()
    r = project.ok("fail", "a", "--reason", "boom")
    assert r.out == "Task 'a' is already failed (retry_count: 1)\n"
    assert project.graph_bytes() == before
    r = project.fails("retry", "a")
    assert (
        "Error: Task 'a' has reached max retries (1/1). Consider abandoning or increasing max_retries."
        in r.err
    )
    assert project.graph_bytes() == before


def test_fail_retries_remaining_and_retry_output(project: Project) -> None:
    add(project, "a", "--max-retries", "3")
    r = project.ok("fail", "a")
    assert r.out.splitlines() == ["Marked 'a' as failed (retry #1)", "  Retries remaining: 2"]
    assert messages(project, "a")[-1] == "Task marked as failed"
    r = project.ok("retry", "a", "--reason", "flaky")
    assert r.out.splitlines() == [
        "Reset 'a' from failed to open for retry (attempt #2)",
        "  Retries remaining after this: 2",
    ]
    a = project.task("a")
    assert a["status"] == "open" and a["retry_count"] == 1 and "failure_reason" not in a
    assert messages(project, "a")[-1] == "Task reset for retry from failed (attempt #2) — reason: flaky"


def test_fail_class_and_json(project: Project) -> None:
    add(project, "a")
    r = project.ok("--json", "fail", "a", "--class", "agent-hard-timeout")
    assert r.json() == {"id": "a", "status": "failed", "changed": True, "retry_count": 1}
    assert project.task("a")["failure_class"] == "agent-hard-timeout"
    r = project.ok("--json", "fail", "a")
    assert r.json() == {"id": "a", "status": "failed", "changed": False, "retry_count": 1}
    project.fails("fail", "a", "--class", "bogus", code=2)


def test_fail_refusals(project: Project) -> None:
    add(project, "d")
    add(project, "x")
    project.ok("done", "d")
    project.ok("abandon", "x")
    before = project.graph_bytes()
    assert "Error: Task 'd' is already done and cannot be marked as failed" in project.fails("fail", "d").err
    assert "Error: Task 'x' is already abandoned" in project.fails("fail", "x").err
    assert "Error: Task 'd' is already done and cannot be abandoned" in project.fails("abandon", "d").err
    assert project.graph_bytes() == before


def test_abandon_cascade_and_noop(project: Project) -> None:
    add(project, "b")
    project.ok("add", "E", "--id", ".evaluate-b", "--no-place", "--after", "b")
    project.ok("add", "S", "--id", ".other", "--no-place", "--after", "b")
    add(project, "user", "--after", "b")
    r = project.ok("abandon", "b", "--reason", "dup", "--superseded-by", "n1,n2")
    assert r.out.splitlines() == [
        "Marked 'b' as abandoned (dup)",
        "  Auto-abandoned: .evaluate-b",
        "  Auto-abandoned: .other",
    ]
    b = project.task("b")
    assert b["failure_reason"] == "dup" and b["superseded_by"] == ["n1", "n2"]
    assert messages(project, "b")[-1] == "Task abandoned: dup"
    ev = project.task(".evaluate-b")
    assert ev["status"] == "abandoned"
    assert ev["failure_reason"] == "Parent task 'b' was abandoned"
    assert messages(project, ".evaluate-b")[-1] == "Auto-abandoned: parent 'b' was abandoned"
    assert project.task("user")["status"] == "open"
    before = project.graph_bytes()
    assert project.ok("abandon", "b").out == "Task 'b' is already abandoned\n"
    assert project.ok("--json", "abandon", "b").json() == {
        "id": "b",
        "status": "abandoned",
        "changed": False,
        "auto_abandoned": [],
    }
    assert project.graph_bytes() == before


def test_abandon_json(project: Project) -> None:
    add(project, "b")
    project.ok("add", "E", "--id", ".evaluate-b", "--no-place", "--after", "b")
    assert project.ok("--json", "abandon", "b").json() == {
        "id": "b",
        "status": "abandoned",
        "changed": True,
        "auto_abandoned": [".evaluate-b"],
    }


def test_retry_refused_for_open(project: Project) -> None:
    add(project, "a")
    before = project.graph_bytes()
    r = project.fails("retry", "a")
    assert (
        "Error: Task 'a' is not failed or incomplete (status: Open). "
        "Only failed or incomplete tasks can be retried." in r.err
    )
    assert project.graph_bytes() == before


def test_retry_clears_fields(project: Project) -> None:
    rows = [
        {
            "kind": "task",
            "id": "a",
            "title": "A",
            "status": "failed",
            "assigned": "ag",
            "retry_count": 2,
            "failure_reason": "x",
            "tags": ["converged", "keep", "zero-output-circuit-broken"],
            "session_id": "s1",
            "checkpoint": "c1",
            "ready_after": "2099-01-01T00:00:00+00:00",
            "spawn_failures": 3,
        }
    ]
    write_rows(project, *rows)
    r = project.ok("--json", "retry", "a", "--preserve-session")
    assert r.json() == {"id": "a", "status": "open", "attempt": 3, "cleared_stale_claims": []}
    a = project.task("a")
    for gone in ("assigned", "failure_reason", "ready_after", "spawn_failures"):
        assert gone not in a, gone
    assert a["tags"] == ["keep"]
    assert a["session_id"] == "s1" and a["checkpoint"] == "c1"
    assert a["retry_count"] == 2


def test_retry_from_incomplete(project: Project) -> None:
    write_rows(project, {"kind": "task", "id": "a", "title": "A", "status": "incomplete", "session_id": "s"})
    r = project.ok("retry", "a")
    assert r.out == "Reset 'a' from incomplete to open for retry (attempt #1)\n"
    assert "session_id" not in project.task("a")


def test_stale_claims_cleared_on_retry(project: Project) -> None:
    add(project, "a")
    add(project, "b", "--after", "a")
    project.ok("claim", "a", "--actor", "dead")
    project.ok("claim", "b", "--actor", "dead")
    project.ok("fail", "a")
    r = project.ok("retry", "a", "--reason", "r")
    assert r.out.splitlines() == [
        "Reset 'a' from failed to open for retry (attempt #2)",
        "  Cleared stale claim on 1 downstream task(s): b",
    ]
    b = project.task("b")
    assert b["status"] == "open"
    assert "assigned" not in b and "started_at" not in b
    assert messages(project, "b")[-1] == (
        "stale-claim cleared via retry of a (was assigned to @dead — agent dead/missing)"
    )
    assert messages(project, "a")[-1] == "Task reset for retry from failed (attempt #2) — reason: r"
    assert "assigned" not in project.task("a")


# -- readiness through the CLI (check 7) --------------------------------------------------------


def test_failed_blocks_abandoned_releases(project: Project) -> None:
    add(project, "a")
    add(project, "b", "--after", "a")
    project.ok("fail", "a")
    assert "b" not in ready_ids(project)
    project.ok("retry", "a")
    assert ready_ids(project) == ["a"]
    project.ok("done", "a")
    assert ready_ids(project) == ["b"]


def test_abandon_releases_dependent(project: Project) -> None:
    add(project, "a")
    add(project, "b", "--after", "a")
    project.ok("abandon", "a")
    assert ready_ids(project) == ["b"]


def test_operations_logged(project: Project) -> None:
    add(project, "a")
    project.ok("claim", "a", "--actor", "p")
    project.ok("fail", "a", "--reason", "r")
    project.ok("retry", "a")
    project.ok("abandon", "a")
    ops = [json.loads(x) for x in (project.wg / "log" / "operations.jsonl").read_text().splitlines()]
    assert [o["op"] for o in ops] == ["add_task", "claim", "fail", "retry", "abandon"]
    assert ops[1]["actor"] == "p"
    assert ops[2]["detail"] == {"reason": "r"}


def test_retry_keeps_claims_of_live_agents(project: Project) -> None:
    import os

    add(project, "a")
    add(project, "b", "--after", "a")
    add(project, "c", "--after", "a")
    project.ok("claim", "b", "--actor", "agent-1")
    project.ok("claim", "c", "--actor", "agent-2")
    project.ok("fail", "a")
    service = project.wg / "service"
    service.mkdir(exist_ok=True)
    registry = {
        "agents": {
            # this test process stands in for a live agent
            "agent-1": {"id": "agent-1", "pid": os.getpid(), "task_id": "b", "status": "working"},
            "agent-2": {"id": "agent-2", "pid": os.getpid(), "task_id": "c", "status": "dead"},
        },
        "next_agent_id": 3,
    }
    (service / "registry.json").write_text(json.dumps(registry))
    r = project.ok("retry", "a")
    assert "  Cleared stale claim on 1 downstream task(s): c" in r.out.splitlines()
    assert project.task("b")["assigned"] == "agent-1"
    assert project.task("b")["status"] == "in-progress"
    assert "assigned" not in project.task("c")
