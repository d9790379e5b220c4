"""show, list, ready (spec core 11.3, 11.4; checks 8, 17, 18, 20)."""

from __future__ import annotations

import json
import re

from tests.conftest import Project

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00"


def mask(text: str) -> list[str]:
    return re.sub(TS, "<ts>", text).splitlines()


def write_rows(project: Project, *rows: dict[str, object]) -> None:
    project.graph_path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def _show_fixture(project: Project) -> None:
    project.ok("add", "Dep", "--id", "dep", "--no-place")
    project.ok(
        "add",
        "Main task",
        "--id",
        "main",
        "--no-place",
        "-d",
        "first line\nsecond line",
        "-t",
        "alpha",
        "-t",
        "beta",
        "-p",
        "50",
        "--after",
        "dep",
        "--exec",
        "make",
    )
    project.ok("add", "Child", "--id", "child", "--no-place", "--after", "main")
    project.ok("claim", "main", "--actor", "bob")
    project.ok("unclaim", "main")


def test_show_template(project: Project) -> None:
    _show_fixture(project)
    r = project.ok("show", "main")
    assert mask(r.out) == [
        "Task: main",
        "Title: Main task",
        "Status: open",
        "Priority: ⌁50",
        "Exec mode: shell",
        "",
        "Description:",
        "  first line",
        "  second line",
        "",
        "Tags: alpha, beta",
        "",
        "After:",
        "  - dep (open)",
        "",
        "Before:",
        "  - child (open)",
        "",
        "Created: <ts>",
        "Started: <ts>",
        "Last interaction: <ts>",
        "",
        "Log:",
        "  <ts> Task claimed by @bob [bob]",
        "  <ts> Task unclaimed (was assigned to @bob)",
    ]
    assert r.err == ""


def test_show_minimal_and_paused(project: Project) -> None:
    project.ok("add", "Foo", "--id", "foo", "--paused", "--no-place", env={"WG_USER": "carol"})
    assert project.task("foo")["unplaced"] is True
    r = project.ok("show", "foo")
    assert mask(r.out) == [
        "Task: foo",
        "Title: Foo",
        "Status: open (PAUSED)",
        "",
        "",
        "After:",
        "  (none)",
        "",
        "Before:",
        "  (none)",
        "",
        "Created: <ts>",
        "Last interaction: <ts>",
        "",
        "Log:",
        "  <ts> Task paused",
    ]
    assert project.task("foo")["log"][0]["user"] == "carol"  # type: ignore[index]


def test_show_failed_fields(project: Project) -> None:
    write_rows(
        project,
        {
            "kind": "task",
            "id": "f",
            "title": "F",
            "status": "failed",
            "assigned": "ag",
            "visibility": "public",
            "retry_count": 2,
            "max_retries": 5,
            "failure_reason": "boom",
            "failure_class": "api-error-429-rate-limit",
            "superseded_by": ["x", "y"],
            "estimate": {"hours": 2.0, "cost": 3.5},
            "not_before": "2000-01-01T00:00:00+00:00",
            "token_usage": {"input_tokens": 2500, "output_tokens": 1_500_000, "cache_read_input_tokens": 500,
                            "cost_usd": 1.234},
        },
    )  # fmt: skip
    lines = project.ok("show", "f").out.splitlines()
    assert lines[:11] == [
        "Task: f",
        "Title: F",
        "Status: failed",
        "Visibility: public",
        "Assigned: ag",
        "Failure reason: boom",
        "failure_class: api-error-429-rate-limit",
        "  hint: rate limit — back off and retry",
        "Superseded by: x, y",
        "Retry count: 2/5",
        "",
    ]
    assert "Estimate: 2h, $3.5" in lines
    assert "Not before: 2000-01-01T00:00:00+00:00 (elapsed)" in lines
    assert lines[-3:] == ["", "Tokens: 2.0k/1.5M (in/out) +500 cached", "Cost: $1.23"]


def test_show_max_retries_without_count(project: Project) -> None:
    project.ok("add", "A", "--id", "a", "--no-place", "--max-retries", "4")
    assert "Max retries: 4" in project.ok("show", "a").out.splitlines()


def test_show_missing_dependency(project: Project) -> None:
    project.ok("add", "c", "--no-place", "--after", "ghost", "--allow-phantom")
    assert "c" not in project.ok("ready").out
    r = project.ok("show", "c")
    assert "Warning: blocker 'ghost' referenced by 'c' not found in graph" in r.err
    assert "  - ghost (open)" in r.out.splitlines()
    project.ok("done", "c")


