"""``wg migrate chat-rename``: legacy ``.coordinator-N`` chat tasks become ``.chat-N`` (spec chats.md 4.8).

Pure change over a graph; the caller runs it inside one transaction (or on a loaded graph for --dry-run).
"""

from __future__ import annotations

import re

from ..model import log_entry
from ..timeutil import format_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph

_LEGACY = re.compile(r"^\.coordinator-(\d+)$")
_TITLE_NUM = re.compile(r"^Coordinator (\d+)$")


def _retitle(title: str) -> str | None:
    if title.startswith("Coordinator: "):
        return "Chat: " + title[len("Coordinator: ") :]
    m = _TITLE_NUM.match(title)
    return f"Chat {m.group(1)}" if m else None


def chat_rename(graph: Graph, now: int) -> dict[str, Any]:
    """Rename ids, rewrite after/before edges, rename loop tags and titles. Returns the report."""
    ts = format_ts(now)
    renames: dict[str, str] = {}
    conflicts: list[list[str]] = []
    for tid in list(graph.ids()):
        m = _LEGACY.match(tid)
        if m is None or graph.get(tid) is None:
            continue
        new = f".chat-{m.group(1)}"
        if new in graph:
            conflicts.append([tid, new])
        else:
            renames[tid] = new
    tags_renamed = titles_renamed = edges = 0
    records = list(graph.records.values())
    new_records: dict[str, dict[str, Any]] = {}
    for rec in records:
        rec = dict(rec)
        changed = False
        if rec.get("kind") == "task":
            after = rec.get("after") or []
            if any(a in renames for a in after):
                edges += sum(1 for a in after if a in renames)
                rec["after"] = [renames.get(a, a) for a in after]
                changed = True
            before = rec.get("before") or []
            if any(b in renames for b in before):
                rec["before"] = [renames.get(b, b) for b in before]
                changed = True
            tags = rec.get("tags") or []
            if "coordinator-loop" in tags:
                out: list[str] = []
                for t in tags:
                    t = "chat-loop" if t == "coordinator-loop" else t
                    if t not in out:
                        out.append(t)
                rec["tags"] = out
                tags_renamed += 1
                changed = True
            title = _retitle(str(rec.get("title") or "")) if rec["id"] in renames or _is_chat(rec) else None
            if title is not None:
                rec["title"] = title
                titles_renamed += 1
                changed = True
            if rec["id"] in renames:
                old = rec["id"]
                rec["id"] = renames[old]
                rec["log"] = [
                    *(rec.get("log") or []),
                    log_entry(
                        ts, f"wg migrate chat-rename: renamed task id {old} -> {rec['id']}", "migration"
                    ),
                ]
                changed = True
        new_records[rec["id"]] = rec if changed else graph.records[_old_id(rec["id"], renames)]
    report = {
        "renamed_ids": [[o, n] for o, n in renames.items()],
        "rewritten_edges": edges,
        "renamed_tags": tags_renamed,
        "renamed_titles": titles_renamed,
        "skipped_conflicts": conflicts,
    }
    if renames or edges or tags_renamed or titles_renamed:
        _replace_all(graph, records, new_records, renames)
    return report


def _is_chat(rec: dict[str, Any]) -> bool:
    return str(rec.get("id")).startswith(".chat-")


def _old_id(new: str, renames: dict[str, str]) -> str:
    for o, n in renames.items():
        if n == new:
            return o
    return new


def _replace_all(
    graph: Graph, old: list[dict[str, Any]], new: dict[str, dict[str, Any]], renames: dict[str, str]
) -> None:
    """Swap records in place, keeping file order (a renamed record keeps its position)."""
    for rec in old:
        rid = rec["id"]
        target = new[renames.get(rid, rid)]
        if rid in renames:
            graph.remove(rid)
            graph.put(target)
        elif target is not graph.records[rid]:
            graph.put(target)
    if renames:  # re-insert renamed records at their old positions
        order = [renames.get(r["id"], r["id"]) for r in old]
        graph.records = {rid: graph.records[rid] for rid in order}


def text_report(report: dict[str, Any], dry_run: bool) -> list[str]:
    if not (
        report["renamed_ids"]
        or report["rewritten_edges"]
        or report["renamed_tags"]
        or report["renamed_titles"]
        or report["skipped_conflicts"]
    ):
        return ["No legacy coordinator data found — graph is already on the new schema."]
    lines = ["Dry run — no changes written:" if dry_run else "Migration complete:"]
    lines.append(f"  task ids renamed: {len(report['renamed_ids'])}")
    lines += [f"    {o} -> {n}" for o, n in report["renamed_ids"]]
    lines.append(f"  after-edges rewritten: {report['rewritten_edges']}")
    lines.append(f"  tags renamed (coordinator-loop -> chat-loop): {report['renamed_tags']}")
    lines.append(f"  titles renamed: {report['renamed_titles']}")
    if report["skipped_conflicts"]:
        lines.append(f"  conflicts skipped: {len(report['skipped_conflicts'])}")
        lines += [f"    {o} -> {n} (target exists)" for o, n in report["skipped_conflicts"]]
    return lines
