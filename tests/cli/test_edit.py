"""wg edit, reset, pause, resume, publish, add-dep, rm-dep (spec core 11.2, 11.10-11.12, 11.17; checks
12, 14, 15, 16, 20, 25)."""

from __future__ import annotations

import json

from tests.conftest import Project


def add(project: Project, *ids: str, extra: tuple[str, ...] = ()) -> None:
    for tid in ids:
        project.ok("add", tid, "--id", tid, "--no-place", *extra)


def messages(project: Project, tid: str) -> list[str]:
    log = project.task(tid).get("log") or []
    assert isinstance(log, list)
    return [e["message"] for e in log]


def log_time(project: Project, tid: str, message: str) -> str:
    log = project.task(tid).get("log") or []
    assert isinstance(log, list)
    return str(next(e["timestamp"] for e in log if e["message"] == message))


# -- edit ---------------------------------------------------------------------------------------


def test_edit_change_lines_and_before_sync(project: Project) -> None:
    add(project, "a", "b", "c")
    r = project.ok(
        "edit", "c", "--title", "New C", "-d", "text", "--add-after", "a,b", "--add-tag", "t1",
        "--add-skill", "py", "--model", "claude:opus", "--visibility", "public",
    )  # fmt: skip
    assert r.out.splitlines() == [
        "Updated title: New C",
        "Updated description",
        "Added after: a",
        "Added after: b",
        "Added tag: t1",
        "Updated model: claude:opus",
        "Added skill: py",
        "Updated visibility: public",
        "",
        "Task 'c' updated successfully",
    ]
    c = project.task("c")
    assert c["title"] == "New C" and c["after"] == ["a", "b"] and c["tags"] == ["t1"]
    assert project.task("a")["before"] == ["c"] and project.task("b")["before"] == ["c"]
    r = project.ok("edit", "c", "--remove-after", "a", "--remove-tag", "nope", "--add-after", "b")
    assert r.out.splitlines()[:3] == ["Already blocked by: b", "Removed after: a", "Does not have tag: nope"]
    assert project.task("c")["after"] == ["b"]
    assert "before" not in project.task("a")


def test_edit_errors_change_nothing(project: Project) -> None:
    add(project, "a", "b")
    before = project.graph_bytes()
    assert "Task 'a' cannot block itself" in project.fails("edit", "a", "--add-after", "a").err
    r = project.fails("edit", "a", "--add-after", "bb")
    assert "Dependency 'bb' does not exist." in r.err
    assert "Did you mean 'b'?" in r.err
    assert "  Hint: Use --allow-phantom to allow forward references." in r.err
    assert "Task 'nosuch' not found" in project.fails("edit", "nosuch", "--title", "x").err
    assert "Invalid --model format" in project.fails("edit", "a", "--model", "opus").err
    assert "require --max-iterations" in project.fails("edit", "a", "--cycle-guard", "always").err
    assert project.graph_bytes() == before
    project.ok("edit", "a", "--add-after", "ghost", "--allow-phantom")
    assert project.task("a")["after"] == ["ghost"]


def test_edit_add_after_abandons_assignment_and_clears_agent(project: Project) -> None:
    add(project, "a", "b")
    project.ok("add", ".assign-b", "--id", ".assign-b", "--no-place")
    rows = project.graph_path.read_text().splitlines()
    out = []
    for line in rows:
        row = json.loads(line)
        if row["id"] == "b":
            row["agent"] = "abc123"
        out.append(json.dumps(row, separators=(",", ":")))
    project.graph_path.write_text("\n".join(out) + "\n")
    r = project.ok("edit", "b", "--add-after", "a")
    assert "Abandoned assignment task '.assign-b' (dependencies changed)" in r.out
    assert project.task(".assign-b")["status"] == "abandoned"
    assert "agent" not in project.task("b")


def test_edit_cycle_flags(project: Project) -> None:
    add(project, "a")
    r = project.ok("edit", "a", "--max-iterations", "4", "--no-converge", "--cycle-delay", "5m")
    assert "Set cycle_config: max_iterations=4 (no-converge)" in r.out
    assert project.task("a")["cycle_config"] == {"max_iterations": 4, "delay": "5m", "no_converge": True}
    r = project.ok("edit", "a", "--cycle-guard", "always", "--cycle-delay", "1h")
    assert r.out.splitlines()[:2] == ["Updated cycle guard", "Updated cycle delay: 1h"]
    cfg = project.task("a")["cycle_config"]
    assert cfg == {"max_iterations": 4, "guard": "Always", "delay": "1h", "no_converge": True}