def test_show_json(project: Project) -> None:
    _show_fixture(project)
    data = project.ok("--json", "show", "main").json()
    assert isinstance(data, dict)
    assert list(data) == [
        "id",
        "title",
        "description",
        "status",
        "priority",
        "tags",
        "exec",
        "after",
        "before",
        "created_at",
        "started_at",
        "last_interaction_at",
        "log",
        "exec_mode",
        "unplaced",
    ]
    assert data["after"] == [{"id": "dep", "status": "open"}]
    assert data["before"] == [{"id": "child", "status": "open"}]
    assert data["description"] == "first line\nsecond line"
    assert data["log"][0]["actor"] == "bob"


def test_show_json_estimate_not_before_and_skipped_keys(project: Project) -> None:
    write_rows(
        project,
        {
            "kind": "task",
            "id": "t",
            "title": "T",
            "status": "open",
            "priority": 10,
            "estimate": {"hours": 1.5, "cost": 2.0},
            "requires": ["gpu"],
            "timeout": "5m",
            "not_before": "2030-01-01T00:00:00",
            "created_at": "2026-01-01T00:00:00+00:00",
            "last_interaction_at": "2026-01-01T00:00:00+00:00",
            "provider": "p",
            "x_note": {"k": 1},
        },
    )
    data = project.ok("show", "t", "--json").json()
    assert isinstance(data, dict)
    assert list(data) == [
        "id",
        "title",
        "status",
        "priority",
        "hours",
        "cost",
        "after",
        "before",
        "created_at",
        "last_interaction_at",
        "not_before",
        "x_note",
    ]
    assert data["hours"] == 1.5 and data["after"] == [] and data["before"] == []


def test_show_runtime_block_from_newest_agent(project: Project) -> None:
    write_rows(
        project,
        {"kind": "task", "id": "t", "title": "T", "status": "in-progress", "assigned": "agent-10",
         "model": "claude:opus", "session_id": "sess"},
    )  # fmt: skip
    service = project.wg / "service"
    service.mkdir(exist_ok=True)
    agents = {
        "agent-9": {"id": "agent-9", "task_id": "t", "executor": "codex", "status": "dead"},
        "agent-10": {"id": "agent-10", "task_id": "t", "executor": "claude", "model": "claude:sonnet",
                     "status": "dead"},
        "agent-11": {"id": "agent-11", "task_id": "other", "executor": "shell", "status": "dead"},
    }  # fmt: skip
    (service / "registry.json").write_text(json.dumps({"agents": agents, "next_agent_id": 12}))
    lines = project.ok("show", "t").out.splitlines()
    assert lines[3:9] == [
        "Assigned: agent-10",
        "",
        "Runtime:",
        "  Executor: claude",
        "  Model: claude:sonnet (configured: claude:opus)",
        "  Session: sess",
    ]
    data = project.ok("--json", "show", "t").json()
    assert isinstance(data, dict)
    keys = list(data)
    assert keys[keys.index("model") + 1 : keys.index("model") + 3] == ["actual_executor", "actual_model"]
    assert data["actual_executor"] == "claude" and data["actual_model"] == "claude:sonnet"


def test_show_unknown(project: Project) -> None:
    project.ok("add", "Build", "--id", "build-x", "--no-place")
    r = project.fails("show", "build")
    assert "Error: Task 'build' not found. Did you mean 'build-x'?" in r.err
    r = project.fails("--json", "show", "nosuch")
    assert r.json() == {"error": "Task 'nosuch' not found"}


# -- list ---------------------------------------------------------------------------------------

STATUSES = [
    ("open", "[ ]"),
    ("in-progress", "[~]"),
    ("waiting", "[W]"),
    ("done", "[x]"),
    ("blocked", "[!]"),
    ("failed", "[F]"),
    ("abandoned", "[A]"),
    ("pending-validation", "[W]"),
    ("pending-eval", "[E]"),
    ("failed-pending-eval", "[e]"),
    ("incomplete", "[I]"),
]


def test_list_boxes_in_file_order(project: Project) -> None:
    rows = [{"kind": "task", "id": f"t-{s}", "title": s.upper(), "status": s} for s, _ in STATUSES]
    write_rows(project, *reversed(rows))
    out = project.ok("list").out.splitlines()
    assert out == [f"{box} t-{s} - {s.upper()}" for s, box in reversed(STATUSES)]


def test_list_markers(project: Project) -> None:
    write_rows(
        project,
        {"kind": "task", "id": "p", "title": "P", "status": "open", "priority": 50, "paused": True,
         "verify_failures": 2, "tags": ["a", "b"]},
        {"kind": "task", "id": "r", "title": "R", "status": "open", "ready_after": "2099-01-01T00:00:00+00:00",
         "cron_schedule": "0 * * * *", "cron_enabled": True},
        {"kind": "task", "id": "old", "title": "Old", "status": "open", "not_before": "2000-01-01T00:00:00+00:00"},
    )  # fmt: skip
    out = project.ok("list").out.splitlines()
    assert out[0] == "[ ] p - P ⌁50 [PAUSED] [V!2] [a, b]"
    assert re.fullmatch(r"\[ \] r - R \[ready in \d+d \d+h\] \[cron: 0 \* \* \* \*\]", out[1])
    assert out[2] == "[ ] old - Old"


