"""Snapshots of the main screens as plain text, at a fixed size, clock and hand-written graph.

A change of layout shows up as a diff; ``WG_UPDATE_SNAPSHOTS=1`` rewrites the files under snapshots/.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workgraph.tui.app import WgApp

from .conftest import SIZE, assert_snapshot, clock, screen_text, write_agents


@pytest.mark.asyncio
async def test_snapshot_main_screen(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "down")
        await pilot.pause()
        assert_snapshot("main", screen_text(app))


@pytest.mark.asyncio
async def test_snapshot_filtered_dependency_order(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("o", "s", "down")
        await pilot.pause()
        assert_snapshot("deps_open", screen_text(app))


@pytest.mark.asyncio
async def test_snapshot_agents_and_output(wg_dir: Path) -> None:
    write_agents(
        wg_dir,
        {
            "agent-1": {
                "id": "agent-1",
                "pid": os.getpid(),
                "task_id": "build-parser",
                "executor": "shell",
                "started_at": "2026-04-24T11:30:00+00:00",
                "status": "working",
            },
            "agent-2": {
                "id": "agent-2",
                "pid": 0,
                "task_id": "flaky-ci",
                "executor": "claude",
                "started_at": "2026-04-24T09:00:00+00:00",
                "completed_at": "2026-04-24T10:15:00+00:00",
                "status": "failed",
            },
        },
        {
            "agent-1": "".join(f"line {i} of the build\n" for i in range(1, 12)),
            "agent-2": "step 3 timed out\n",
        },
    )
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down")  # build-parser: its page has the Runtime block
        app.query_one("#agents").focus()
        await pilot.pause()
        assert app.followed_agent == "agent-1"
        assert_snapshot("agents", screen_text(app))


@pytest.mark.asyncio
async def test_snapshot_help(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        assert_snapshot("help", screen_text(app))


@pytest.mark.asyncio
async def test_snapshot_confirm_dialog(wg_dir: Path) -> None:
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "c")
        await pilot.pause()
        assert_snapshot("confirm_claim", screen_text(app))
