"""Races on chat files with several real processes (spec chats.md 2): the session lock and cursors."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

_HOLDER = r"""
import os, sys, time
from workgraph.chat.store import release_lock, take_lock
chat_dir, start, out = sys.argv[1], float(sys.argv[2]), sys.argv[3]
time.sleep(max(0.0, start - time.time()))
if take_lock(chat_dir, "adapter") is None:
    t0 = time.monotonic()
    time.sleep(0.3)
    t1 = time.monotonic()
    release_lock(chat_dir)
    with open(out, "a") as fh:
        fh.write(f"{os.getpid()} {t0} {t1}\n")
"""


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_session_lock_has_one_holder_at_a_time(tmp_path: Path) -> None:
    """A waiter that finds a dead (or half-written) lock file must not remove a lock another process
    just took: at most one process holds ``.handler.pid`` at any moment."""
    chat_dir = tmp_path / "chat"
    chat_dir.mkdir()
    out = tmp_path / "holders.txt"
    for rnd in range(6):
        if rnd % 2 == 0:  # a dead holder's file: every starter removes it, then races to create
            (chat_dir / ".handler.pid").write_text(f"{_dead_pid()}\n2020-01-01T00:00:00Z\nadapter\n")
        start = time.time() + 0.6
        procs = [
            subprocess.Popen([sys.executable, "-c", _HOLDER, str(chat_dir), str(start), str(out)])
            for _ in range(10)
        ]
        for p in procs:
            p.communicate(timeout=60)
            assert p.returncode == 0
        assert not (chat_dir / ".handler.pid").exists()
    spans = sorted(tuple(map(float, line.split()[1:])) for line in out.read_text().splitlines())
    assert spans
    for (_, end), (begin, _) in itertools.pairwise(spans):
        assert begin >= end, f"two processes held the session lock at once: {spans}"


_CURSOR_WRITER = r"""
import sys, time
from workgraph.chat.store import CURSOR, read_cursor, write_cursor
chat_dir, start = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
for k in range(300):
    write_cursor(chat_dir, CURSOR, k + 1)
    assert read_cursor(chat_dir, CURSOR) > 0
"""


def test_consumers_refresh_the_cursor_concurrently(tmp_path: Path) -> None:
    """Two consumers (``wg chat attach`` and a waiting ``wg chat "msg"``) write ``.cursor`` at once:
    neither fails (a shared temp file renamed away under the other) and the cursor never reads empty."""
    chat_dir = tmp_path / "chat"
    chat_dir.mkdir()
    start = time.time() + 0.6
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CURSOR_WRITER, str(chat_dir), str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    for p in procs:
        _, err = p.communicate(timeout=60)
        assert p.returncode == 0, err
    assert (chat_dir / ".cursor").read_text() == "300\n"
    assert sorted(os.listdir(chat_dir)) == [".cursor"]