def test_edit_cron_and_not_before(project: Project) -> None:
    add(project, "a")
    r = project.ok("edit", "a", "--not-before", "2030-01-01T00:00:00")
    assert "Set not_before: 2030-01-01T00:00:00" in r.out
    r = project.ok("edit", "a", "--delay", "1h")
    assert "(delay 1h)" in r.out
    project.ok("edit", "a", "--cron", "0 * * * *")
    assert project.task("a")["cron_enabled"] is True
    r = project.ok("edit", "a", "--cron", "")
    assert "Cleared cron schedule" in r.out
    assert "cron_schedule" not in project.task("a") and "cron_enabled" not in project.task("a")


# -- check 25: interaction stamps ------------------------------------------------------------------


def test_edit_moves_last_interaction_only_on_the_edited_task(project: Project) -> None:
    add(project, "a", "s")
    a0, s0 = project.task("a")["last_interaction_at"], project.task("s")["last_interaction_at"]
    project.ok("edit", "a", "-d", "new")
    a1 = project.task("a")["last_interaction_at"]
    assert str(a1) > str(a0)
    project.ok("edit", "a", "-d", "newer")
    assert str(project.task("a")["last_interaction_at"]) > str(a1)
    assert project.task("s")["last_interaction_at"] == s0


# -- check 20: no-ops -----------------------------------------------------------------------------


def test_noops_exit_zero_and_change_nothing(project: Project) -> None:
    add(project, "a", "b")
    r = project.ok("add-dep", "b", "a")
    assert r.out.strip() == "Linked: 'b' now depends on 'a'"
    assert project.task("a")["before"] == ["b"]
    before = project.graph_bytes()
    assert project.ok("add-dep", "b", "a").out.strip() == "'b' already depends on 'a' — no change"
    assert project.ok("add-after", "b", "a").out.strip() == "'b' already depends on 'a' — no change"
    assert project.ok("rm-dep", "a", "b").out.strip() == "'a' does not depend on 'b' — no change"
    assert project.ok("edit", "a").out.strip() == "No changes made to task 'a'"
    assert project.ok("edit", "a", "--title", "a").out.strip() == "No changes made to task 'a'"
    assert project.graph_bytes() == before
    assert project.ok("pause", "a").out.strip() == "Paused 'a'"
    paused = project.graph_bytes()
    assert project.ok("pause", "a").out.strip() == "Task 'a' is already paused"
    assert project.graph_bytes() == paused
    assert messages(project, "a")[-1] == "Task paused"
    r = project.ok("rm-dep", "b", "a")
    assert r.out.strip() == "Unlinked: 'b' no longer depends on 'a'"
    assert "after" not in project.task("b") and "before" not in project.task("a")
    assert "A task cannot depend on itself" in project.fails("add-dep", "a", "a").err


# -- check 12: reset ------------------------------------------------------------------------------


def test_reset_closure_refusal_dry_run_and_yes(project: Project) -> None:
    add(project, "a")
    add(project, "b", extra=("--after", "a"))
    project.ok("claim", "a", "--actor", "dead")
    project.ok("claim", "b", "--actor", "dead")
    before = project.graph_bytes()
    r = project.fails("reset", "a")
    assert "refusing to reset 2 tasks without --yes (use --dry-run first to preview" in r.err
    assert "wg reset — seeds=a, direction=Forward, closure=2 task(s), meta-to-strip=0" in r.err
    assert "  • a\n  • b" in r.err
    r = project.ok("reset", "a", "--dry-run", "--yes")
    assert "(dry run — no changes applied; drop --dry-run to execute)" in r.err
    assert project.graph_bytes() == before
    r = project.ok("reset", "a", "--yes")
    assert "✓ reset 2 task(s), stripped 0 meta task(s)" in r.err
    for tid in ("a", "b"):
        t = project.task(tid)
        assert t["status"] == "open" and "assigned" not in t and "started_at" not in t
        last = t["log"][-1]  # type: ignore[index]
        assert last["message"] == "reset via `wg reset a`; was InProgress (cleared claim from @dead)"
        assert last["actor"] == "reset"


