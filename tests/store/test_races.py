"""Concurrent writers and lock-free readers (spec core 8; acceptance checks 28, 29, 30)."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import WG_BIN, Project

# Runs its share of wg commands one after another and prints their exit codes as one JSON list.
DRIVER = """
import json, subprocess, sys
wg, cmds = sys.argv[1], json.loads(sys.argv[2])
codes = [subprocess.run([wg, *c], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode for c in cmds]
print(json.dumps(codes))
"""


def _run_parallel(project: Project, per_process: list[list[list[str]]]) -> list[list[int]]:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DRIVER, WG_BIN, json.dumps(cmds)],
            cwd=project.root,
            env=project.env,
            stdout=subprocess.PIPE,
            text=True,
        )
        for cmds in per_process
    ]
    results = []
    for p in procs:
        out, _ = p.communicate(timeout=280)
        assert p.returncode == 0
        results.append(json.loads(out))
    return results


def _write_open_tasks(project: Project, n: int) -> list[str]:
    ids = [f"t{i}" for i in range(n)]
    project.graph_path.write_text(
        "".join(
            json.dumps(
                {
                    "kind": "task",
                    "id": t,
                    "title": t,
                    "status": "open",
                    "priority": 10,
                    "created_at": "2026-04-01T09:00:00.000000000+00:00",
                    "last_interaction_at": "2026-04-01T09:00:00.000000000+00:00",
                },
                separators=(",", ":"),
            )
            + "\n"
            for t in ids
        )
    )
    return ids


@pytest.mark.timeout(300)
def test_claim_race_has_exactly_one_winner_per_task(project: Project) -> None:
    import random

    ids = _write_open_tasks(project, 200)
    per_process = []
    for k in range(8):
        order = list(ids)
        random.Random(k).shuffle(order)
        per_process.append([["claim", t, "--actor", f"p{k}"] for t in order])
    codes = _run_parallel(project, per_process)
    flat = [c for proc in codes for c in proc]
    assert flat.count(0) == 200
    assert flat.count(1) == 1400
    rows = {r["id"]: r for r in project.rows()}
    assert len(rows) == 200
    winners: dict[str, str] = {}
    for k, proc in enumerate(codes):
        order = [c[1] for c in per_process[k]]
        for t, code in zip(order, proc, strict=True):
            if code == 0:
                assert t not in winners
                winners[t] = f"p{k}"
    for t in ids:
        row = rows[t]
        assert row["status"] == "in-progress"
        assert row["assigned"] == winners[t]
        claims = [e for e in row["log"] if str(e["message"]).startswith("Task claimed by @")]  # type: ignore[union-attr]
        assert len(claims) == 1 and claims[0]["message"] == f"Task claimed by @{winners[t]}"


@pytest.mark.timeout(300)
def test_add_race_gives_unique_ids(project: Project) -> None:
    per_process = [[["add", f"T {k}-{i}", "--no-place"] for i in range(100)] for k in range(8)]
    codes = _run_parallel(project, per_process)
    assert all(c == 0 for proc in codes for c in proc)
    rows = project.rows()  # parses every line
    ids = [r["id"] for r in rows]
    assert len(ids) == 800 and len(set(ids)) == 800
    assert {r["title"] for r in rows} == {f"T {k}-{i}" for k in range(8) for i in range(100)}


@pytest.mark.timeout(300)
def test_same_title_race_numbers_the_ids(project: Project) -> None:
    codes = _run_parallel(project, [[["add", "Same title", "--no-place"]] for _ in range(8)])
    assert codes == [[0]] * 8
    ids = sorted(str(r["id"]) for r in project.rows())
    assert ids == sorted(["same-title", *(f"same-title-{i}" for i in range(2, 9))])


def _lock(path: Path) -> int:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


@pytest.mark.timeout(120)
def test_readers_never_wait_for_the_writers_lock(project: Project) -> None:
    project.ok("add", "a", "--no-place")
    before = project.graph_bytes()
    fd = _lock(project.wg / "graph.lock")
    try:
        for cmd in (["list"], ["show", "a"], ["ready"]):
            t = time.monotonic()
            r = project.run(*cmd, timeout=10)
            assert r.code == 0, r.err
            assert time.monotonic() - t < 1.0, cmd
        adder = subprocess.Popen(
            [WG_BIN, "add", "z", "--no-place"],
            cwd=project.root,
            env=project.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(1.0)
        assert adder.poll() is None, "wg add did not wait for the lock"
        assert project.graph_bytes() == before
    finally:
        os.close(fd)
    _out, err = adder.communicate(timeout=30)
    assert adder.returncode == 0, err
    assert [r["id"] for r in project.rows()] == ["a", "z"]


def test_stray_temp_files_are_ignored(project: Project) -> None:
    project.ok("add", "a", "--no-place")
    (project.wg / ".graph.tmp.999999").write_text('{"kind":"task","id":"ghost","title":"G"}\n{"broken')
    assert [r["id"] for r in project.rows()] == ["a"]
    out = project.ok("list").out
    assert "ghost" not in out
    project.ok("add", "b", "--no-place")
    assert [r["id"] for r in project.rows()] == ["a", "b"]
