"""Concurrent writers of the service's JSON state files (spec service 2.1)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from workgraph.service.files import write_json_atomic


def test_threads_of_one_process_write_a_state_file_at_once(tmp_path: Path) -> None:
    """The daemon's tick thread and its IPC threads (pause, resume, freeze, reconfigure) all save
    ``dispatcher-state.json``: a temp name shared by the threads of one process lets one thread's rename
    move the other's half-written temp into place and fail the other's rename."""
    path = str(tmp_path / "dispatcher-state.json")
    errors: list[BaseException] = []
    torn: list[str] = []
    stop = threading.Event()

    def writer(k: int) -> None:
        try:
            for i in range(400):
                write_json_atomic(path, {"writer": k, "i": i, "pad": "x" * 4096}, pretty=True)
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        while not stop.is_set():
            try:
                with open(path, encoding="utf-8") as fh:
                    text = fh.read()
            except FileNotFoundError:
                continue
            try:
                json.loads(text)
            except ValueError:
                torn.append(text[:80])

    threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
    watcher = threading.Thread(target=reader)
    watcher.start()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    stop.set()
    watcher.join(timeout=60)
    assert not errors, errors[:3]
    assert not torn, torn[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dispatcher-state.json"]
