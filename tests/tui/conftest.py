"""Helpers for the TUI tests: a hand-written graph with fixed timestamps, a frozen clock, screen text."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from workgraph.timeutil import parse_ts

NOW = parse_ts("2026-04-24T12:00:00+00:00")
assert NOW is not None
SIZE = (120, 36)
SNAPSHOTS = Path(__file__).parent / "snapshots"


def clock() -> int:
    assert NOW is not None
    return NOW


def _ts(day: int, hour: int) -> str:
    return f"2026-04-{day:02d}T{hour:02d}:00:00+00:00"


SAMPLE: list[dict[str, object]] = [
    {"id": "design", "title": "Design the parser", "status": "done", "tags": ["core"],
     "created_at": _ts(20, 10), "completed_at": _ts(21, 9)},
    {"id": "build-parser", "title": "Build the parser", "status": "in-progress", "after": ["design"],
     "assigned": "agent-1", "tags": ["core", "api"], "created_at": _ts(20, 11), "started_at": _ts(24, 11)},
    {"id": "write-tests", "title": "Write parser tests", "status": "open", "after": ["build-parser"],
     "created_at": _ts(20, 12)},
    {"id": "api-docs", "title": "Document the API", "status": "open", "tags": ["api", "docs"],
     "description": "Every public call, with one example each.", "created_at": _ts(21, 8)},
    {"id": "flaky-ci", "title": "Fix the flaky CI job", "status": "failed", "failure_reason": "timeout in step 3",
     "created_at": _ts(22, 8)},
    {"id": "release", "title": "Release 1.0", "status": "open", "after": ["write-tests", "api-docs"],
     "created_at": _ts(22, 9)},
    {"id": "old-idea", "title": "An abandoned idea", "status": "abandoned", "created_at": _ts(19, 8)},
]  # fmt: skip


def write_graph(wg_dir: Path, records: list[dict[str, object]] | None = None) -> None:
    wg_dir.mkdir(parents=True, exist_ok=True)
    rows = SAMPLE if records is None else records
    text = "".join(json.dumps({"kind": "task", **r}, separators=(",", ":")) + "\n" for r in rows)
    tmp = wg_dir / ".graph.test.tmp"
    tmp.write_text(text)
    os.replace(tmp, wg_dir / "graph.jsonl")


# The working agent on ``build-parser`` (alive: this test process's pid) that the agents tests register.
AGENT_1: dict[str, object] = {
    "id": "agent-1",
    "pid": os.getpid(),
    "task_id": "build-parser",
    "executor": "shell",
    "started_at": "2026-04-24T11:30:00+00:00",
    "status": "working",
}


def write_agents(wg_dir: Path, agents: dict[str, dict[str, object]], outputs: dict[str, str]) -> None:
    (wg_dir / "service").mkdir(parents=True, exist_ok=True)
    (wg_dir / "service" / "registry.json").write_text(
        json.dumps({"agents": agents, "next_agent_id": len(agents) + 1}, indent=2)
    )
    for agent_id, text in outputs.items():
        d = wg_dir / "agents" / agent_id
        d.mkdir(parents=True, exist_ok=True)
        (d / "output.log").write_text(text)


def dead_pid() -> int:
    """A pid that has just exited (reaped), so it is not alive."""
    import subprocess

    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def screen_text(app: object) -> str:
    """The current screen as plain text (what a person sees, without colours)."""
    from rich.console import Console
    from textual.app import App

    assert isinstance(app, App)
    console = Console(
        width=app.size.width,
        height=app.size.height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
    )
    console.print(app.screen._compositor.render_update(full=True))
    return "\n".join(line.rstrip() for line in console.export_text().splitlines())


def assert_snapshot(name: str, text: str) -> None:
    """Compare with ``snapshots/<name>.txt``; ``WG_UPDATE_SNAPSHOTS=1`` (or a missing file) writes it."""
    path = SNAPSHOTS / f"{name}.txt"
    if os.environ.get("WG_UPDATE_SNAPSHOTS") or not path.exists():
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text + "\n")
        if not os.environ.get("WG_UPDATE_SNAPSHOTS"):
            pytest.fail(f"snapshot {path.name} was missing: written, check it and run again")
        return
    want = path.read_text().rstrip("\n")
    if want != text:
        import difflib

        diff = "\n".join(
            difflib.unified_diff(want.splitlines(), text.splitlines(), "snapshot", "now", lineterm="")
        )
        pytest.fail(f"screen differs from snapshots/{path.name} (WG_UPDATE_SNAPSHOTS=1 rewrites it):\n{diff}")


@pytest.fixture
def wg_dir(tmp_path: Path) -> Path:
    """A ``.wg`` holding only the hand-written graph (no ``wg init``, no daemon)."""
    d = tmp_path / "repo" / ".wg"
    write_graph(d)
    return d
