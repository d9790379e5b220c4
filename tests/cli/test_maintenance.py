"""wg archive, gc, incomplete, wait (spec core 11.16-11.18; acceptance check 22)."""

from __future__ import annotations

import json

from tests.conftest import Project


def _add(project: Project, task_id: str, *extra: str) -> None:
    project.ok("add", task_id.upper(), "--id", task_id, "--no-place", *extra)


def _archive_rows(project: Project) -> list[dict[str, object]]:
    path = project.wg / "archive.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# -- acceptance check 22 --------------------------------------------------------------------------


def test_check_22_archive_and_undo(project: Project) -> None:
    _add(project, "a")
    project.ok("done", "a")
    before_line = next(line for line in project.graph_bytes().decode().splitlines() if '"id":"a"' in line)
    before_row = project.task("a")

    r = project.ok("archive", "--yes")
    assert r.out == "Archived 1 tasks. Use `wg archive --undo` to reverse.\n"
    assert [row["id"] for row in project.rows()] == []
    assert _archive_rows(project) == [before_row]
    batch = json.loads((project.wg / "archive-last-batch.json").read_text())
    assert batch["task_ids"] == ["a"]

    r = project.ok("archive", "--undo")
    assert r.out == "Restored 1 tasks from last archive batch.\n"
    assert project.task("a") == before_row
    assert project.graph_bytes().decode().splitlines() == [before_line]
    assert _archive_rows(project) == []
    r = project.fails("archive", "--undo")
    assert "No archive batch to undo. No previous archive operation found." in r.err


def test_check_22_gc(project: Project) -> None:
    _add(project, "f")
    _add(project, "g", "--after", "f")
    project.ok("fail", "f")
    project.ok("done", "g")
    assert project.task("g")["after"] == ["f"]
    before = project.graph_bytes()

    r = project.ok("gc", "--dry-run")
    assert r.out == "Would remove 1 tasks:\n  f - F [failed]\n"
    assert project.graph_bytes() == before

    r = project.ok("gc")
    assert r.out.splitlines() == ["Removed 1 tasks:", "  f"]
    assert [row["id"] for row in project.rows()] == ["g"]
    assert "after" not in project.task("g")
    assert project.ok("gc").out == "No tasks to garbage collect.\n"


# -- archive ------------------------------------------------------------------------------------


def test_archive_bulk_needs_yes(project: Project) -> None:
    _add(project, "a")
    project.ok("done", "a")
    before = project.graph_bytes()
    r = project.fails("archive")
    assert r.err.strip().endswith(
        "Error: Use --yes to confirm, or specify task IDs explicitly: wg archive <id1> <id2> ..."
    )
    lines = r.out.splitlines()
    assert lines[0] == "Would archive 1 tasks:"
    assert lines[1].startswith("  a - A (completed: ")
    assert lines[-1] == ""
    assert project.graph_bytes() == before
    assert not (project.wg / "archive.jsonl").exists()


def test_archive_explicit_ids_and_refusals(project: Project) -> None:
    _add(project, "a")
    _add(project, "b", "--after", "a")
    _add(project, "c")
    project.ok("done", "a")
    before = project.graph_bytes()
    r = project.fails("archive", "c")
    assert (
        "Task 'c' has status 'open' — only done/abandoned tasks can be archived. Use `wg done c` first."
        in r.err
    )
    r = project.fails("archive", "a")
    assert "Task 'a' has active downstream dependents — cannot archive." in r.err
    r = project.fails("archive", "nosuch")
    assert "Task 'nosuch' not found in the graph." in r.err
    assert project.graph_bytes() == before
    project.ok("abandon", "c")
    r = project.ok("archive", "c")  # explicit ids need no --yes
    assert r.out.startswith("Archived 1 tasks.")
    assert [row["id"] for row in _archive_rows(project)] == ["c"]


def test_archive_bulk_skips_blocked_and_chat_tasks(project: Project) -> None:
    _add(project, "a")
    _add(project, "b", "--after", "a")
    _add(project, "d")
    project.ok("done", "a")
    project.ok("done", "d")
    rows = project.graph_path.read_text()
    chat = {"kind": "task", "id": ".chat-1", "title": "Chat", "status": "done", "priority": 10}
    project.graph_path.write_text(rows + json.dumps(chat) + "\n")
    r = project.ok("--json", "archive", "--dry-run")
    assert json.loads(r.out) == {"archived": ["d"], "dry_run": True}
    r = project.ok("--json", "archive", "--yes")
    assert json.loads(r.out) == {"archived": ["d"], "dry_run": False}
    assert [row["id"] for row in project.rows()] == ["a", "b", ".chat-1"]


