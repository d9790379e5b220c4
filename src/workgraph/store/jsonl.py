"""The default store: ``.wg/graph.jsonl`` (spec core 3.1, 8).

Writers hold an exclusive ``flock`` on ``graph.lock`` from load to rename; the new file is written to
``.graph.tmp.<pid>``, fsynced, renamed over ``graph.jsonl`` and the directory fsynced, so a reader (which
never locks) sees either the old or the new file. Untouched canonical lines are written back byte for byte.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import random
import sys
import time

from ..errors import CorruptGraph, LockError, WgError
from ..graph import Graph
from ..model import RecordError, canonical, dumps_line, normalize
from ..timeutil import format_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, TypeVar

    from ..model import Record

    T = TypeVar("T")

GRAPH_FILE = "graph.jsonl"
LOCK_FILE = "graph.lock"
BIG_FILE = 2_000_000  # above this, orjson's faster parse repays its ~16 ms import
# A line holding any of these was not written compactly by us or the original: re-serialize it.
_SPACED = ('": ', '", "', '" :', "{ ", " }", "\t", ", {", "[ ", ' ,"')


def _loads_many(lines: list[str], big: bool) -> list[Any] | None:
    blob = "[" + ",".join(lines) + "]"
    try:
        if big:
            import orjson

            return orjson.loads(blob)  # type: ignore[no-any-return]
        return json.loads(blob)  # type: ignore[no-any-return]
    except ValueError:
        return None


class ParsedGraph:
    """A loaded graph plus what the writer needs: canonical raw lines and load warnings."""

    __slots__ = ("graph", "raw", "warnings")

    def __init__(self, graph: Graph, raw: dict[str, str], warnings: list[str]) -> None:
        self.graph, self.raw, self.warnings = graph, raw, warnings


def parse_graph(text: str, filename: str = GRAPH_FILE) -> ParsedGraph:
    """Parse graph.jsonl text; raise CorruptGraph naming the 1-based physical line."""
    physical = text.split("\n")
    lines: list[str] = []
    numbers: list[int] = []
    for n, line in enumerate(physical, 1):
        s = line.strip()
        if not s or s[0] == "#":
            continue
        lines.append(s)
        numbers.append(n)
    objs = _loads_many(lines, len(text) > BIG_FILE)
    if objs is None:  # find the first bad line
        objs = []
        for s, n in zip(lines, numbers, strict=True):
            try:
                objs.append(json.loads(s))
            except ValueError as exc:
                raise CorruptGraph(filename, n, f"invalid JSON: {exc}") from None
    records: dict[str, Record] = {}
    raw: dict[str, str] = {}
    warnings: list[str] = []
    for obj, s, n in zip(objs, lines, numbers, strict=True):
        if type(obj) is dict and obj.get("kind") == "actor":
            continue
        try:
            rec, changed = normalize(obj)
        except RecordError as exc:
            raise CorruptGraph(filename, n, str(exc)) from None
        rid = rec["id"]
        if rid in records:
            warnings.append(
                f"Warning: duplicate node ID '{rid}' at line {n} (overwriting previous definition)"
            )
            raw.pop(rid, None)
        records[rid] = rec
        if not changed and not any(p in s for p in _SPACED):
            raw[rid] = s
    return ParsedGraph(Graph(records), raw, warnings)


def render_graph(graph: Graph, raw: dict[str, str]) -> str:
    out: list[str] = []
    touched = graph.touched
    for rid, rec in graph.records.items():
        line = raw.get(rid) if rid not in touched else None
        out.append(line if line is not None else dumps_line(rec))
    return "".join(line + "\n" for line in out)


def _content_changed(old: Record | None, new: Record) -> bool:
    if old is None:
        return True
    if old is new:
        return False
    if len(old) != len(new):
        return True
    for key, value in new.items():
        if key != "last_interaction_at" and (key not in old or old[key] != value):
            return True
    return False


class JsonlStore:
    """``Store`` over ``<wg_dir>/graph.jsonl``."""

    def __init__(self, wg_dir: str) -> None:
        self.dir = wg_dir
        self.path = os.path.join(wg_dir, GRAPH_FILE)
        self.lock_path = os.path.join(wg_dir, LOCK_FILE)
        self.warnings: list[str] = []

    def exists(self) -> bool:
        return os.path.isfile(self.path)

    # -- reading ------------------------------------------------------------------------------
    def _read(self) -> ParsedGraph:
        try:
            with open(self.path, encoding="utf-8", newline="") as fh:
                text = fh.read()
        except FileNotFoundError:
            from ..errors import NotInitialized

            raise NotInitialized() from None
        except UnicodeDecodeError as exc:
            line = 1 + self._line_of_byte(exc.start)
            raise CorruptGraph(GRAPH_FILE, line, "invalid UTF-8") from None
        except OSError as exc:
            raise WgError(f"Failed to read {self.path}: {exc.strerror}") from None
        parsed = parse_graph(text)
        for w in parsed.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
                print(w, file=sys.stderr)
        return parsed

    def _line_of_byte(self, offset: int) -> int:
        with open(self.path, "rb") as fh:
            return fh.read(offset).count(b"\n")

    def load(self) -> Graph:
        return self._read().graph

    # -- writing ------------------------------------------------------------------------------
    def _lock(self) -> int:
        budget_ms = _env_int("WG_LOCK_RETRY_BUDGET_MS", 5000)
        delay_ms = _env_int("WG_LOCK_INITIAL_DELAY_MS", 25)
        try:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            raise LockError(
                f'Lock error: Failed to open lock file "{self.lock_path}": {exc.strerror}'
            ) from None
        start = time.monotonic()
        retries = 0
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                return fd
            except OSError as exc:
                if exc.errno not in (errno.EINTR, errno.EAGAIN, errno.EIO, errno.ENOLCK):
                    os.close(fd)
                    raise LockError(
                        f'Lock error: Failed to acquire lock on "{self.lock_path}": {exc}'
                    ) from None
                elapsed = (time.monotonic() - start) * 1000
                if elapsed >= budget_ms:
                    os.close(fd)
                    raise LockError(
                        f'Lock error: Failed to acquire lock on "{self.lock_path}": acquire lock failed after '
                        f"{retries} retries over {int(elapsed)}ms: {exc.strerror}"
                    ) from None
                retries += 1
                time.sleep(min(delay_ms * random.uniform(0.5, 1.5), 500) / 1000)
                delay_ms = min(delay_ms * 2, 500)

    def transaction(self, change: Callable[[Graph], T], now: int) -> T:
        fd = self._lock()
        try:
            parsed = self._read()
            graph = parsed.graph
            result = change(graph)
            if graph.touched or graph.removed:
                self._stamp(graph, now)
                if graph.touched or graph.removed:
                    self._write(render_graph(graph, parsed.raw))
            return result
        finally:
            os.close(fd)  # releases the flock

    @staticmethod
    def _stamp(graph: Graph, now: int) -> None:
        """Stamp ``last_interaction_at`` on records whose content changed; forget puts that changed nothing."""
        stamp = format_ts(now)
        for rid in list(graph.touched):
            rec = graph.records[rid]
            old = graph.loaded.get(rid)
            if rec.get("kind") != "task":
                if old == rec:
                    graph.touched.discard(rid)
                continue
            if old is None:
                rec.setdefault("last_interaction_at", rec.get("created_at") or stamp)
            elif _content_changed(old, rec):
                rec["last_interaction_at"] = stamp
            elif old.get("last_interaction_at") == rec.get("last_interaction_at"):
                graph.touched.discard(rid)  # an explicit bump (wg msg send) keeps its own stamp
            graph.records[rid] = canonical(rec)

    def _write(self, text: str) -> None:
        tmp = os.path.join(self.dir, f".graph.tmp.{os.getpid()}")
        data = text.encode("utf-8")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                view = memoryview(data)
                while view:
                    n = os.write(fd, view)
                    view = view[n:]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.path)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise WgError(f"Failed to write {self.path}: {exc.strerror}") from None
        dfd = os.open(self.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    # -- convenience transactions ---------------------------------------------------------------
    def claim(self, task_id: str, actor: str | None, now: int) -> Record:
        from ..transitions import claim

        return self.transaction(lambda g: claim(g, task_id, actor, now), now)

    def append_log(self, task_id: str, entry: Record, now: int) -> None:
        from ..transitions import append_log

        self.transaction(lambda g: append_log(g, task_id, entry), now)

    def record_operation(self, op: str, now: int, **fields: Any) -> None:
        from ..oplog import append_operation

        append_operation(self.dir, op, now, **fields)


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default
