"""The ``wg add`` fast path on a big, already validated ``graph.jsonl`` (see ``jsonl.JsonlStore``).

A file whose identity matches ``.graph.validated`` is exactly the bytes a wg writer produced and fully
validated: every line is a canonical record that a full load would accept unchanged and a full rewrite
would write back byte for byte, ids are unique, there are no blank or comment lines. So an add need not
parse 100k lines: ids are sliced from each line's canonical prefix, the few records the add reads are parsed
on first access, and the new file is the old bytes with the touched lines replaced and new lines appended.
Any doubt (a line that does not parse back unchanged, an operation that needs every record's content)
either parses everything (``LazyRecords.values``) or raises ``Distrust`` to send the transaction down the
full path; results are identical either way (tests/store/test_fast_add.py).
"""

from __future__ import annotations

from ..fastjson import dumps, loads
from ..graph import Graph
from ..model import RecordError, dumps_line, normalize

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..model import Record

# The canonical start of every task line (and of resources written by wg): kind, then the id.
_PREFIX = rb'\{"kind":"(?:task|resource)","id":"([^"\\\n]*)"'
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1  # what the big-file loader (orjson) accepts


class Distrust(Exception):
    """The file is not what its validation stamp promised: use the full path."""


def build_index(data: bytes, lines: int) -> tuple[dict[str, int], list[int] | None] | None:
    """Id -> line number in file order, and the lines' offsets when already known (else found on demand);
    None when the file does not hold exactly ``lines`` records with unique ids."""
    import re

    if not data:
        return ({}, []) if lines == 0 else None
    if data[-1:] != b"\n":
        return None
    try:
        first = re.compile(_PREFIX).match(data)
        if first is not None:
            ids = [first[1], *re.findall(b"\n" + _PREFIX, data)]
            if len(ids) == lines:
                pos = dict(zip(map(bytes.decode, ids), range(lines), strict=True))
                if len(pos) == lines:
                    return pos, None
        return _index_lines(data, lines)
    except ValueError:  # (UnicodeDecodeError included)
        return None


def _line_starts(data: bytes) -> list[int]:
    """Offsets of the lines of a file whose every line has the canonical prefix (as ``build_index`` saw)."""
    import re

    return [0, *(m.start() + 1 for m in re.finditer(b"\n" + _PREFIX, data))]


def _index_lines(data: bytes, lines: int) -> tuple[dict[str, int], list[int]] | None:
    """The slow index: line by line, parsing the lines without the canonical prefix (rare)."""
    import re

    prefix = re.compile(_PREFIX)
    pos: dict[str, int] = {}
    starts: list[int] = []
    at, end = 0, len(data)
    while at < end:
        stop = data.index(b"\n", at)
        m = prefix.match(data, at, stop)
        if m is not None:
            rid = m[1].decode()
        else:
            obj = loads(data[at:stop].decode())
            rid = obj.get("id") if type(obj) is dict else None
            if type(rid) is not str:
                return None
        if rid in pos:
            return None
        pos[rid] = len(starts)
        starts.append(at)
        at = stop + 1
    return (pos, starts) if len(starts) == lines else None


