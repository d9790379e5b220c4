"""The default store: ``.wg/graph.jsonl`` (spec core 3.1, 8).

Writers hold an exclusive ``flock`` on ``graph.lock`` from load to rename; the new file is written to
``.graph.tmp.<pid>``, fsynced, renamed over ``graph.jsonl`` and the directory fsynced, so a reader (which
never locks) sees either the old or the new file. Untouched canonical lines are written back byte for byte.

After writing a big file whose every line a full load would take back unchanged, the writer records the
file's identity (inode, size, mtime, ctime) and line count in ``.graph.validated``. ``wg add`` on a file
matching it in every field skips the full parse (store/lazy.py); any other file (a hand edit, another tool,
a checkout) takes the full path, so a corrupt file is still never rewritten.
"""

from __future__ import annotations

import errno
import fcntl
import os
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
# The identity (stat) of the graph file the last wg writer wrote and validated, plus its line count: a file
# matching it in every field may take the add fast path (store/lazy.py). Only a cache: no fsync.
VALIDATED_FILE = ".graph.validated"
VALIDATED_VERSION = 1
FRESH_CHECK_LIMIT = 1000  # a rewrite with more freshly serialized lines than this is not stamped
BIG_FILE = 2_000_000  # above this, orjson's faster parse repays its ~16 ms import
# Pretty or hand-spaced JSON always has a space beside a key's colon; a line holding either pattern is
# re-serialized on the next write (two searches: this runs on every write transaction).
_SPACED = (b'": ', b'" :')


class ParsedGraph:
    """A loaded graph plus what the writer needs: canonical raw lines and load warnings."""

    __slots__ = ("graph", "raw", "warnings")

    def __init__(self, graph: Graph, raw: dict[str, bytes], warnings: list[str]) -> None:
        self.graph, self.raw, self.warnings = graph, raw, warnings


def _split(data: bytes) -> tuple[list[bytes], list[int]]:
    """Lines holding a record, and their 1-based physical line numbers (blank and ``#`` lines skipped)."""
    lines: list[bytes] = []
    numbers: list[int] = []
    for n, line in enumerate(data.split(b"\n"), 1):
        if line[:1] != b"{" or line[-1:] != b"}":  # not the common compact form: look closer
            line = line.strip()
            if not line or line[:1] == b"#":
                continue
        lines.append(line)
        numbers.append(n)
    return lines, numbers


def _parse_lines(lines: list[bytes], numbers: list[int], big: bool, filename: str) -> list[Any]:
    """One parse per line, so an object can never straddle lines; names the first line that fails."""
    try:
        if big:
            import orjson

            return [orjson.loads(line) for line in lines]
        return _scan_lines(lines)
    except (ValueError, StopIteration):
        pass
    import json

    for line, n in zip(lines, numbers, strict=True):
        try:
            json.loads(line)
        except UnicodeDecodeError:
            raise CorruptGraph(filename, n, "invalid UTF-8") from None
        except ValueError as exc:
            raise CorruptGraph(filename, n, f"invalid JSON: {exc}") from None
        if big:  # orjson is stricter than json in a few corners (e.g. integers beyond 64 bits)
            try:
                orjson.loads(line)
            except ValueError as exc:
                raise CorruptGraph(filename, n, f"invalid JSON: {exc}") from None
    raise AssertionError("unreachable: some line failed to parse")


def _scan_lines(lines: list[bytes]) -> list[Any]:
    """json's C scanner on each line (fastjson): ``json.loads`` without importing ``json``."""
    from ..fastjson import loads

    return [loads(raw_line.decode("utf-8")) for raw_line in lines]


def parse_graph(data: bytes | str, filename: str = GRAPH_FILE, for_write: bool = True) -> ParsedGraph:
    """Parse graph.jsonl content; raise CorruptGraph naming the 1-based physical line.

    ``for_write=False`` (plain readers) skips finding the lines a rewrite could reuse byte for byte.
    """
    if isinstance(data, str):
        data = data.encode("utf-8")
    import gc

    gc_was_enabled = gc.isenabled()
    gc.disable()  # records hold no cycles; collections during a big load only cost time
    try:
        return _parse(data, filename, for_write)
    finally:
        if gc_was_enabled:
            gc.enable()


