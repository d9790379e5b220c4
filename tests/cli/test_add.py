"""``wg add`` (spec core 3.2, 4.1, 11.1; acceptance checks 3-6)."""

from __future__ import annotations

import json
import re

import pytest

from tests.conftest import Project

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00"


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Build the widget", "build-the-widget"),
        ("Build the amazing super widget", "build-the-amazing"),
        ("Fix (bug) #123!", "fix-bug-123"),
        ("a---b   c", "a-b-c"),
        ("Smoke test task 1", "smoke-test-task-1"),
        ("Build the amazing widget 42", "build-the-amazing"),
        ("123 fix the bug", "123-fix-the-bug"),
    ],
)
def test_generated_ids(project: Project, title: str, expected: str) -> None:
    r = project.ok("add", title, "--no-place")
    assert r.out.splitlines() == [
        f"Added task: {title} ({expected})",
        f"  Use --after {expected} to depend on this task",
    ]
    assert project.task(expected)["title"] == title


def test_collisions_and_explicit_id_clash(project: Project) -> None:
    project.ok("add", "Build it", "--no-place")
    project.ok("add", "Build it", "--no-place")
    assert [r["id"] for r in project.rows()] == ["build-it", "build-it-2"]
    before = project.graph_bytes()
    r = project.fails("add", "X", "--id", "build-it", "--no-place")
    assert "Error: Task with ID 'build-it' already exists" in r.err
    assert project.graph_bytes() == before


def test_explicit_id_prints_no_after_hint(project: Project) -> None:
    r = project.ok("add", "Foo", "--id", "custom", "--no-place")
    assert r.out.splitlines() == ["Added task: Foo (custom)"]


def test_no_place_record_is_exactly_the_spec_line(project: Project) -> None:
    project.ok("add", "Foo", "--no-place")
    line = project.graph_path.read_text().splitlines()[-1]
    masked = re.sub(TS, "<ts>", line)
    assert masked == (
        '{"kind":"task","id":"foo","title":"Foo","status":"open","priority":10,'
        '"created_at":"<ts>","last_interaction_at":"<ts>","unplaced":true}'
    )


def test_draft_is_paused_with_user_log_entry(project: Project) -> None:
    r = project.ok("add", "Foo", env={"WG_USER": "alice"})
    assert r.out.splitlines() == [
        "Added task (draft): Foo (foo)",
        "  Task is paused (draft mode). When ready, run: wg publish foo",
        "  Use --after foo to depend on this task",
    ]
    line = re.sub(TS, "<ts>", project.graph_path.read_text().splitlines()[-1])
    assert line == (
        '{"kind":"task","id":"foo","title":"Foo","status":"open","priority":10,'
        '"created_at":"<ts>","last_interaction_at":"<ts>",'
        '"log":[{"timestamp":"<ts>","user":"alice","message":"Task paused"}],"paused":true}'
    )
    assert project.ok("ready").out.strip() == "No tasks ready"


def test_dot_title_is_not_a_draft(project: Project) -> None:
    project.ok("add", ".hidden thing")
    row = project.rows()[-1]
    assert "paused" not in row
    assert row["unplaced"] is True


def test_agent_context_not_paused_and_implicit_parent(project: Project) -> None:
    r = project.ok("add", "Bar", env={"WG_AGENT_ID": "a1"})
    assert r.out.splitlines()[0] == "Added task: Bar (bar)"
    bar = project.task("bar")
    assert bar["unplaced"] is True and "paused" not in bar
    project.ok("add", "Baz", env={"WG_TASK_ID": "bar"})
    assert project.task("baz")["after"] == ["bar"]
    assert project.task("bar")["before"] == ["baz"]
    # an explicit --after replaces the implicit parent
    project.ok("add", "Qux", "--after", "baz", env={"WG_TASK_ID": "bar"})
    assert project.task("qux")["after"] == ["baz"]


def test_agent_id_recorded_in_operations_log(project: Project) -> None:
    project.ok("add", "Bar", env={"WG_AGENT_ID": "a1"})
    ops = [json.loads(x) for x in (project.wg / "log" / "operations.jsonl").read_text().splitlines()]
    assert ops[-1]["op"] == "add_task"
    assert ops[-1]["task_id"] == "bar"
    assert ops[-1]["detail"] == {"title": "Bar", "agent_id": "a1"}


def test_after_joins_dependency_before_list(project: Project) -> None:
    project.ok("add", "A", "--id", "a", "--no-place")
    project.ok("add", "B", "--id", "b", "--no-place", "--after", "a")
    project.ok("add", "C", "--id", "c", "--no-place", "--blocked-by", "a")
    assert project.task("a")["before"] == ["b", "c"]
    assert project.task("c")["after"] == ["a"]


def test_phantom_dependency_later_created_gets_before(project: Project) -> None:
    r = project.ok("add", "C", "--id", "c", "--no-place", "--after", "ghost", "--allow-phantom")
    assert "Warning: dependency 'ghost' does not exist yet (will be validated at publish time)" in r.err
    project.ok("add", "Ghost", "--id", "ghost", "--no-place")
    assert project.task("ghost")["before"] == ["c"]


def test_explicit_paused_defers_dependency_validation(project: Project) -> None:
    r = project.ok("add", "C", "--id", "c", "--paused", "--after", "ghost")
    assert "does not exist yet" in r.err
    assert project.task("c")["paused"] is True


