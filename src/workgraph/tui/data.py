"""What the TUI shows, computed without Textual: row order, filters, agents and output tails.

Nothing here imports Textual, so it is cheap to test and to reuse. The only I/O is reading files under
``$WG`` (``graph.jsonl``'s stat, ``service/registry.json``, ``agents/agent-N/output.log``), always
defensively: a file that is missing, half-written or of an unexpected shape reads as empty.
"""

from __future__ import annotations

import json
import os

from ..model import STATUSES
from ..timeutil import parse_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph
    from ..model import Record

_NS = 1_000_000_000
ORDERS = ("tree", "deps")
# The status filter cycles through these (None = every status).
STATUS_CYCLE: tuple[str | None, ...] = (
    None,
    "open",
    "in-progress",
    "blocked",
    "failed",
    "done",
    "abandoned",
    "incomplete",
    "waiting",
)
STATUS_STYLE = {
    "open": "bold white",
    "in-progress": "bold yellow",
    "waiting": "cyan",
    "done": "green",
    "blocked": "magenta",
    "failed": "bold red",
    "abandoned": "dim",
    "pending-validation": "cyan",
    "pending-eval": "cyan",
    "failed-pending-eval": "red",
    "incomplete": "dark_orange",
}


def file_signature(path: str) -> tuple[int, int, int] | None:
    """``(mtime_ns, inode, size)`` of ``path``: the store replaces the file by rename, so any write moves one."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_ino, st.st_size)


# -- order ------------------------------------------------------------------------------------


def _children(graph: Graph) -> dict[str, list[str]]:
    kids: dict[str, list[str]] = {}
    for rec in graph.tasks():
        for d in rec.get("after") or ():
            kids.setdefault(d, []).append(rec["id"])
    return kids


def tree_order(graph: Graph) -> list[tuple[Record, int]]:
    """Tasks depth-first from the roots (no known dependency) through their dependents, each once, with depth.

    A task with several dependencies appears under the first one reached; tasks only reachable through a
    cycle are started as roots afterwards, in file order.
    """
    kids = _children(graph)
    out: list[tuple[Record, int]] = []
    seen: set[str] = set()

    def walk(root: str) -> None:
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            tid, depth = stack.pop()
            if tid in seen:
                continue
            rec = graph.get(tid)
            if rec is None:
                continue
            seen.add(tid)
            out.append((rec, depth))
            stack.extend((c, depth + 1) for c in reversed(kids.get(tid, ())) if c not in seen)

    for rec in graph.tasks():
        if not any(d in graph for d in rec.get("after") or ()):
            walk(rec["id"])
    for rec in graph.tasks():
        if rec["id"] not in seen:
            walk(rec["id"])
    return out


def dependency_order(graph: Graph) -> list[tuple[Record, int]]:
    """Every task after all of its dependencies (Kahn's algorithm, file order among equals; cycles last)."""
    import heapq

    position = {tid: i for i, tid in enumerate(graph.ids())}
    indegree = {tid: 0 for tid in position}
    kids = _children(graph)
    for rec in graph.tasks():
        indegree[rec["id"]] = sum(1 for d in set(rec.get("after") or ()) if d in position)
    heap = [position[t] for t, n in indegree.items() if n == 0]
    heapq.heapify(heap)
    ids = list(position)
    out: list[tuple[Record, int]] = []
    done: set[str] = set()
    while heap:
        tid = ids[heapq.heappop(heap)]
        done.add(tid)
        got = graph.get(tid)
        assert got is not None
        out.append((got, 0))
        for c in dict.fromkeys(kids.get(tid, ())):
            indegree[c] -= 1
            if indegree[c] == 0:
                heapq.heappush(heap, position[c])
    for tid in ids:  # members of cycles (and what waits on them)
        if tid not in done:
            left = graph.get(tid)
            assert left is not None
            out.append((left, 0))
    return out


def ordered(graph: Graph, order: str) -> list[tuple[Record, int]]:
    return dependency_order(graph) if order == "deps" else tree_order(graph)


# -- filters ----------------------------------------------------------------------------------


class Filter:
    """A status, a set of tags (all must match) and free words (each must occur in id or title).

    Parsed from the search box: ``status:failed tag:api parse`` or ``#api``.
    """

    __slots__ = ("show_system", "status", "tags", "words")

    def __init__(
        self,
        status: str | None = None,
        tags: tuple[str, ...] = (),
        words: tuple[str, ...] = (),
        show_system: bool = False,
    ) -> None:
        self.status, self.tags, self.words, self.show_system = status, tags, words, show_system

    @classmethod
    def parse(cls, query: str, status: str | None = None, show_system: bool = False) -> Filter:
        tags: list[str] = []
        words: list[str] = []
        for tok in query.split():
            low = tok.lower()
            if low.startswith("status:") and len(tok) > 7:
                status = tok[7:]
            elif low.startswith("tag:") and len(tok) > 4:
                tags.append(tok[4:])
            elif tok.startswith("#") and len(tok) > 1:
                tags.append(tok[1:])
            else:
                words.append(low)
        return cls(status, tuple(tags), tuple(words), show_system)

    def matches(self, task: Record) -> bool:
        if not self.show_system and task["id"].startswith("."):
            return False
        if self.status is not None and task.get("status", "open") != self.status:
            return False
        if self.tags:
            have = task.get("tags") or ()
            if not all(t in have for t in self.tags):
                return False
        if self.words:
            hay = f"{task['id']} {task.get('title', '')}".lower()
            if not all(w in hay for w in self.words):
                return False
        return True

    def describe(self) -> str:
        parts = [f"status:{self.status or 'all'}"]
        parts += [f"tag:{t}" for t in self.tags]
        if self.words:
            parts.append(f'"{" ".join(self.words)}"')
        return " ".join(parts)


def visible_rows(graph: Graph, order: str, flt: Filter) -> list[tuple[Record, int]]:
    return [(rec, depth) for rec, depth in ordered(graph, order) if flt.matches(rec)]


def status_mark(status: str) -> str:
    return STATUSES.get(status, ("[?]",))[0]


def status_counts(graph: Graph) -> dict[str, int]:
    counts: dict[str, int] = {}
    for rec in graph.tasks():
        if not rec["id"].startswith("."):
            s = rec.get("status", "open")
            counts[s] = counts.get(s, 0) + 1
    return counts


# -- agents -----------------------------------------------------------------------------------


class AgentRow:
    """One registry entry as the agents panel shows it."""

    __slots__ = ("alive", "executor", "id", "output_file", "pid", "runtime", "status", "tail", "task_id")

    def __init__(self, agent_id: str, entry: dict[str, Any], wg_dir: str, now: int) -> None:
        self.id = agent_id
        self.task_id = str(entry.get("task_id") or "")
        self.status = str(entry.get("status") or "?")
        self.executor = str(entry.get("executor") or "")
        pid = entry.get("pid")
        self.pid = pid if isinstance(pid, int) and pid > 0 else None
        start_time = entry.get("pid_start_time")
        self.alive = self.status not in ("done", "failed", "dead") and process_alive(self.pid, start_time)
        started = parse_ts(entry.get("started_at"))
        ended = parse_ts(entry.get("completed_at")) if not self.alive else None
        end = ended if ended is not None else now
        self.runtime = max(0, (end - started) // _NS) if started is not None else None
        out = entry.get("output_file")
        self.output_file = (
            out if isinstance(out, str) and out else os.path.join(wg_dir, "agents", agent_id, "output.log")
        )
        self.tail = last_line(self.output_file)


def process_alive(pid: int | None, start_time: object = None) -> bool:
    """The pid runs, and (when the registry recorded it) started at the same clock tick: not a reused pid."""
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    except OSError:
        return False
    if start_time is None:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            fields = fh.read().rpartition(")")[2].split()
        # fields[0] is field 3 (state); field 22 (starttime) is fields[19]
        return str(fields[19]) == str(start_time)
    except (OSError, IndexError):
        return True


def _agent_number(agent_id: str) -> int:
    num = agent_id.rpartition("-")[2]
    return int(num) if num.isdigit() else -1


def load_agents(wg_dir: str, now: int) -> list[AgentRow]:
    """Registry entries, newest first (alive ones before finished ones)."""
    try:
        with open(os.path.join(wg_dir, "service", "registry.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return []
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, dict):
        return []
    rows = [AgentRow(str(k), v, wg_dir, now) for k, v in agents.items() if isinstance(v, dict)]
    rows.sort(key=lambda r: (not r.alive, -_agent_number(r.id), r.id))
    return rows


def last_line(path: str, window: int = 4096) -> str:
    """The last non-empty line of a file (reading at most ``window`` bytes from its end)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - window))
            data = fh.read()
    except OSError:
        return ""
    for line in reversed(data.decode("utf-8", errors="replace").splitlines()):
        if line.strip():
            return line.strip()
    return ""


class LogFollower:
    """Reads what was appended to a file since the last call (restarting when it was truncated or replaced)."""

    __slots__ = ("ino", "offset", "path")

    def __init__(self, path: str) -> None:
        self.path = path
        self.offset = 0
        self.ino: int | None = None

    def read_new(self, first_window: int = 64 * 1024) -> tuple[bool, str]:
        """``(reset, text)``: ``reset`` says the view should start over (first read, truncation, new file)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return False, ""
        reset = False
        if self.ino != st.st_ino or st.st_size < self.offset:
            reset = True
            self.ino = st.st_ino
            self.offset = max(0, st.st_size - first_window)
        if st.st_size == self.offset:
            return reset, ""
        try:
            with open(self.path, "rb") as fh:
                fh.seek(self.offset)
                data = fh.read(st.st_size - self.offset)
        except OSError:
            return reset, ""
        cut = data.rfind(b"\n") + 1  # keep a half-written last line for the next read
        if cut == 0 and len(data) < first_window:
            return reset, ""
        if cut == 0:
            cut = len(data)
        self.offset += cut
        return reset, data[:cut].decode("utf-8", errors="replace")


def fmt_runtime(seconds: int | None) -> str:
    if seconds is None:
        return "-"
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
