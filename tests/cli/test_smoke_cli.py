from __future__ import annotations

from tests.conftest import Project


def test_add_list_show_claim_done_walk(project: Project) -> None:
    project.ok("add", "Build the widget", "--no-place")
    project.ok("add", "Ship it", "--no-place", "--after", "build-the-widget")
    assert "build-the-widget" in project.ok("ready").out
    assert "ship-it" not in project.ok("ready").out
    project.ok("claim", "build-the-widget")
    project.ok("done", "build-the-widget")
    assert "ship-it" in project.ok("ready").out
    assert project.task("ship-it")["after"] == ["build-the-widget"]
    assert project.task("build-the-widget")["before"] == ["ship-it"]


def test_unknown_task_suggests_and_json_error(project: Project) -> None:
    project.ok("add", "Build the widget", "--no-place")
    r = project.fails("show", "build")
    assert "Did you mean 'build-the-widget'?" in r.err
    r = project.fails("--json", "show", "nosuch")
    assert r.json() == {"error": "Task 'nosuch' not found"}


def test_usage_error_exits_2(project: Project) -> None:
    r = project.fails("list", "--bogus", code=2)
    assert r.err.strip().splitlines()[-1].startswith("Error: ")