def test_archive_older(project: Project) -> None:
    _add(project, "a")
    project.ok("done", "a")
    assert project.ok("archive", "--older", "1w", "--yes").out == "No tasks to archive.\n"
    assert project.ok("archive", "--older", "3", "--yes").out == "No tasks to archive.\n"
    assert project.ok("archive", "--older", "0s", "--yes").out.startswith("Archived 1 tasks.")
    project.fails("archive", "--older", "soon", "--yes")


def test_archive_list_search_restore(project: Project) -> None:
    assert project.ok("archive", "--list").out == "No archived tasks.\n"
    _add(project, "a", "-t", "infra")
    project.ok("done", "a")
    project.ok("archive", "a")
    r = project.ok("archive", "--list")
    assert r.out.splitlines()[0] == "Archived tasks (1):"
    assert r.out.splitlines()[1].startswith("  a - A (completed: 20")
    listed = json.loads(project.ok("--json", "archive", "--list").out)
    assert [x["id"] for x in listed] == ["a"]
    r = project.ok("archive", "search", "INFRA")
    assert r.out.splitlines()[0] == "Archived tasks matching 'INFRA' (1 result):"
    assert r.out.splitlines()[1].endswith(" [infra]")
    assert project.ok("archive", "search", "zzz").out == "No archived tasks matching 'zzz'.\n"
    r = project.fails("archive", "restore", "nosuch")
    assert "Task 'nosuch' not found in archive" in r.err
    r = project.ok("archive", "restore", "a", "--reopen")
    assert r.out == "Restored task 'a' (A) to active graph with status 'open'\n"
    assert project.task("a")["status"] == "open"
    assert "completed_at" not in project.task("a")
    assert _archive_rows(project) == []


def test_archive_undo_keeps_other_archived_records(project: Project) -> None:
    for t in ("a", "b"):
        _add(project, t)
        project.ok("done", t)
    project.ok("archive", "a")
    project.ok("archive", "b")
    project.ok("archive", "--undo")  # the last batch only
    assert [row["id"] for row in project.rows()] == ["b"]
    assert [row["id"] for row in _archive_rows(project)] == ["a"]


# -- gc -----------------------------------------------------------------------------------------


def test_gc_rules(project: Project) -> None:
    _add(project, "keep")  # failed, but an open task depends on it
    _add(project, "user", "--after", "keep")
    _add(project, "ab")
    _add(project, "dn")
    project.ok("fail", "keep")
    project.ok("abandon", "ab")
    project.ok("done", "dn")
    rows = project.graph_path.read_text()
    extra = [
        {"kind": "task", "id": ".evaluate-dn", "title": "e", "status": "done", "priority": 10},
        {"kind": "task", "id": "x", "title": "X", "status": "failed", "priority": 10, "after": ["y"]},
        {"kind": "task", "id": "y", "title": "Y", "status": "open", "priority": 10, "after": ["x"]},
        {"kind": "task", "id": "p", "title": "P", "status": "failed", "priority": 10, "after": ["q"]},
        {"kind": "task", "id": "q", "title": "Q", "status": "abandoned", "priority": 10, "after": ["p"]},
    ]
    project.graph_path.write_text(rows + "".join(json.dumps(e) + "\n" for e in extra))
    r = project.ok("--json", "gc", "--dry-run")
    got = json.loads(r.out)
    assert got["dry_run"] is True
    assert [x["id"] for x in got["removed"]] == [".evaluate-dn", "ab", "p", "q"]
    r = project.ok("gc", "--include-done")
    assert r.out.splitlines() == ["Removed 5 tasks:", "  .evaluate-dn", "  ab", "  dn", "  p", "  q"]
    assert [row["id"] for row in project.rows()] == ["keep", "user", "x", "y"]


def test_gc_worktrees_only_worktrees(project: Project) -> None:
    """worktrees.md 7: with --worktrees, wg gc handles worktrees only (full tests: tests/worktree)."""
    _add(project, "ab")
    project.ok("abandon", "ab")
    r = project.ok("gc", "--worktrees")
    assert r.out.strip() == "No agent worktrees."
    assert [row["id"] for row in project.rows()] == ["ab"]


# -- incomplete ---------------------------------------------------------------------------------


