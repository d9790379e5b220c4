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
import threading

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
        self._tl = threading.local()
        self._cache: tuple[bytes, dict[str, Any], bool] | None = None  # replaced whole: safe across threads
        self._texts: dict[str, tuple[dict[str, Any], tuple[Any, ...], str]] = {}  # id -> (entry, shape, text)

    def _read(self) -> tuple[dict[str, Any], str | None]:
        """The parsed file (``{}`` when absent), and the parse error of a file that is unreadable.

        The last parsed (or written) content is cached with its exact bytes: a read of the same bytes
        returns a copy of it instead of parsing again (the daemon reads the registry many times a tick)."""
        try:
            with open(self.paths.registry, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            return {}, None
        except OSError as exc:
            return {}, str(exc)
        cached = self._cache
        if cached is not None and cached[0] == raw:
            return (_copy_plain(cached[1]) if cached[2] else _copy(cached[1])), None
        try:
            data = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            return {}, str(exc)
        except ValueError as exc:
            return {}, str(exc)
        if not isinstance(data, dict):
            return {}, "not a JSON object"
        plain = _plain(data)
        self._cache = (raw, _copy_plain(data) if plain else _copy(data), plain)
        return data, None

    def corrupt(self) -> bool:
        cached = self._cache
        if cached is not None:
            try:
                with open(self.paths.registry, "rb") as fh:
                    if fh.read() == cached[0]:
                        return False
            except OSError:
                pass
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
            raw = self._pretty(data).encode("utf-8")
            try:
                view = memoryview(raw)
                while view:
                    view = view[os.write(wfd, view) :]
                os.fsync(wfd)
            finally:
                os.close(wfd)
            os.replace(tmp, self.paths.registry)
            self._cache = (raw, _copy_plain(data), True) if _plain(data) else None
            return result
        finally:
            os.close(fd)

    def _pretty(self, data: dict[str, Any]) -> str:
        """``json.dumps(data, indent=2, ensure_ascii=False)``, reusing the text of entries unchanged since the
        last write (the pure-Python pretty encoder is slow on a registry of many agents)."""
        agents = data.get("agents")
        if not isinstance(agents, dict) or any(type(k) is not str for k in data):
            return json.dumps(data, indent=2, ensure_ascii=False)
        texts: dict[str, tuple[dict[str, Any], tuple[Any, ...], str]] = {}
        parts = []
        for agent_id, entry in agents.items():
            if type(agent_id) is not str:
                return json.dumps(data, indent=2, ensure_ascii=False)
            known = self._texts.get(agent_id)
            # same keys in the same order, same value types (1 == True == 1.0) and equal values
            shape = (*entry, *map(type, entry.values())) if type(entry) is dict else ()
            if known is not None and known[1] == shape and known[0] == entry:
                text = known[2]
                texts[agent_id] = known
            else:
                text = json.dumps(entry, indent=2, ensure_ascii=False).replace("\n", "\n    ")
                if type(entry) is dict and _flat(entry):
                    texts[agent_id] = (dict(entry), shape, text)
            parts.append(f"{json.dumps(agent_id, ensure_ascii=False)}: {text}")
        self._texts = texts
        agents_text = "{\n    " + ",\n    ".join(parts) + "\n  }" if parts else "{}"
        items = []
        for key, value in data.items():
            if key == "agents":
                text = agents_text
            else:
                text = json.dumps(value, indent=2, ensure_ascii=False).replace("\n", "\n  ")
            items.append(f"{json.dumps(key, ensure_ascii=False)}: {text}")
        return "{\n  " + ",\n  ".join(items) + "\n}" if items else "{}"

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
        return self.reserve_many([entry])[0]

    def reserve_many(self, entries: list[dict[str, Any]]) -> list[str]:
        """``reserve`` for several entries in one write: consecutive new ids, in order."""

        def change(data: dict[str, Any]) -> list[str]:
            n = max(int(data["next_agent_id"]), 1 + self.highest_agent_dir())
            # who is spawning it: a starting entry whose spawner died is known dead at once (5.9)
            spawner = {"spawner_pid": os.getpid(), "spawner_start_time": proc_start_time(os.getpid())}
            ids = []
            for entry in entries:
                agent_id = f"agent-{n}"
                n += 1
                data["agents"][agent_id] = {"id": agent_id, "status": "starting", **spawner, **entry}
                ids.append(agent_id)
            data["next_agent_id"] = n
            return ids

        return self.transaction(change)

    def update(self, agent_id: str, **fields: Any) -> None:
        """Set ``fields`` (None deletes a key) on the agent's entry, if it exists. Inside ``defer()`` on this
        thread, the change is queued and written by the next ``flush()``."""
        pending: list[tuple[str, dict[str, Any]]] | None = getattr(self._tl, "pending", None)
        if pending is not None:
            pending.append((agent_id, fields))
            return
        self.transaction(lambda data: _apply(data, [(agent_id, fields)]))

    def defer(self) -> bool:
        """Queue this thread's ``update`` calls until ``flush``/``end_defer`` (one write for a tick's exits or
        spawns). False (and nothing changes) when already deferring."""
        if getattr(self._tl, "pending", None) is not None:
            return False
        self._tl.pending = []
        return True

    def flush(self) -> None:
        """Write the queued updates in one transaction (deferring goes on)."""
        pending: list[tuple[str, dict[str, Any]]] | None = getattr(self._tl, "pending", None)
        if pending:
            self._tl.pending = []
            self.transaction(lambda data: _apply(data, pending))

    def end_defer(self, write: bool = True) -> None:
        """Stop deferring; ``write`` the queued updates first (False drops them)."""
        try:
            if write:
                self.flush()
        finally:
            self._tl.pending = None

    def delete(self, agent_id: str) -> None:
        self.transaction(lambda data: data["agents"].pop(agent_id, None))

    def delete_many(self, agent_ids: list[str]) -> None:
        def change(data: dict[str, Any]) -> None:
            for agent_id in agent_ids:
                data["agents"].pop(agent_id, None)

        self.transaction(change)


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


def _apply(data: dict[str, Any], updates: list[tuple[str, dict[str, Any]]]) -> None:
    for agent_id, fields in updates:
        entry = data["agents"].get(agent_id)
        if entry is None:
            continue
        for key, value in fields.items():
            if value is None:
                entry.pop(key, None)
            else:
                entry[key] = value


_SCALARS = frozenset((str, int, float, bool, type(None)))


def _flat(entry: dict[str, Any]) -> bool:
    return _SCALARS.issuperset(map(type, entry.values()))


def _plain(data: dict[str, Any]) -> bool:
    """Only JSON-native values a parse gives back equal (so the written data may stand for the file)."""
    agents = data.get("agents")
    if not isinstance(agents, dict):
        return False
    for key, value in data.items():
        if type(key) is not str or (key != "agents" and type(value) not in _SCALARS):
            return False
    return all(type(k) is str and type(e) is dict and _flat(e) for k, e in agents.items())


def _copy(data: dict[str, Any]) -> dict[str, Any]:
    """A copy a caller may change freely: the top level, the agents map and each entry (deep for anything
    but a flat entry of scalars, which is all entries normally hold)."""
    import copy

    out = dict(data)
    agents = out.get("agents")
    if isinstance(agents, dict):
        out["agents"] = {
            k: (dict(e) if type(e) is dict and _flat(e) else copy.deepcopy(e)) for k, e in agents.items()
        }
    for key, value in out.items():
        if key != "agents" and type(value) not in _SCALARS:
            out[key] = copy.deepcopy(value)
    return out


def _copy_plain(data: dict[str, Any]) -> dict[str, Any]:
    """``_copy`` of data ``_plain`` accepted: every entry a flat dict."""
    out = dict(data)
    out["agents"] = {k: dict(e) for k, e in data["agents"].items()}
    return out
