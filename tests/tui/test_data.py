"""The TUI's pure parts: orders, filters, the file signature, the log follower, agent rows."""

from __future__ import annotations

import os
from pathlib import Path

from workgraph.graph import Graph
from workgraph.tui.data import (
    Filter,
    LogFollower,
    dependency_order,
    file_signature,
    fmt_runtime,
    last_line,
    load_agents,
    process_alive,
    tree_order,
)

from .conftest import clock, dead_pid, write_agents, write_graph


def graph(*specs: tuple[str, list[str]]) -> Graph:
    return Graph(
        {tid: {"kind": "task", "id": tid, "title": tid.upper(), "after": after} for tid, after in specs}
    )


def test_tree_order_puts_dependents_under_first_dependency_and_keeps_cycles() -> None:
    g = graph(("a", []), ("b", ["a"]), ("c", ["a", "b"]), ("x", ["y"]), ("y", ["x"]), ("z", ["missing"]))
    assert [(r["id"], d) for r, d in tree_order(g)] == [
        ("a", 0), ("b", 1), ("c", 2), ("z", 0), ("x", 0), ("y", 1),
    ]  # fmt: skip


def test_dependency_order_is_topological_with_file_order_ties() -> None:
    g = graph(("c", ["b"]), ("b", ["a"]), ("a", []), ("d", []), ("x", ["y"]), ("y", ["x"]))
    assert [r["id"] for r, _ in dependency_order(g)] == ["a", "b", "c", "d", "x", "y"]


def test_filter_parse_and_match() -> None:
    f = Filter.parse("status:failed tag:api #core Parser")
    assert (f.status, f.tags, f.words) == ("failed", ("api", "core"), ("parser",))
    task = {"id": "build-parser", "title": "Build", "status": "failed", "tags": ["api", "core"]}
    assert f.matches(task)
    assert not f.matches({**task, "status": "open"})
    assert not f.matches({**task, "tags": ["api"]})
    assert not Filter.parse("").matches({"id": ".assign-x", "title": "x"})
    assert Filter.parse("", show_system=True).matches({"id": ".assign-x", "title": "x"})
    assert Filter.parse("nothing").describe() == 'status:all "nothing"'


def test_file_signature_changes_on_atomic_replace(tmp_path: Path) -> None:
    d = tmp_path / ".wg"
    write_graph(d)
    before = file_signature(str(d / "graph.jsonl"))
    assert before is not None
    write_graph(d)  # same bytes, new inode
    assert file_signature(str(d / "graph.jsonl")) != before
    assert file_signature(str(d / "nope")) is None


def test_log_follower_reads_whole_lines_and_restarts_on_truncation(tmp_path: Path) -> None:
    p = tmp_path / "output.log"
    f = LogFollower(str(p))
    assert f.read_new() == (False, "")  # no file yet
    p.write_text("one\ntw")
    assert f.read_new() == (True, "one\n")
    with p.open("a") as fh:
        fh.write("o\nthree\n")
    assert f.read_new() == (False, "two\nthree\n")
    assert f.read_new() == (False, "")
    p.write_text("new\n")  # truncated/rewritten
    assert f.read_new() == (True, "new\n")


def test_agents_read_defensively(tmp_path: Path) -> None:
    wg = tmp_path / ".wg"
    assert load_agents(str(wg), clock()) == []
    write_agents(
        wg,
        {
            "agent-2": {
                "pid": os.getpid(),
                "task_id": "t",
                "status": "working",
                "started_at": "2026-04-24T11:59:00+00:00",
            },
            "agent-10": {"pid": dead_pid(), "task_id": "u", "status": "working"},
            "agent-3": {"pid": os.getpid(), "task_id": "v", "status": "done"},
            "bad": [1, 2],
        },
        {"agent-2": "a\n\nlast words\n\n"},
    )
    rows = load_agents(str(wg), clock())
    assert [(r.id, r.alive) for r in rows] == [("agent-2", True), ("agent-10", False), ("agent-3", False)]
    assert rows[0].tail == "last words" and rows[0].runtime == 60
    assert rows[1].tail == "" and rows[1].runtime is None
    (wg / "service" / "registry.json").write_text('{"agents": []}')
    assert load_agents(str(wg), clock()) == []


def test_process_alive_checks_start_time() -> None:
    with open(f"/proc/{os.getpid()}/stat") as fh:
        start = fh.read().rpartition(")")[2].split()[19]
    assert process_alive(os.getpid(), start)
    assert not process_alive(os.getpid(), "1")  # a reused pid
    assert not process_alive(dead_pid())
    assert not process_alive(None)


def test_small_formatters(tmp_path: Path) -> None:
    assert [fmt_runtime(s) for s in (None, 5, 65, 3700)] == ["-", "5s", "1m05s", "1h01m"]
    assert last_line(str(tmp_path / "none")) == ""