def test_incomplete_attempts_then_exhausted(project: Project) -> None:
    _add(project, "w")
    project.ok("claim", "w", "--actor", "bot")
    r = project.ok("incomplete", "w", "--reason", "half")
    lines = r.out.splitlines()
    assert lines[0] == "Marked 'w' as incomplete (half) (attempt 1/3)"
    assert lines[1].startswith("  Cooldown active — dispatchable after ")
    assert lines[2] == "  Task will appear in 'wg ready' for re-dispatch"
    t = project.task("w")
    assert t["status"] == "incomplete" and t["retry_count"] == 1
    assert "assigned" not in t and "completed_at" in t
    assert lines[1].endswith(str(t["ready_after"]))
    assert t["log"][-1]["message"] == "Task marked as incomplete (attempt #1 (2 remaining)): half"
    assert project.ok("incomplete", "w").out == "Task 'w' is already incomplete\n"
    ready = json.loads(project.ok("--json", "ready").out)
    assert [(x["id"], x["ready"]) for x in ready] == [("w", False)]  # cooldown: delayed, not dispatchable
    project.ok("claim", "w")
    project.ok("incomplete", "w")
    project.ok("claim", "w")
    r = project.ok("incomplete", "w", "--reason", "stuck")
    assert r.out == "Task 'w' failed — retry exhausted after 3 attempts (stuck)\n"
    t = project.task("w")
    assert t["status"] == "failed" and t["retry_count"] == 3
    assert t["failure_reason"] == "Retry exhausted (3/3 attempts). Last incomplete reason: stuck"
    r = project.fails("incomplete", "w")
    assert "Task 'w' is failed and cannot be marked as incomplete" in r.err


def test_incomplete_max_retries_and_no_delay(project: Project) -> None:
    _add(project, "m", "--max-retries", "1")
    project.ok("claim", "m")
    r = project.ok("incomplete", "m")
    assert r.out == "Task 'm' failed — retry exhausted after 1 attempts\n"
    assert project.task("m")["failure_reason"] == (
        "Retry exhausted (1/1 attempts). Last incomplete reason: unspecified"
    )
    (project.wg / "config.toml").write_text(
        '[dispatcher]\nincomplete_retry_delay = "0s"\nmax_incomplete_retries = 0\n'
    )
    _add(project, "n")
    project.ok("claim", "n")
    r = project.ok("incomplete", "n")
    assert r.out.splitlines() == [
        "Marked 'n' as incomplete (attempt 1/∞)",
        "  Task will appear in 'wg ready' for re-dispatch",
    ]
    assert "ready_after" not in project.task("n")
    assert "n - N" in project.ok("ready").out


# -- wait ---------------------------------------------------------------------------------------


def test_wait_parks(project: Project) -> None:
    _add(project, "dep")
    _add(project, "v")
    project.ok("claim", "v", "--actor", "agent-1")
    r = project.ok("wait", "v", "--until", "task:dep=done,timer:5m", "--checkpoint", "step 2")
    assert r.out.splitlines() == [
        "Parked task 'v'. Condition: task:dep=done,timer:5m",
        "Checkpoint saved. You should now exit cleanly.",
    ]
    t = project.task("v")
    assert t["status"] == "waiting" and t["checkpoint"] == "step 2"
    cond = t["wait_condition"]
    assert isinstance(cond, dict) and cond["mode"] == "all"
    assert cond["conditions"][0] == {"type": "task-status", "task_id": "dep", "status": "done"}
    assert cond["conditions"][1]["type"] == "timer"
    assert t["log"][-1]["message"] == "Agent parked. Waiting for: task:dep=done,timer:5m"
    assert t["assigned"] == "agent-1"


def test_wait_any_and_file(project: Project) -> None:
    _add(project, "v")
    project.ok("claim", "v")
    watched = project.root / "watched.txt"
    watched.write_text("x")
    project.ok("wait", "v", "--until", f"message|file:{watched}")
    cond = project.task("v")["wait_condition"]
    assert isinstance(cond, dict) and cond["mode"] == "any"
    assert cond["conditions"][0] == {"type": "message"}
    assert cond["conditions"][1]["type"] == "file-changed"
    assert cond["conditions"][1]["mtime_at_wait"] > 0


def test_wait_errors(project: Project) -> None:
    _add(project, "v")
    before = project.graph_bytes()
    r = project.fails("wait", "v", "--until", "message")
    assert "Cannot wait on task 'v': status is 'open', expected 'in-progress'" in r.err
    project.ok("claim", "v")
    before = project.graph_bytes()
    r = project.fails("wait", "v", "--until", "message,timer:5m|human-input")
    assert (
        "Error: Cannot mix AND (,) and OR (|) in a single --until expression. Use all commas or all pipes."
        in r.err
    )
    r = project.fails("wait", "v", "--until", "bogus")
    assert (
        "Error: Unknown condition 'bogus'. Supported: task:<id>=<status>, timer:<dur>, human-input, "
        "message, file:<path>" in r.err
    )
    project.fails("wait", "v", "--until", "task:ghost=done")
    project.fails("wait", "v", code=2)
    assert project.graph_bytes() == before