def test_reset_errors_backward_and_strip_meta(project: Project) -> None:
    add(project, "a")
    add(project, "b", extra=("--after", "a"))
    project.ok("add", ".evaluate-b", "--id", ".evaluate-b", "--no-place", "--after", "b")
    assert "seed task(s) not found: x, y" in project.fails("reset", "x", "--seeds", "y").err
    r = project.fails("reset", "a", "--direction", "sideways")
    assert "invalid direction 'sideways' — must be one of: forward, backward, both" in r.err
    project.ok("done", "a")
    r = project.ok("--json", "reset", "b", "--direction", "backward", "--also-strip-meta", "--yes")
    assert r.json() == {
        "seeds": ["b"],
        "direction": "backward",
        "tasks": ["a", "b"],
        "stripped": [".evaluate-b"],
        "dry_run": False,
    }
    ids = [row["id"] for row in project.rows()]
    assert ".evaluate-b" not in ids
    assert project.task("a")["status"] == "open"
    assert project.task("b").get("before") is None


# -- check 14: publish ----------------------------------------------------------------------------


def test_publish_wcc_in_dependency_order(project: Project) -> None:
    paused = ("--paused",)
    add(project, "p", "t", extra=paused)
    add(project, "q", extra=(*paused, "--after", "p"))
    add(project, "r", extra=(*paused, "--after", "q"))
    add(project, "l", "m", extra=(*paused, "--after", "t"))
    add(project, "z", extra=(*paused, "--after", "l,m,r"))
    r = project.ok("publish", "p", "--wcc")
    assert r.out.strip() == "Published 'p' and 6 task(s) in the weakly-connected component"
    for row in project.rows():
        assert "paused" not in row
    stamps = {str(row["id"]): log_time(project, str(row["id"]), "Task published") for row in project.rows()}
    assert len(set(stamps.values())) == 7
    for row in project.rows():
        for dep in row.get("after") or []:  # type: ignore[attr-defined]
            assert stamps[dep] < stamps[str(row["id"])], (dep, row["id"])
    assert "Task 'p' is not paused" in project.fails("publish", "p").err


def test_publish_downstream_only_and_resume(project: Project) -> None:
    add(project, "a", extra=("--paused",))
    add(project, "b", extra=("--paused", "--after", "a"))
    add(project, "c", extra=("--paused",))
    assert project.ok("publish", "a").out.strip() == "Published 'a' and 1 downstream task(s)"
    assert "paused" in project.task("c")
    r = project.ok("publish", "c", "--only")
    assert r.out.strip() == "Published 'c' — task is now available for dispatch"
    project.ok("pause", "a")
    assert project.ok("resume", "a").out.strip() == "Resumed 'a' and 0 downstream task(s)"
    assert messages(project, "a")[-1] == "Task resumed"
    project.ok("pause", "b")
    assert project.ok("resume", "b", "--only").out.strip() == "Resumed 'b'"


def test_publish_refuses_structural_errors(project: Project) -> None:
    project.ok("add", "s", "--id", "s", "--paused", "--after", "ghost", "--allow-phantom")
    before = project.graph_bytes()
    r = project.fails("publish", "s")
    assert "Cannot publish subgraph — structural errors:" in r.err
    assert "  Task 's': dangling dependency 'ghost'" in r.err
    r = project.fails("publish", "s", "--only")
    assert "Cannot publish task 's': dangling dependencies:\n  'ghost'" in r.err
    assert project.graph_bytes() == before
    r = project.fails("publish", "s", "--wcc", "--only", code=2)
    assert "--wcc cannot be used with --only" in r.err


def test_publish_refuses_unconfigured_cycle(project: Project) -> None:
    add(project, "a", extra=("--paused",))
    add(project, "b", extra=("--paused", "--after", "a"))
    project.ok("edit", "a", "--add-after", "b", "--allow-cycle")
    r = project.fails("resume", "a")
    assert "Cannot resume subgraph — structural errors:\n  Cycle without --max-iterations: [a, b]" in r.err


# -- check 15: configured cycles ------------------------------------------------------------------


def test_configured_cycle_iterates_then_stops(project: Project) -> None:
    add(project, "x")
    add(project, "y", extra=("--after", "x", "--max-iterations", "3"))
    assert "x - x" in project.ok("ready").out
    for round_no in (1, 2):
        project.ok("done", "x")
        r = project.ok("done", "y")
        assert "  Cycle: re-activated 'x'" in r.out and "  Cycle: re-activated 'y'" in r.out
        for tid in ("x", "y"):
            t = project.task(tid)
            assert t["status"] == "open" and t["loop_iteration"] == round_no
    project.ok("done", "x")
    r = project.ok("done", "y")
    assert "re-activated" not in r.out
    assert project.task("x")["status"] == "done" and project.task("y")["status"] == "done"