def test_fields_and_priority(project: Project) -> None:
    r = project.ok(
        "add",
        "Full",
        "--no-place",
        "-d",
        "desc",
        "-p",
        "high",
        "--hours",
        "2",
        "--cost",
        "1.5",
        "-t",
        "x",
        "--tag",
        "urgent",
        "--skill",
        "py",
        "--exec",
        "make",
        "--max-retries",
        "3",
        "--visibility",
        "public",
        "--assign",
        "bob",
    )
    assert "Error" not in r.err
    t = project.task("full")
    assert t["description"] == "desc"
    assert t["priority"] == 100  # high (50) raised one tier by the urgent tag
    assert t["estimate"] == {"hours": 2.0, "cost": 1.5}
    assert t["tags"] == ["x", "urgent"]
    assert t["skills"] == ["py"]
    assert t["exec"] == "make" and t["exec_mode"] == "shell"
    assert t["max_retries"] == 3
    assert t["visibility"] == "public"
    assert t["assigned"] == "bob"
    assert '"estimate":{"hours":2.0,"cost":1.5}' in project.graph_path.read_text()


def test_bad_priority_name_warns(project: Project) -> None:
    r = project.ok("add", "P", "--no-place", "-p", "bogus")
    assert "Warning: Invalid priority 'bogus', using default (10)" in r.err
    assert project.task("p")["priority"] == 10


def test_delay_sets_not_before(project: Project) -> None:
    project.ok("add", "D", "--id", "d", "--no-place", "--delay", "1h")
    assert re.fullmatch(TS, str(project.task("d")["not_before"]))
    project.ok("add", "E", "--id", "e", "--no-place", "--not-before", "2030-01-01T00:00:00")
    assert project.task("e")["not_before"] == "2030-01-01T00:00:00"


def test_json_result(project: Project) -> None:
    r = project.ok("--json", "add", "Foo")
    assert r.json() == {"id": "foo", "title": "Foo", "status": "open", "paused": True, "draft": True}
    r = project.ok("add", "Bar", "--no-place", "--json")
    assert r.json() == {"id": "bar", "title": "Bar", "status": "open", "paused": False, "draft": False}


def test_focus_file_written(project: Project) -> None:
    project.ok("add", "Foo", "--no-place")
    assert (project.wg / ".new_task_focus").read_text().strip() == "foo"


def test_no_service_warning_last_on_stderr(project: Project) -> None:
    r = project.ok("add", "Foo", "--no-place")
    assert r.err.splitlines()[-2:] == [
        "Warning: No service running. Tasks won't be dispatched automatically.",
        "  Start the coordinator with: wg service start",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["", "--no-place"], "Task title cannot be empty"),
        (["   ", "--no-place"], "Task title cannot be empty"),
        (
            ["x", "--visibility", "secret"],
            "Invalid visibility 'secret'. Valid values: internal, public, peer",
        ),
        (["x", "--timeout", "soon"], "Invalid timeout 'soon'. Use format: 30s, 5m, 1h, 4h, 1d"),
        (["x", "--cycle-guard", "always"], "--cycle-guard and --cycle-delay require --max-iterations"),
        (["x", "--no-converge"], "--no-converge requires --max-iterations"),
        (
            ["x", "--max-iterations", "2", "--cycle-delay", "zz"],
            "Invalid cycle delay 'zz'. Use format: 30s, 5m, 1h, 24h, 7d",
        ),
        (
            ["x", "--delay", "5m", "--not-before", "2030-01-01T00:00:00"],
            "Cannot specify both --delay and --not-before",
        ),
        (["x", "--delay", "5y"], "Invalid delay '5y'. Use format: 30s, 5m, 1h, 24h, 7d"),
        (["x", "--not-before", "tomorrow"], "Invalid timestamp 'tomorrow'. Use ISO 8601 format"),
        (["x", "--id", "x", "--after", "x"], "Task 'x' cannot block itself"),
        (["x", "--id", "x", "--after", "x", "--no-place"], "Task 'x' cannot block itself"),
    ],
)
def test_bad_input_exit_1_writes_nothing(project: Project, args: list[str], message: str) -> None:
    project.ok("add", "Keep", "--no-place")
    before = project.graph_bytes()
    r = project.fails("add", *args)
    assert f"Error: {message}" in r.err
    assert project.graph_bytes() == before


@pytest.mark.parametrize("extra", [[], ["--no-place"]])
def test_missing_dependency_error_with_hint(project: Project, extra: list[str]) -> None:
    project.ok("add", "Ghosts", "--no-place")
    before = project.graph_bytes()
    r = project.fails("add", "x", "--after", "ghost", *extra)
    assert r.err.splitlines()[:3] == [
        "Error: Dependency 'ghost' does not exist.",
        "  → Did you mean 'ghosts'?",
        "  Hint: Use --paused to defer validation, or --allow-phantom to allow forward references.",
    ]
    assert project.graph_bytes() == before
    r = project.fails("add", "x", "--after", "zzzzzzzz", *extra)
    assert r.err.splitlines()[:2] == [
        "Error: Dependency 'zzzzzzzz' does not exist.",
        "  Hint: Use --paused to defer validation, or --allow-phantom to allow forward references.",
    ]
    assert project.graph_bytes() == before


def test_missing_title_is_usage_error(project: Project) -> None:
    before = project.graph_bytes()
    r = project.fails("add", code=2)
    assert r.err.splitlines()[-1].startswith("Error: ")
    assert project.graph_bytes() == before


def test_self_block_checked_after_id_clash(project: Project) -> None:
    project.ok("add", "X", "--id", "x", "--no-place")
    r = project.fails("add", "X", "--id", "x", "--after", "x")
    assert "Error: Task with ID 'x' already exists" in r.err


def test_not_initialized(bare_project: Project) -> None:
    r = bare_project.fails("add", "x", "--no-place")
    assert "Error: WG not initialized. Run 'wg init' first." in r.err
    assert not bare_project.wg.exists()
