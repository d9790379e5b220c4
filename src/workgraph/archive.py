"""Which tasks ``wg archive`` and ``wg gc`` take (spec core 11.16), and the archive file's lines. Pure.

Selection and removal work on a ``Graph`` value; time comes in as ``now`` (epoch ns). The archive file
itself (``archive.jsonl``) is read and written by the CLI; here are only its line format and parsing.
"""

from __future__ import annotations

import json

from .errors import WgError
from .graph import Graph, find_cycles
from .model import TERMINAL, RecordError, dumps_line, is_chat, normalize
from .timeutil import parse_duration, parse_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .model import Record

ARCHIVABLE = ("done", "abandoned")
GC_SCAFFOLD_PREFIXES = (".assign-", ".evaluate-", ".verify-", ".respond-to-", "assign-", "evaluate-")
_NS = 1_000_000_000


def parse_older(text: str) -> int:
    """``--older``: ``<n>s|m|h|d|w``, a bare number meaning days (1.5). Seconds."""
    secs = parse_duration(text, units="smhdw", bare_unit="d")
    if secs is None:
        raise WgError(f"Invalid duration '{text}'. Use e.g. 30d, 2w, 12h (a bare number means days)")
    return secs


def terminal_ns(task: Record) -> int | None:
    """When the task reached its terminal state: ``completed_at``, else its last log entry, else start/create."""
    t = parse_ts(task.get("completed_at"))
    if t is not None:
        return t
    log = task.get("log") or []
    if log:
        t = parse_ts(log[-1].get("timestamp"))
        if t is not None:
            return t
    return parse_ts(task.get("started_at")) or parse_ts(task.get("created_at"))


def old_enough(task: Record, older_s: int | None, now: int) -> bool:
    if older_s is None:
        return True
    t = terminal_ns(task)
    return t is not None and now - t > older_s * _NS


def is_chat_task(task: Record) -> bool:
    tid = task["id"]
    for prefix in (".chat-", ".coordinator-"):
        if tid.startswith(prefix) and tid[len(prefix) :].isdigit():
            return True
    return is_chat(task)


def _active_dependents(graph: Graph, task: Record) -> list[str]:
    """Non-terminal tasks in ``before`` or depending on the task through ``after``."""
    ids = list(task.get("before") or [])
    ids += [d for d in graph.dependents(task["id"]) if d not in ids]
    out = []
    for d in ids:
        dep = graph.get(d)
        if dep is not None and dep.get("status", "open") not in TERMINAL:
            out.append(d)
    return out


# -- archive ------------------------------------------------------------------------------------


def select_archive(graph: Graph, ids: list[str], older_s: int | None, now: int) -> list[Record]:
    """Explicit ids (each checked; raises on the first refusal) or the bulk selection, in graph order."""
    if ids:
        out: list[Record] = []
        for tid in dict.fromkeys(ids):
            task = graph.get(tid)
            if task is None:
                raise WgError(f"Task '{tid}' not found in the graph.")
            status = task.get("status", "open")
            if status not in ARCHIVABLE:
                raise WgError(
                    f"Task '{tid}' has status '{status}' — only done/abandoned tasks can be archived. "
                    f"Use `wg done {tid}` first."
                )
            if _active_dependents(graph, task):
                raise WgError(f"Task '{tid}' has active downstream dependents — cannot archive.")
            out.append(task)
        return out
    return [
        t
        for t in graph.tasks()
        if t.get("status") in ARCHIVABLE
        and not is_chat_task(t)
        and not _active_dependents(graph, t)
        and old_enough(t, older_s, now)
    ]


def archive_lines(records: list[Record]) -> str:
    return "".join(dumps_line(r) + "\n" for r in records)


def parse_archive(text: str, filename: str = "archive.jsonl") -> list[Record]:
    """Archived task records in file order (blank and ``#`` lines skipped); raises WgError naming a bad line."""
    out: list[Record] = []
    for n, line in enumerate(text.split("\n"), 1):
        s = line.strip()
        if not s or s[0] == "#":
            continue
        try:
            rec, _ = normalize(json.loads(s))
        except (ValueError, RecordError) as exc:
            raise WgError(f"{filename}:{n}: {exc}") from None
        if rec.get("kind") == "task":
            out.append(rec)
    return out


def restore_records(
    graph: Graph, batch_ids: list[str], archived: list[Record]
) -> tuple[list[str], list[str]]:
    """Put archived records back at the end of the graph: (restored ids, skipped ids)."""
    by_id: dict[str, Record] = {}
    for rec in archived:
        by_id[rec["id"]] = rec  # the latest copy wins if a crash ever left two
    restored: list[str] = []
    skipped: list[str] = []
    for tid in dict.fromkeys(batch_ids):
        found = by_id.get(tid)
        if found is None or tid in graph:
            skipped.append(tid)
            continue
        graph.put(dict(found))
        restored.append(tid)
    return restored, skipped


def search_archive(archived: list[Record], query: str, limit: int) -> list[Record]:
    q = query.lower()
    out = []
    for t in archived:
        hay = [t.get("title", ""), t.get("description") or "", *(t.get("tags") or [])]
        if any(q in str(h).lower() for h in hay):
            out.append(t)
            if len(out) >= limit:
                break
    return out


# -- gc -----------------------------------------------------------------------------------------


def _is_scaffold(task_id: str) -> bool:
    return task_id.startswith(GC_SCAFFOLD_PREFIXES)


def _live_eval_gate(graph: Graph, task_id: str) -> bool:
    """An ``.evaluate-X`` whose X is still not terminal is evidence X needs to settle: keep it."""
    if not task_id.startswith(".evaluate-"):
        return False
    parent = graph.get(task_id[len(".evaluate-") :])
    return parent is not None and parent.get("status", "open") not in TERMINAL


def select_gc(graph: Graph, include_done: bool, older_s: int | None, now: int) -> list[str]:
    """Ids ``wg gc`` removes, in id order."""
    statuses = ("failed", "abandoned", "done") if include_done else ("failed", "abandoned")
    active_dep: set[str] = set()
    for t in graph.tasks():
        if t.get("status", "open") not in TERMINAL:
            active_dep.update(t.get("after") or ())
    chosen: set[str] = set()
    for t in graph.tasks():
        tid = t["id"]
        if tid in active_dep or not old_enough(t, older_s, now):
            continue
        status = t.get("status", "open")
        if status in statuses or (_is_scaffold(tid) and status in TERMINAL):
            chosen.add(tid)
    cycles, _ = find_cycles(graph)
    for members in cycles:  # a cycle goes only as a whole
        if not all(m in chosen for m in members):
            chosen.difference_update(members)
    chosen = {tid for tid in chosen if not _live_eval_gate(graph, tid)}
    return sorted(chosen)


def remove_tasks(graph: Graph, ids: list[str]) -> list[Record]:
    """Remove ``ids`` and strip them from other tasks' ``after``, ``before`` and ``requires``."""
    gone = set(ids)
    removed: list[Record] = []
    for tid in ids:
        rec = graph.get(tid)
        if rec is not None:
            removed.append(rec)
            graph.remove(tid)
    for t in list(graph.tasks()):
        changes: dict[str, object] = {}
        for key in ("after", "before", "requires"):
            vals = t.get(key) or []
            if any(v in gone for v in vals):
                kept = [v for v in vals if v not in gone]
                changes[key] = kept or None
        if changes:
            graph.update(t["id"], **changes)
    return removed
