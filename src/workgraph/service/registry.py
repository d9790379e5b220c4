"""The agent registry ``service/registry.json`` (spec service 2.2).

Writes: ``flock`` on ``.registry.lock``, read, modify, ``.registry.json.tmp``, fsync, rename. Readers never lock.
A file that does not parse is treated as empty by readers (one warning line); the next writer moves it to
``registry.json.corrupt-<UTC yyyymmddThhmmssZ>`` and rebuilds the entries from ``$WG/agents/*/metadata.json``.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys

from .files import ServicePaths, pid_alive, proc_start_time, read_json, same_process

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    T = TypeVar("T")

LIVE_STATUSES = ("starting", "working", "idle", "frozen")
_AGENT_DIR = re.compile(r"^agent-(\d+)$")
_WARNED: set[str] = set()  # registry paths whose unreadable state this process has already reported


def _stderr_log(level: str, message: str) -> None:
    print(f"Warning: {message}", file=sys.stderr)


class Registry:
    def __init__(self, paths: ServicePaths, log: Callable[[str, str], None] | None = None) -> None:
        self.paths = paths
        self.log = log or _stderr_log

    def _read(self) -> tuple[dict[str, Any], str | None]:
        """The parsed file (``{}`` when absent), and the parse error of a file that is unreadable."""
        try:
            with open(self.paths.registry, encoding="utf-8") as fh:
                text = fh.read()
        except FileNotFoundError:
            return {}, None
        except (OSError, UnicodeDecodeError) as exc:
            return {}, str(exc)
        try:
            data = json.loads(text)
        except ValueError as exc:
            return {}, str(exc)
        if not isinstance(data, dict):
            return {}, "not a JSON object"
        return data, None

    def corrupt(self) -> bool:
        return self._read()[1] is not None

    def repair(self) -> bool:
        """Move an unreadable registry aside and rebuild it now (the daemon does this first in every tick)."""
        if not self.corrupt():
            return False
        self.transaction(lambda data: None)
        return True

    def load(self) -> dict[str, Any]:
        data, err = self._read()
        if err is not None:
            if self.paths.registry not in _WARNED:
                _WARNED.add(self.paths.registry)
                self.log("WARN", f"Registry unreadable ({err}); treating it as empty")
        else:
            _WARNED.discard(self.paths.registry)
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
            if self.corrupt():
                self._move_aside_and_rebuild()
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

    def _move_aside_and_rebuild(self) -> None:
        """Spec 2.2: called with the lock held on an unreadable ``registry.json``."""
        import time

        err = self._read()[1]
        name = f"registry.json.corrupt-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}"
        target, n = os.path.join(self.paths.dir, name), 1
        while os.path.exists(target):  # two corruptions within one second: keep both
            n += 1
            target = os.path.join(self.paths.dir, f"{name}.{n}")
        os.replace(self.paths.registry, target)
        data = self.rebuild()
        tmp = os.path.join(self.paths.dir, ".registry.json.tmp")
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(data, indent=2, ensure_ascii=False))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.paths.registry)
        _WARNED.discard(self.paths.registry)
        shown = os.path.basename(target)
        self.log("WARN", f"Registry unreadable ({err}); moved to {shown}; rebuilt from agent metadata")

    def rebuild(self) -> dict[str, Any]:
        """Entries from ``$WG/agents/*/metadata.json``: a pid still running that agent's ``run.sh`` →
        ``working``, else ``dead``."""
        from ..timeutil import format_ts, now_ns
        from .procs import cmdline_has

        agents: dict[str, Any] = {}
        try:
            names = os.listdir(self.paths.agents)
        except OSError:
            names = []
        for name in sorted(names, key=lambda n: int(m.group(1)) if (m := _AGENT_DIR.match(n)) else -1):
            adir = os.path.join(self.paths.agents, name)
            meta = read_json(os.path.join(adir, "metadata.json")) if _AGENT_DIR.match(name) else None
            if not meta:
                continue
            entry: dict[str, Any] = {"id": name}
            for key in ("task_id", "executor", "model", "started_at", "worktree_path"):
                if meta.get(key) is not None:
                    entry[key] = meta[key]
            entry["last_heartbeat"] = entry.get("started_at")
            entry["output_file"] = os.path.join(adir, "output.log")
            pid = meta.get("pid")
            if isinstance(pid, int) and pid > 0:
                entry["pid"] = entry["pgid"] = pid
            run_sh = os.path.join(adir, "run.sh")
            if isinstance(pid, int) and pid > 0 and pid_alive(pid) and cmdline_has(pid, run_sh):
                entry["pid_start_time"] = proc_start_time(pid)
                entry["status"] = "working"
                entry["last_heartbeat"] = format_ts(now_ns())
            else:
                entry["status"] = "dead"
            agents[name] = entry
        return {"agents": agents, "next_agent_id": self.highest_agent_dir() + 1}

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
