"""Pilot tests of ``wg tui``: navigation, filters, actions with confirmation, live refresh, agents, help."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import WG_BIN, Project
from workgraph.tui.app import WgApp
from workgraph.tui.screens import ConfirmScreen, HelpScreen, PromptScreen
from workgraph.tui.widgets import AgentsTable, OutputLog, TaskTable

from .conftest import AGENT_1, SIZE, clock, dead_pid, screen_text, write_agents, write_graph


def rows(app: WgApp) -> list[str]:
    return list(app.query_one(TaskTable).task_ids)


def page(app: WgApp) -> str:
    from textual.widgets import Static

    return str(app.query_one("#page-text", Static).render())


def graph_rows(wg_dir: Path) -> dict[str, dict[str, object]]:
    out = {}
    for line in (wg_dir / "graph.jsonl").read_text().splitlines():
        if line.strip():
            rec = json.loads(line)
            out[rec["id"]] = rec
    return out


async def settle(app: WgApp, pilot: object) -> None:
    """Let running ``wg`` actions finish and the screen catch up."""
    await app.workers.wait_for_complete()
    await pilot.pause()  # type: ignore[attr-defined]


# -- navigation ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_arrow_keys_move_selection_and_page_follows(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one(TaskTable)
        # tree order: design, its dependent chain, then the other roots
        assert rows(app) == [
            "design",
            "build-parser",
            "write-tests",
            "release",
            "api-docs",
            "flaky-ci",
            "old-idea",
        ]
        assert table.selected_id == "design"
        assert "Task: design" in page(app)
        await pilot.press("down", "down")
        assert table.selected_id == "write-tests"
        text = page(app)
        assert "Task: write-tests" in text and "Title: Write parser tests" in text
        assert "  - build-parser (in-progress)" in text
        await pilot.press("up")
        assert table.selected_id == "build-parser"
        assert "Status: in-progress" in page(app)
        await pilot.press("j", "j", "j")
        assert table.selected_id == "api-docs"
        assert "Every public call, with one example each." in page(app)
        await pilot.press("k")
        assert table.selected_id == "release"


@pytest.mark.asyncio
async def test_order_toggle_lists_dependencies_first(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o")
        order = rows(app)
        assert order.index("api-docs") < order.index("release")
        assert order.index("write-tests") < order.index("release")
        assert order == [
            "design",
            "build-parser",
            "write-tests",
            "api-docs",
            "flaky-ci",
            "release",
            "old-idea",
        ]
        await pilot.press("o")
        assert rows(app)[3] == "release"  # back to the tree


# -- filters ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_status_filter_cycles(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("s")
        assert rows(app) == ["write-tests", "release", "api-docs"]
        assert "status:open" in screen_text(app)
        await pilot.press("s")
        assert rows(app) == ["build-parser"]
        await pilot.press("s", "s")  # blocked (none), failed
        assert rows(app) == ["flaky-ci"]
        assert "Failure reason: timeout in step 3" in page(app)
        await pilot.press("escape")
        assert len(rows(app)) == 7


@pytest.mark.asyncio
async def test_tag_filter_through_prompt(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        assert isinstance(app.screen, PromptScreen)
        await pilot.press(*"api", "enter")
        await pilot.pause()
        assert rows(app) == ["build-parser", "api-docs"]
        await pilot.press("t", *"docs", "enter")  # a new tag replaces the old one
        await pilot.pause()
        assert rows(app) == ["api-docs"]


@pytest.mark.asyncio
async def test_search_words_and_query_syntax(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"parser", "enter")
        assert rows(app) == ["design", "build-parser", "write-tests"]
        assert app.query_one(TaskTable).has_focus  # back to the list after enter
        await pilot.press("slash", "ctrl+a", "ctrl+k", *"status:open #api", "enter")
        assert rows(app) == ["api-docs"]
        await pilot.press("escape")
        assert len(rows(app)) == 7


@pytest.mark.asyncio
async def test_system_tasks_hidden_unless_asked(wg_dir: Path) -> None:
    write_graph(wg_dir, [{"id": "a", "title": "A"}, {"id": ".assign-a", "title": "Assign a", "after": ["a"]}])
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        assert rows(app) == ["a"]
        await pilot.press("full_stop")
        assert rows(app) == ["a", ".assign-a"]


# -- actions ------------------------------------------------------------------------------------


@pytest.fixture
def proj(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    """An initialized project holding the sample graph; the app's ``wg`` children see its HOME."""
    write_graph(project.wg)
    monkeypatch.setenv("HOME", str(project.home))
    for key in ("WG_DIR", "WG_TASK_ID", "WG_AGENT_ID", "WG_USER"):
        monkeypatch.delenv(key, raising=False)
    return project


@pytest.mark.asyncio
async def test_claim_then_done_with_confirmation(proj: Project) -> None:
    app = WgApp(str(proj.wg), clock=clock, interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"api-docs", "enter")
        assert app.query_one(TaskTable).selected_id == "api-docs"
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        assert "Claim 'api-docs'?" in screen_text(app)
        await pilot.press("y")
        await settle(app, pilot)
        assert proj.task("api-docs")["status"] == "in-progress"
        assert "wg claim: Claimed 'api-docs'" in screen_text(app)
        assert "Status: in-progress" in page(app)  # the view reloaded the graph
        await pilot.press("d", "y")
        await settle(app, pilot)
        assert proj.task("api-docs")["status"] == "done"
        assert "Status: done" in page(app)