def _parse(data: bytes, filename: str, for_write: bool = True) -> ParsedGraph:
    big = len(data) > BIG_FILE
    lines, numbers = _split(data)
    objs = _parse_lines(lines, numbers, big, filename)
    # Which untouched lines can be written back as they are: exactly the compact form for big files
    # (orjson makes that check cheap), a look for non-compact spacing otherwise.
    if big:
        import orjson

        dumps: Callable[[Any], bytes] = orjson.dumps
        spaced = False
    else:
        dumps = _dumps_bytes
        spaced = for_write and any(p in data for p in _SPACED)
    records: dict[str, Record] = {}
    raw: dict[str, bytes] = {}
    warnings: list[str] = []
    for obj, line, n in zip(objs, lines, numbers, strict=True):
        try:
            rec, changed = normalize(obj)
        except RecordError as exc:
            if type(obj) is dict and obj.get("kind") == "actor":
                continue  # legacy actor rows are dropped
            raise CorruptGraph(filename, n, str(exc)) from None
        rid = rec["id"]
        if rid in records:
            warnings.append(
                f"Warning: duplicate node ID '{rid}' at line {n} (overwriting previous definition)"
            )
            raw.pop(rid, None)
        records[rid] = rec
        if changed or not for_write:
            continue
        if big:
            if dumps(rec) == line:
                raw[rid] = line
        elif not spaced or not any(p in line for p in _SPACED):
            raw[rid] = line
    return ParsedGraph(Graph(records), raw, warnings)


def _dumps_bytes(rec: Record) -> bytes:
    return dumps_line(rec).encode("utf-8")