class LazyRecords:
    """``Graph.records`` over a validated file: the dict operations the graph uses, parsing on demand.

    Mirrors dict semantics exactly: a replaced id keeps its position, a new (or removed then re-added) id
    goes to the end. ``values``/``items`` parse every line.
    """

    __slots__ = ("_data", "_dead", "_new", "_orig", "_over", "_spans", "_starts")

    def __init__(self, data: bytes, spans: dict[str, int], starts: list[int] | None = None) -> None:
        self._data = data
        self._spans = spans  # original ids -> line number, file order
        self._starts = starts  # line number -> offset (computed on first need)
        self._orig: dict[str, Record] = {}  # parsed original records
        self._over: dict[str, Record] = {}  # replaced records of original ids still in place
        self._dead: set[str] = set()  # original ids removed
        self._new: dict[str, Record] = {}  # appended ids

    # -- the original file --------------------------------------------------------------------
    def start(self, rid: str) -> int:
        if self._starts is None:
            self._starts = _line_starts(self._data)
            if len(self._starts) != len(self._spans):
                raise Distrust("line count")
        return self._starts[self._spans[rid]]

    def original(self, rid: str) -> Record | None:
        rec = self._orig.get(rid)
        if rec is None and rid in self._spans:
            start = self.start(rid)
            rec = self._parse(self._data[start : self._data.index(b"\n", start)], rid)
        return rec

    def _parse(self, line: bytes, rid: str | None) -> Record:
        """The record of an original line (cached); Distrust when it does not load back unchanged."""
        try:
            rec, changed = normalize(loads(line.decode()))
        except (ValueError, RecordError):
            raise Distrust(rid) from None
        got = rec.get("id")
        if changed or type(got) is not str or got not in self._spans or (rid is not None and got != rid):
            raise Distrust(rid)
        if dumps_line(rec).encode("utf-8") != line:  # (orjson's spelling of a float may also land here)
            raise Distrust(rid)
        return self._orig.setdefault(got, rec)

    def _live(self, rid: str) -> bool:
        return rid in self._spans and rid not in self._dead

    # -- dict interface -------------------------------------------------------------------------
    def __contains__(self, rid: object) -> bool:
        return rid in self._new or (rid in self._spans and rid not in self._dead)

    def get(self, rid: str, default: Record | None = None) -> Record | None:
        if rid in self._new:
            return self._new[rid]
        if self._live(rid):
            rec = self._over.get(rid)
            return rec if rec is not None else self.original(rid)
        return default

    def __getitem__(self, rid: str) -> Record:
        rec = self.get(rid)
        if rec is None:
            raise KeyError(rid)
        return rec

    def __setitem__(self, rid: str, rec: Record) -> None:
        if self._live(rid):
            self._over[rid] = rec
        else:
            self._new[rid] = rec

    def pop(self, rid: str, default: Record | None = None) -> Record | None:
        if rid in self._new:
            return self._new.pop(rid)
        if self._live(rid):
            rec = self[rid]
            self._dead.add(rid)
            self._over.pop(rid, None)
            return rec
        return default

    def __len__(self) -> int:
        return len(self._spans) - len(self._dead) + len(self._new)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def keys(self) -> list[str]:
        dead = self._dead
        live = [r for r in self._spans if r not in dead] if dead else list(self._spans)
        return live + list(self._new)

    def values(self) -> list[Record]:
        return [self[r] for r in self.keys()]

    def items(self) -> list[tuple[str, Record]]:
        return [(r, self[r]) for r in self.keys()]

    # -- the fast path's own needs ----------------------------------------------------------------
    def changed(self) -> list[str]:
        """Live ids put since loading."""
        return [*self._over, *self._new]

    def order(self, rid: str) -> tuple[int, int]:
        """Sort key of a live id: file position, then new ids in insertion order."""
        if rid in self._new:
            return (1, list(self._new).index(rid))
        return (0, self._spans[rid])

    def containing(self, needle: bytes) -> list[str]:
        """Original ids whose line holds ``needle`` after an ``"after":[`` (a substring search over the file):
        every line whose record lists ``needle`` in its ``after``, and maybe a few others."""
        data = self._data
        out: list[str] = []
        at = data.find(needle)
        while at >= 0:
            stop = data.index(b"\n", at)
            start = data.rfind(b"\n", 0, at) + 1
            if data.find(b'"after":[', start, at) < 0:  # not inside the ``after`` list: look further
                at = data.find(needle, at + 1)
                continue
            out.append(self._parse(data[start:stop], None)["id"])
            at = data.find(needle, stop)
        return out

    def render(self, touched: set[str]) -> tuple[list[bytes | memoryview], list[bytes]]:
        """The new file as pieces (old bytes between rewritten lines), and the freshly written lines."""
        data = self._data
        cut: list[tuple[int, str | None]] = [(self.start(r), r) for r in self._over if r in touched]
        cut.extend((self.start(r), None) for r in self._dead)
        cut.sort(key=lambda c: c[0])
        view = memoryview(data)
        pieces: list[bytes | memoryview] = []
        fresh: list[bytes] = []
        at = 0
        for start, rid in cut:
            pieces.append(view[at:start])
            at = data.index(b"\n", start) + 1
            if rid is not None:
                line = dumps_line(self._over[rid]).encode("utf-8") + b"\n"
                pieces.append(line)
                fresh.append(line)
        pieces.append(view[at:])
        for rec in self._new.values():
            line = dumps_line(rec).encode("utf-8") + b"\n"
            pieces.append(line)
            fresh.append(line)
        return pieces, fresh


class _Loaded:
    """``Graph.loaded`` for a lazy graph: the records as they were in the file."""

    __slots__ = ("records",)

    def __init__(self, records: LazyRecords) -> None:
        self.records = records

    def get(self, rid: str, default: Record | None = None) -> Record | None:
        rec = self.records.original(rid)
        return rec if rec is not None else default


class LazyGraph(Graph):
    """A ``Graph`` whose records are parsed on first access; ``tasks()`` parses them all."""

    __slots__ = ()

    def __init__(self, data: bytes, spans: dict[str, int], starts: list[int] | None = None) -> None:
        records = LazyRecords(data, spans, starts)
        self.records = records  # type: ignore[assignment]
        self.loaded = _Loaded(records)  # type: ignore[assignment]
        self.touched = set()
        self.removed = set()
        self._dependents = None

    @property
    def lazy(self) -> LazyRecords:
        return self.records  # type: ignore[return-value]

    def referrers(self, task_id: str) -> list[str]:
        """As ``Graph.referrers``, reading only the lines that mention ``task_id`` plus changed records."""
        needle = dumps(task_id).encode("utf-8")
        if b"\\" in needle:  # an escaped id may be spelled differently: read everything
            return super().referrers(task_id)
        lazy = self.lazy
        candidates = {*lazy.containing(needle), *lazy.changed()}
        out: list[str] = []
        for rid in sorted((r for r in candidates if r in lazy), key=lazy.order):
            rec = lazy[rid]
            if rec.get("kind") == "task" and rid != task_id and task_id in (rec.get("after") or ()):
                out.append(rid)
        return out


def certify(lines: list[bytes]) -> bool:
    """Would a full load accept each freshly written line unchanged, and write it back byte for byte?"""
    for line in lines:
        try:
            obj = loads(line.decode("utf-8"))
            rec, changed = normalize(obj)
        except (ValueError, RecordError):
            return False
        if changed or type(rec.get("id")) is not str or not _ints_ok(rec):
            return False
        if dumps_line(rec).encode("utf-8") != line.rstrip(b"\n"):
            return False
    return True


def _ints_ok(value: object) -> bool:
    if type(value) is int:
        return _INT_MIN <= value <= _INT_MAX
    if type(value) is dict:
        return all(_ints_ok(v) for v in value.values())
    if type(value) is list:
        return all(_ints_ok(v) for v in value)
    return True