@pytest.mark.asyncio
async def test_declined_confirmation_changes_nothing(proj: Project) -> None:
    before = proj.graph_bytes()
    app = WgApp(str(proj.wg), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("c")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await settle(app, pilot)
        assert not isinstance(app.screen, ConfirmScreen)
        assert "cancelled" in screen_text(app)
    assert proj.graph_bytes() == before


@pytest.mark.asyncio
async def test_refused_action_shows_the_error(proj: Project) -> None:
    app = WgApp(str(proj.wg), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"release", "enter")
        await pilot.press("d", "y")  # its dependencies are not done
        await settle(app, pilot)
        assert "wg done: Error:" in screen_text(app)
    assert proj.task("release")["status"] == "open"


@pytest.mark.asyncio
async def test_fail_with_reason_then_retry(proj: Project) -> None:
    app = WgApp(str(proj.wg), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("slash", *"build-parser", "enter")
        await pilot.press("f", *"disk full", "enter")
        assert "Mark 'build-parser' failed: disk full?" in screen_text(app)
        await pilot.press("y")
        await settle(app, pilot)
        task = proj.task("build-parser")
        assert task["status"] == "failed" and task["failure_reason"] == "disk full"
        await pilot.press("r", "y")
        await settle(app, pilot)
        assert proj.task("build-parser")["status"] == "open"


@pytest.mark.asyncio
async def test_add_task_with_confirmation(proj: Project) -> None:
    app = WgApp(str(proj.wg), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a", *"Ship it", "enter", "enter")  # title, then confirm with enter
        await settle(app, pilot)
        assert proj.task("ship-it")["title"] == "Ship it"
        assert "ship-it" in rows(app)


# -- live refresh -------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_task_added_by_another_process_appears(proj: Project) -> None:
    app = WgApp(str(proj.wg), clock=clock, interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        loads = app.reloads
        await pilot.pause(0.3)
        assert app.reloads == loads  # nothing changed: nothing reloaded
        env = {**proj.env}
        done = await asyncio.to_thread(
            subprocess.run,
            [WG_BIN, "--dir", str(proj.wg), "add", "Added elsewhere", "--no-place"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
        for _ in range(30):
            await pilot.pause(0.1)
            if "added-elsewhere" in rows(app):
                break
        assert "added-elsewhere" in rows(app)
        assert app.reloads == loads + 1


# -- agents -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_agents_panel_reads_registry_and_follows_output(wg_dir: Path) -> None:
    write_agents(
        wg_dir,
        {
            "agent-1": {**AGENT_1, "output_file": str(wg_dir / "agents" / "agent-1" / "output.log")},
            "agent-2": {
                "id": "agent-2",
                "pid": dead_pid(),
                "task_id": "flaky-ci",
                "executor": "claude",
                "started_at": "2026-04-24T10:00:00+00:00",
                "status": "working",
            },
            "broken": "not an entry",
        },
        {"agent-1": "starting\nparsing header\n", "agent-2": "step 3 timed out\n"},
    )
    app = WgApp(str(wg_dir), clock=clock, interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        agents = app.query_one(AgentsTable)
        assert agents.agent_ids == ["agent-1", "agent-2"]
        text = screen_text(app)
        assert "agent-1   alive  build-parser      30m00s" in text
        assert "parsing header" in text
        assert "agent-2   dead" in text and "step 3 timed out" in text
        # the task page shows the runtime of the task's agent (wg show's Runtime block)
        await pilot.press("down")
        assert "Executor: shell" in page(app)
        # follow agent-2 from the agents table, then agent-1's log grows
        agents.focus()
        await pilot.press("down")
        await pilot.pause()
        log = app.query_one(OutputLog)
        assert app.followed_agent == "agent-2"
        assert "step 3 timed out" in "\n".join(log.lines)
        await pilot.press("up")
        await pilot.pause()
        assert app.followed_agent == "agent-1"
        with open(wg_dir / "agents" / "agent-1" / "output.log", "a") as fh:
            fh.write("writing tests\n")
        for _ in range(30):
            await pilot.pause(0.1)
            if "writing tests" in log.lines:
                break
        assert list(log.lines)[-3:] == ["starting", "parsing header", "writing tests"]


@pytest.mark.asyncio
async def test_missing_or_corrupt_registry_shows_no_agents(wg_dir: Path) -> None:
    (wg_dir / "service").mkdir()
    (wg_dir / "service" / "registry.json").write_text("{")
    app = WgApp(str(wg_dir), clock=clock, interval=0.1)
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one(AgentsTable).agent_ids == []
        write_agents(wg_dir, {"agent-7": {"pid": dead_pid(), "task_id": "x", "status": "dead"}}, {})
        for _ in range(30):
            await pilot.pause(0.1)
            if app.query_one(AgentsTable).agent_ids:
                break
        assert app.query_one(AgentsTable).agent_ids == ["agent-7"]


@pytest.mark.asyncio
async def test_follow_selected_task_agent_key(wg_dir: Path) -> None:
    write_agents(
        wg_dir,
        {"agent-3": {"pid": dead_pid(), "task_id": "flaky-ci", "status": "failed"}},
        {"agent-3": "boom\n"},
    )
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("g")  # design has no agent
        assert "no agent has worked on design" in screen_text(app)
        await pilot.press("slash", *"flaky", "enter", "g")
        assert app.followed_agent == "agent-3"
        assert "boom" in app.query_one(OutputLog).lines


# -- help ---------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_question_mark_shows_help(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        assert "claim the selected task" in screen_text(app)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


def test_cli_reports_missing_project(bare_project: Project) -> None:
    r = bare_project.run("tui")
    assert r.code == 1 and "Traceback" not in r.err
    assert "Error:" in r.err


def test_cli_help_lists_tui(bare_project: Project) -> None:
    r = bare_project.run("tui", "--help")
    assert r.code == 0 and "--interval" in r.out
    assert "tui" in bare_project.run("--help").out
    # textual is not imported by the CLI for other commands
    code = "import sys, workgraph.cli as c; c.main(['--version']); print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.strip().endswith("False")