def render_graph(graph: Graph, raw: dict[str, bytes]) -> bytes:
    """The file content: untouched canonical lines byte for byte, the rest freshly serialized."""
    out: list[bytes] = []
    touched = graph.touched
    for rid, rec in graph.records.items():
        line = raw.get(rid) if rid not in touched else None
        out.append(line if line is not None else dumps_line(rec).encode("utf-8"))
    if not out:
        return b""
    out.append(b"")
    return b"\n".join(out)


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

    # Set by the CLI (one command per process): after a big load, move the records out of the cyclic
    # GC's reach with ``gc.freeze()``. Long-lived processes (daemon, TUI) leave it off.
    freeze_gc = False

    def __init__(self, wg_dir: str) -> None:
        self.dir = wg_dir
        self.path = os.path.join(wg_dir, GRAPH_FILE)
        self.lock_path = os.path.join(wg_dir, LOCK_FILE)
        self.warnings: list[str] = []

    def exists(self) -> bool:
        return os.path.isfile(self.path)

    # -- reading ------------------------------------------------------------------------------
    def _read_bytes(self) -> tuple[bytes, os.stat_result]:
        try:
            with open(self.path, "rb") as fh:
                st = os.fstat(fh.fileno())
                data = fh.read()
        except FileNotFoundError:
            from ..errors import NotInitialized

            raise NotInitialized() from None
        except OSError as exc:
            raise WgError(f"Failed to read {self.path}: {exc.strerror}") from None
        return data, st

    def _read(self, for_write: bool = True) -> ParsedGraph:
        return self._parse(self._read_bytes()[0], for_write)

    def _parse(self, data: bytes, for_write: bool = True) -> ParsedGraph:
        parsed = parse_graph(data, for_write=for_write)
        if self.freeze_gc and len(data) > BIG_FILE:
            import gc

            # Millions of just-loaded, acyclic objects: keep the cyclic collector from re-scanning them
            # for the rest of this short-lived process (halves `wg ready` on 100k tasks).
            gc.freeze()
        for w in parsed.warnings:
            if w not in self.warnings:
                self.warnings.append(w)
                print(w, file=sys.stderr)
        return parsed

    def load(self) -> Graph:
        return self._read(for_write=False).graph

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
                import random

                retries += 1
                time.sleep(min(delay_ms * random.uniform(0.5, 1.5), 500) / 1000)
                delay_ms = min(delay_ms * 2, 500)

    def transaction(self, change: Callable[[Graph], T], now: int, lazy: bool = False) -> T:
        """Lock, load, ``change``, write what it touched.

        ``lazy=True`` (``wg add``) allows the fast path on a big file matching its validation stamp: the
        graph parses records on first access. ``change`` must then be pure, as it may run a second time on a
        fully loaded graph when the file turns out not to be what the stamp promised.
        """
        fd = self._lock()
        try:
            data, st = self._read_bytes()
            if lazy and len(data) > BIG_FILE and len(data) == st.st_size:
                lines = self._validated_lines(st)
                if lines is not None:
                    done = self._fast_transaction(data, lines, change, now)
                    if done is not None:
                        return done[0]
            parsed = self._parse(data)
            graph = parsed.graph
            result = change(graph)
            if graph.touched or graph.removed:
                self._stamp(graph, now)
                if graph.touched or graph.removed:
                    out = render_graph(graph, parsed.raw)
                    count = None
                    if len(data) > BIG_FILE:  # every reused line is one a full load writes back as is
                        count = _certified_count(graph, parsed.raw)
                    self._write([out], count)
            return result
        finally:
            os.close(fd)  # releases the flock

    def _fast_transaction(
        self, data: bytes, lines: int, change: Callable[[Graph], T], now: int
    ) -> tuple[T] | None:
        """The lazy path (store/lazy.py); None when the full path must run instead."""
        from .lazy import Distrust, LazyGraph, build_index, certify

        index = build_index(data, lines)
        if index is None:
            return None
        graph = LazyGraph(data, *index)
        try:
            result = change(graph)
            if not (graph.touched or graph.removed):
                return (result,)
            self._stamp(graph, now)
            if not (graph.touched or graph.removed):
                return (result,)
            pieces, fresh = graph.lazy.render(graph.touched)
        except Distrust:
            return None
        self._write(pieces, len(graph.lazy) if certify(fresh) else None)
        return (result,)

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

    def _write(self, pieces: list[bytes | memoryview], validated_lines: int | None = None) -> None:
        """Write ``pieces`` atomically; ``validated_lines`` (the record count) stamps the new file as
        validated, None removes any stamp."""
        tmp = os.path.join(self.dir, f".graph.tmp.{os.getpid()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
            try:
                for piece in pieces:
                    view = memoryview(piece)
                    while view:
                        n = os.write(fd, view)
                        view = view[n:]
                os.fsync(fd)
                os.replace(tmp, self.path)
                st = os.fstat(fd)
            finally:
                os.close(fd)
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
        self._record_validated(st if validated_lines is not None else None, validated_lines or 0)

    # -- the validation stamp -------------------------------------------------------------------
    def _validated_lines(self, st: os.stat_result) -> int | None:
        """The stamp's line count when ``st`` is exactly the file it describes."""
        from ..fastjson import loads

        try:
            with open(os.path.join(self.dir, VALIDATED_FILE), "rb") as fh:
                stamp = loads(fh.read().decode("utf-8"))
        except (OSError, ValueError):
            return None
        if type(stamp) is not dict or stamp.get("v") != VALIDATED_VERSION:
            return None
        if any(stamp.get(k) != v for k, v in _identity(st).items()):
            return None
        lines = stamp.get("lines")
        return lines if type(lines) is int else None

    def _record_validated(self, st: os.stat_result | None, lines: int) -> None:
        """Stamp the file just written (if it is still the one at ``self.path``), or drop the stamp."""
        path = os.path.join(self.dir, VALIDATED_FILE)
        try:
            if st is None or _identity(os.stat(self.path)) != _identity(st):
                os.unlink(path)
                return
            from ..fastjson import dumps

            tmp = f"{path}.tmp.{os.getpid()}"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(dumps({"v": VALIDATED_VERSION, **_identity(st), "lines": lines}) + "\n")
            os.replace(tmp, path)
        except OSError:  # a cache: at worst the next add takes the full path
            pass

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


def _identity(st: os.stat_result) -> dict[str, int]:
    return {
        "st_ino": st.st_ino,
        "st_size": st.st_size,
        "st_mtime_ns": st.st_mtime_ns,
        "st_ctime_ns": st.st_ctime_ns,
    }


def _certified_count(graph: Graph, raw: dict[str, bytes]) -> int | None:
    """After a full big-file rewrite: the record count when each freshly serialized line would load back
    unchanged and be written back byte for byte (reused lines are exactly their compact form), else None."""
    from .lazy import certify

    records = graph.records
    fresh = (records.keys() - raw.keys()) | (graph.touched & records.keys())
    if len(fresh) > FRESH_CHECK_LIMIT:
        return None
    return len(records) if certify([dumps_line(records[rid]).encode("utf-8") for rid in fresh]) else None


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:
        return default