def test_list_delay_countdown(project: Project) -> None:
    project.ok("add", "D", "--id", "d", "--no-place", "--delay", "1h")
    line = project.ok("list").out.splitlines()[0]
    assert line.startswith("[ ] d - D [delayed 59m ")
    assert "d" not in [r["id"] for r in project.ok("--json", "ready").json() if r["ready"]]  # type: ignore[union-attr]


def test_list_filters(project: Project) -> None:
    write_rows(
        project,
        {"kind": "task", "id": "a", "title": "A", "status": "open", "tags": ["x", "y"]},
        {"kind": "task", "id": "b", "title": "B", "status": "done", "tags": ["x"]},
        {"kind": "task", "id": ".x", "title": "Sys", "status": "open"},
        {"kind": "task", "id": "c", "title": "C", "status": "open", "paused": True},
    )

    def ids(*args: str) -> list[str]:
        return [ln[4:].split(" - ")[0] for ln in project.ok("list", *args).out.splitlines()]

    assert ids() == ["a", "b", "c"]
    assert ids("--all") == ["a", "b", ".x", "c"]
    assert ids("--status", "done") == ["b"]
    assert ids("--tag", "x") == ["a", "b"]
    assert ids("--tag", "x", "--tag", "y") == ["a"]
    assert ids("--paused") == ["c"]
    assert project.ok("list", "--status", "blocked").out == "No tasks found\n"


def test_list_bad_status(project: Project) -> None:
    r = project.fails("list", "--status", "bogus")
    assert (
        "Error: Unknown status: 'bogus'. Valid values: open, in-progress, done, blocked, failed, abandoned, "
        "incomplete" in r.err
    )
    project.fails("list", "--bogus", code=2)


def test_list_json(project: Project) -> None:
    write_rows(
        project,
        {"kind": "task", "id": "a", "title": "A", "status": "open"},
        {"kind": "task", "id": "b", "title": "B", "status": "open", "priority": 5, "assigned": "z",
         "after": ["a"], "tags": ["t"], "paused": True},
    )  # fmt: skip
    assert project.ok("--json", "list").json() == [
        {"id": "a", "title": "A", "status": "open", "priority": 10, "assigned": None, "after": []},
        {"id": "b", "title": "B", "status": "open", "priority": 5, "assigned": "z", "after": ["a"],
         "tags": ["t"], "paused": True},
    ]  # fmt: skip


# -- ready --------------------------------------------------------------------------------------


def test_ready_empty_graph(project: Project) -> None:
    before = project.graph_bytes()
    r = project.ok("ready")
    assert r.out == "No tasks ready\n"
    assert project.ok("--json", "ready").json() == []
    assert project.graph_bytes() == before
    assert project.ok("list").out == "No tasks found\n"


def test_ready_line_priority_assigned(project: Project) -> None:
    write_rows(
        project,
        {"kind": "task", "id": "a", "title": "A", "status": "open", "priority": 50, "assigned": "bob"},
        {"kind": "task", "id": "b", "title": "B", "status": "open"},
        {"kind": "task", "id": "c", "title": "C", "status": "open", "after": ["b"]},
    )
    assert project.ok("ready").out.splitlines() == ["Ready tasks:", "  a - A ⌁50 (bob)", "  b - B"]


def test_ready_waiting_on_delay(project: Project) -> None:
    write_rows(
        project,
        {"kind": "task", "id": "a", "title": "A", "status": "open"},
        {
            "kind": "task",
            "id": "w",
            "title": "W",
            "status": "open",
            "ready_after": "2099-01-01T00:00:00+00:00",
        },
    )
    out = project.ok("ready").out.splitlines()
    assert out[:3] == ["Ready tasks:", "  a - A", ""]
    assert out[3] == "Waiting on delay:"
    assert re.fullmatch(r"  w - W \(ready in \d+d( \d+h)?\)", out[4])
    data = project.ok("--json", "ready").json()
    assert data == [
        {"id": "a", "title": "A", "assigned": None, "estimate": None, "priority": 10, "ready": True},
        {"id": "w", "title": "W", "assigned": None, "estimate": None, "priority": 10, "ready": False,
         "ready_after": "2099-01-01T00:00:00+00:00"},
    ]  # fmt: skip
