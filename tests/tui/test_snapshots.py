"""Snapshots of the main screens as plain text, at a fixed size, clock and hand-written graph.

A change of layout shows up as a diff; ``WG_UPDATE_SNAPSHOTS=1`` rewrites the files under snapshots/.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from workgraph.tui.app import WgApp

from .conftest import AGENT_1, SIZE, assert_snapshot, clock, screen_text, write_agents


async def _snap(wg_dir: Path, name: str, *keys: str) -> None:
    """Open the app, press ``keys``, and compare the screen with snapshot ``name``."""
    app = WgApp(str(wg_dir), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*keys)
        await pilot.pause()
        assert_snapshot(name, screen_text(app))


@pytest.mark.asyncio
async def test_snapshot_main_screen(wg_dir: Path) -> None:
    await _snap(wg_dir, "main", "down", "down")


@pytest.mark.asyncio
async def test_snapshot_filtered_dependency_order(wg_dir: Path) -> None:
    await _snap(wg_dir, "deps_open", "o", "s", "down")


@pytest.mark.asyncio
async def test_snapshot_agents_and_output(wg_dir: Path) -> None:
    write_agents(
        wg_dir,
        {
            "agent-1": AGENT_1,
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
    await _snap(wg_dir, "help", "question_mark")


@pytest.mark.asyncio
async def test_snapshot_confirm_dialog(wg_dir: Path) -> None:
    await _snap(wg_dir, "confirm_claim", "down", "c")
