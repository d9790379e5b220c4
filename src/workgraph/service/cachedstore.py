"""The daemon's graph store: ``JsonlStore`` with a parse cache keyed by the file's exact bytes.

A tick loads the graph several times and writes it a few times; each of those used to parse the whole file.
Here a read compares the bytes it just read with the bytes of the last parse (and of the last write, whose
result is known without parsing) and, when they are equal, hands out a fresh ``Graph`` over copies of the
cached records. Locking, reading and writing are unchanged: every transaction still reads the file under the
lock, so a claim stays a compare-and-set on the state on disk.
"""

from __future__ import annotations

import threading

from ..graph import Graph
from ..model import dumps_line, normalize
from ..store.jsonl import _SPACED, BIG_FILE, JsonlStore, ParsedGraph, render_graph

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..model import Record

    Snapshot = tuple[bytes, dict[str, Record], dict[str, bytes]]


class CachedStore(JsonlStore):
    def __init__(self, wg_dir: str) -> None:
        super().__init__(wg_dir)
        self._snap: Snapshot | None = None  # replaced whole (one assignment): safe across threads
        self._tl = threading.local()

    def _parse(self, data: bytes, for_write: bool = True) -> ParsedGraph:
        snap = self._snap
        if snap is None or snap[0] != data:
            parsed = super()._parse(data, True)
            if len(data) > BIG_FILE:
                return parsed
            snap = (data, dict(parsed.graph.records), parsed.raw)
            self._snap = snap
        out = ParsedGraph(Graph({rid: dict(rec) for rid, rec in snap[1].items()}), snap[2], [])
        if for_write:
            self._tl.parsed = out
        return out

    def transaction(self, change: Any, now: int, lazy: bool = False) -> Any:
        self._tl.parsed = None
        try:
            return super().transaction(change, now, lazy)
        finally:
            self._tl.parsed = None

    def _write(self, pieces: list[bytes | memoryview], validated_lines: int | None = None) -> None:
        super()._write(pieces, validated_lines)
        parsed: ParsedGraph | None = getattr(self._tl, "parsed", None)
        self._tl.parsed = None
        if parsed is not None:
            self._seed(parsed, b"".join(pieces))

    def _seed(self, parsed: ParsedGraph, data: bytes) -> None:
        """Cache what parsing ``data`` (just written from ``parsed``) would give, without parsing the lines
        written back byte for byte; every freshly serialized line is parsed and normalized as a load would."""
        from ..fastjson import loads

        if len(data) > BIG_FILE:
            return
        graph = parsed.graph
        if data != render_graph(graph, parsed.raw):
            return
        records: dict[str, Record] = {}
        raw: dict[str, bytes] = {}
        old_raw = parsed.raw
        touched = graph.touched
        try:
            for rid, rec in graph.records.items():
                line = old_raw.get(rid) if rid not in touched else None
                if line is not None:
                    records[rid] = dict(rec)
                    raw[rid] = line
                    continue
                line = dumps_line(rec).encode("utf-8")
                if line[:1] != b"{" or line[-1:] != b"}" or b"\n" in line:
                    return
                new, changed = normalize(loads(line.decode("utf-8")))
                if new["id"] != rid or new != rec:
                    return
                records[rid] = new
                if not changed and not any(p in line for p in _SPACED):
                    raw[rid] = line
        except Exception:
            return
        self._snap = (data, records, raw)