def test_converged_stops_the_cycle(project: Project) -> None:
    add(project, "x")
    add(project, "y", extra=("--after", "x", "--max-iterations", "3"))
    project.ok("done", "x")
    r = project.ok("done", "y", "--converged")
    assert "re-activated" not in r.out
    assert project.task("x")["status"] == "done" and project.task("y")["status"] == "done"


# -- check 16: unconfigured cycles ----------------------------------------------------------------


def test_unconfigured_cycle_refused_then_allowed_and_broken_in(project: Project) -> None:
    add(project, "a")
    add(project, "b", extra=("--after", "a"))
    before = project.graph_bytes()
    r = project.fails("edit", "a", "--add-after", "b")
    assert (
        "Error: Adding dependency 'b' → 'a' would create a cycle without CycleConfig: [a → b]. "
        "Use --allow-cycle to override, or add --max-iterations to one of the cycle members."
    ) in r.err
    assert project.graph_bytes() == before
    project.ok("edit", "a", "--add-after", "b", "--allow-cycle")
    ready = project.ok("ready").out
    assert "  a - a" in ready and "  b - b" not in ready
    add(project, "e")
    project.ok("edit", "b", "--add-after", "e")
    r = project.ok("ready")
    assert "Auto-break-in: selecting task 'a' to break cycle deadlock in unconfigured cycle [a → b]" in r.err
    assert "  e - e" in r.out and "  a - a" in r.out and "  b - b" not in r.out


def test_max_iterations_on_edit_allows_the_cycle(project: Project) -> None:
    add(project, "a")
    add(project, "b", extra=("--after", "a"))
    project.ok("edit", "a", "--add-after", "b", "--max-iterations", "2")
    assert project.task("a")["after"] == ["b"]


# -- 11.17: --json results ------------------------------------------------------------------------


def test_json_results(project: Project) -> None:
    add(project, "a", "b")
    assert project.ok("--json", "edit", "a", "--title", "A").json() == {
        "id": "a",
        "changed": True,
        "changes": ["Updated title: A"],
    }
    assert project.ok("edit", "a", "--json").json() == {"id": "a", "changed": False, "changes": []}
    assert project.ok("--json", "add-dep", "b", "a").json() == {"task": "b", "dep": "a", "changed": True}
    assert project.ok("--json", "add-dep", "b", "a").json() == {"task": "b", "dep": "a", "changed": False}
    assert project.ok("--json", "rm-dep", "b", "a").json() == {"task": "b", "dep": "a", "changed": True}
    assert project.ok("--json", "pause", "a").json() == {"id": "a", "changed": True, "paused": ["a"]}
    assert project.ok("--json", "pause", "a").json() == {"id": "a", "changed": False, "paused": []}
    assert project.ok("--json", "resume", "a").json() == {"id": "a", "changed": True, "unpaused": ["a"]}
    project.ok("pause", "b")
    assert project.ok("--json", "publish", "b").json() == {"id": "b", "changed": True, "unpaused": ["b"]}
    r = project.ok("--json", "reset", "a", "--dry-run")
    assert r.json() == {
        "seeds": ["a"],
        "direction": "forward",
        "tasks": ["a"],
        "stripped": [],
        "dry_run": True,
    }
    r = project.fails("--json", "publish", "a")
    assert r.json() == {"error": "Task 'a' is not paused"}


def test_operations_log_entries(project: Project) -> None:
    add(project, "a", "b")
    project.ok("edit", "a", "--title", "A")
    project.ok("add-dep", "b", "a")
    project.ok("pause", "a")
    project.ok("publish", "a")
    ops_path = project.wg / "log" / "operations.jsonl"
    ops = [json.loads(line) for line in ops_path.read_text().splitlines()]
    edit = next(o for o in ops if o["op"] == "edit")
    assert edit["task_id"] == "a"
    assert edit["detail"] == {"fields": [{"field": "title", "old": "a", "new": "A"}]}
    assert [o["op"] for o in ops][-3:] == ["link", "pause", "publish"]
