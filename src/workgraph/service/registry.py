"""The agent registry ``service/registry.json`` (spec service 2.2).

Writes: ``flock`` on ``.registry.lock``, read, modify, ``.registry.json.tmp``, fsync, rename. Readers never lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import re

from .files import ServicePaths, proc_start_time, same_process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

LIVE_STATUSES = ("starting", "working", "idle", "frozen")
_AGENT_DIR = re.compile(r"^agent-(\d+)$")


class Registry:
    def __init__(self, paths: ServicePaths) -> None:
        self.paths = paths

    def load(self) -> dict[str, Any]:
        try:
            with open(self.paths.registry, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict):
            data = {}
        if not isinstance(data.get("agents"), dict):
            data["agents"] = {}
        if not isinstance(data.get("next_agent_id"), int):
            data["next_agent_id"] = 1
        return data

    def transaction(self, change: Callable[[dict[str, Any]], T]) -> T:
        os.makedirs(self.paths.dir, exist_ok=True)
        fd = os.open(self.paths.registry_lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            data = self.load()
            result = change(data)
            tmp = os.path.join(self.paths.dir, ".registry.json.tmp")
            wfd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                os.write(wfd, json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8"))
                os.fsync(wfd)
            finally:
                os.close(wfd)
            os.replace(tmp, self.paths.registry)
            return result
        finally:
            os.close(fd)

    def highest_agent_dir(self) -> int:
        try:
            names = os.listdir(self.paths.agents)
        except OSError:
            return 0
        best = 0
        for name in names:
            m = _AGENT_DIR.match(name)
            if m:
                best = max(best, int(m.group(1)))
        return best

    def reserve(self, entry: dict[str, Any]) -> str:
        """Allocate ``agent-N`` (never reused) and write its ``starting`` entry."""

        def change(data: dict[str, Any]) -> str:
            n = max(int(data["next_agent_id"]), 1 + self.highest_agent_dir())
            data["next_agent_id"] = n + 1
            agent_id = f"agent-{n}"
            # who is spawning it: a starting entry whose spawner died is known dead at once (5.9)
            spawner = {"spawner_pid": os.getpid(), "spawner_start_time": proc_start_time(os.getpid())}
            data["agents"][agent_id] = {"id": agent_id, "status": "starting", **spawner, **entry}
            return agent_id

        return self.transaction(change)

    def update(self, agent_id: str, **fields: Any) -> None:
        def change(data: dict[str, Any]) -> None:
            entry = data["agents"].get(agent_id)
            if entry is None:
                return
            for key, value in fields.items():
                if value is None:
                    entry.pop(key, None)
                else:
                    entry[key] = value

        self.transaction(change)

    def delete(self, agent_id: str) -> None:
        self.transaction(lambda data: data["agents"].pop(agent_id, None))


def entry_live(entry: dict[str, Any], now_s: float) -> bool:
    """Spec service 1: a live status with the recorded process alive, or ``starting`` for at most 60 s."""
    status = entry.get("status")
    if status == "starting" and not entry.get("pid"):
        from ..timeutil import parse_ts

        started = parse_ts(entry.get("started_at"))
        return started is not None and now_s - started / 1e9 <= 60
    if status not in LIVE_STATUSES:
        return False
    pid = entry.get("pid")
    return isinstance(pid, int) and same_process(pid, entry.get("pid_start_time"))
