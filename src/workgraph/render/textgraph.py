"""Static text, DOT and Mermaid drawings of the graph for ``wg viz`` (spec core 11.15). Pure: no I/O.

Text layout: every component is drawn as a tree. A root is a task with no dependency inside the
drawing; its dependents hang under it (``├→ ``, ``└→ ``, ``│``), each task once, under the first
dependency that reaches it in a depth-first walk (graph order). Every other edge ``dep → task`` is an
arc on the right: one column per target task, ``┐`` at its top row, ``┘`` at its bottom row, ``┤`` at
an endpoint in between and ``│`` on the rows it passes; the target's row is joined to its column by
``←──``, each source's row by ``───``.
"""

from __future__ import annotations

from ..model import is_system
from ..timeutil import compact_duration, parse_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..graph import Graph
    from ..model import Record

_NS = 1_000_000_000
HIDDEN_WHEN_ALL_FINISHED = ("done", "abandoned")


# -- selection ----------------------------------------------------------------------------------


def select(
    graph: Graph,
    *,
    show_all: bool = False,
    show_internal: bool = False,
    status: str | None = None,
    tags: list[str] | None = None,
    roots: list[str] | None = None,
) -> list[str]:
    """Ids to draw, in graph order: filters, then components (hidden when all finished, unless ``all``)."""
    ids = [
        t["id"]
        for t in graph.tasks()
        if (show_internal or not is_system(t["id"]))
        and (status is None or t.get("status", "open") == status)
        and all(tag in (t.get("tags") or ()) for tag in tags or ())
    ]
    chosen = set(ids)
    comps = components(graph, ids)
    keep: set[str] = set()
    wanted = set(roots or ())
    for comp in comps:
        if wanted and not wanted & set(comp):
            continue
        if not show_all and not wanted:
            statuses = [(graph.get(i) or {}).get("status", "open") for i in comp]
            if all(s in HIDDEN_WHEN_ALL_FINISHED for s in statuses):
                continue
        keep.update(comp)
    return [i for i in ids if i in keep and i in chosen]


def components(graph: Graph, ids: list[str]) -> list[list[str]]:
    """Weakly connected components of the drawn tasks (edges between drawn tasks only)."""
    inside = set(ids)
    parent = {i: i for i in ids}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for tid in ids:
        for d in (graph.get(tid) or {}).get("after") or ():
            if d in inside:
                ra, rb = find(d), find(tid)
                if ra != rb:
                    parent[rb] = ra
    groups: dict[str, list[str]] = {}
    for tid in ids:
        groups.setdefault(find(tid), []).append(tid)
    return list(groups.values())


# -- node text ----------------------------------------------------------------------------------


def _tokens(task: Record) -> str | None:
    usage = task.get("token_usage")
    if not isinstance(usage, dict):
        return None
    total = int(usage.get("input_tokens", 0) or 0) + int(usage.get("output_tokens", 0) or 0)
    if total <= 0:
        return None
    if total >= 1_000_000:
        v = total / 1_000_000
        return f"{v:.1f}M" if v < 10 else f"{int(v)}M"
    if total >= 1000:
        v = total / 1000
        return f"{v:.1f}k" if v < 10 else f"{int(v)}k"
    return str(total)


def node_text(task: Record, now: int, iteration: tuple[int, int] | None = None) -> str:
    """``[‖ ]<id>  (<status>[ · <tokens>][ · ⌁<prio>])[ ⏳<delay>] <age>[ ↺ (iter <i>/<max>)]``."""
    status = task.get("status", "open")
    if status in ("waiting", "pending-validation"):
        status = "waiting"
    inner = [status]
    tok = _tokens(task)
    if tok:
        inner.append(tok)
    if task.get("priority", 10) != 10:
        inner.append(f"⌁{task['priority']}")
    text = ("‖ " if task.get("paused") else "") + f"{task['id']}  ({' · '.join(inner)})"
    delay = 0
    for key in ("not_before", "ready_after"):
        t = parse_ts(task.get(key), naive_ok=True) if task.get(key) else None
        if t is not None and t > now:
            delay = max(delay, -(-(t - now) // _NS))
    if delay:
        text += f" ⏳{compact_duration(delay)}"
    stamps = [parse_ts(task.get(k)) for k in ("created_at", "started_at", "completed_at")]
    known = [s for s in stamps if s is not None]
    if known:
        text += f" {compact_duration(max(0, now - max(known)) // _NS)}"
    if iteration is not None:
        cur, mx = iteration
        text += f" ↺ (iter {cur}/{mx if mx else 'unlimited'})"
    return text


# -- text tree ----------------------------------------------------------------------------------


def layout(graph: Graph, ids: list[str]) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Rows ``(prefix, id)`` in drawing order and the extra edges ``(dep, task)`` drawn as arcs."""
    inside = set(ids)
    deps = {i: [d for d in (graph.get(i) or {}).get("after") or () if d in inside] for i in ids}
    children: dict[str, list[str]] = {i: [] for i in ids}
    for i in ids:
        for d in deps[i]:
            if i not in children[d]:
                children[d].append(i)
    placed: dict[str, str] = {}  # task -> the dependency it hangs under ("" for a root)
    rows: list[tuple[str, str]] = []

    def walk(node: str, prefix: str, branch: str) -> None:
        rows.append((prefix + branch, node))
        kids = [c for c in children[node] if c not in placed]
        for c in kids:
            placed[c] = node
        child_prefix = prefix + ("" if not branch else ("│  " if branch == "├→ " else "   "))
        for n, c in enumerate(kids):
            walk(c, child_prefix, "└→ " if n == len(kids) - 1 else "├→ ")

    roots = [i for i in ids if not deps[i]]
    for r in roots:
        if r not in placed:
            placed[r] = ""
            walk(r, "", "")
    for i in ids:  # pure cycles have no root: start at their first task in graph order
        if i not in placed:
            placed[i] = ""
            walk(i, "", "")
    extra = [(d, i) for i in ids for d in deps[i] if placed.get(i) != d]
    return rows, extra


def render_text(graph: Graph, ids: list[str], label: Callable[[Record], str]) -> list[str]:
    if not ids:
        return ["(no tasks to display)"]
    out: list[str] = []
    for comp in components(graph, ids):
        if out:
            out.append("")
        rows, extra = layout(graph, comp)
        texts = [prefix + label(graph.get(tid) or {"id": tid}) for prefix, tid in rows]
        out += _arcs(texts, [tid for _, tid in rows], extra)
    return out


def _arcs(texts: list[str], order: list[str], extra: list[tuple[str, str]]) -> list[str]:
    if not extra:
        return texts
    row_of = {tid: n for n, tid in enumerate(order)}
    targets: dict[str, list[str]] = {}
    for dep, task in extra:
        targets.setdefault(task, []).append(dep)
    width = max(len(t) for t in texts) + 2
    grid = [list(t.ljust(width)) for t in texts]
    for target, sources in targets.items():
        t_row = row_of[target]
        ends = {t_row, *(row_of[s] for s in sources)}
        top, bottom = min(ends), max(ends)
        for n, cells in enumerate(grid):
            if top <= n <= bottom:
                if n in ends:
                    start = len(texts[n])
                    for col in range(start + 1, len(cells)):
                        cells[col] = _cross(cells[col])
                    if n == t_row and cells[start + 1] == "─":
                        cells[start + 1] = "←"
                    char = "┐" if n == top else "┘" if n == bottom else "┤"
                else:
                    char = "│"
                cells.append(char)
            else:
                cells.append(" ")
    return ["".join(cells).rstrip() for cells in grid]


_CROSSED = {" ": "─", "│": "┼", "┐": "┬", "┘": "┴", "┤": "┼"}


def _cross(cell: str) -> str:
    """A horizontal connector passing through an earlier arc column."""
    return _CROSSED.get(cell, cell)


# -- dot / mermaid ------------------------------------------------------------------------------

_DOT_COLORS = {
    "done": "palegreen",
    "in-progress": "lightblue",
    "failed": "salmon",
    "abandoned": "lightgray",
    "blocked": "orange",
    "pending-eval": "khaki",
    "failed-pending-eval": "khaki",
    "waiting": "lightyellow",
    "incomplete": "wheat",
}


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph: Graph, ids: list[str]) -> str:
    inside = set(ids)
    lines = ["digraph workgraph {", "  rankdir=LR;", "  node [shape=box, style=filled, fillcolor=white];"]
    for tid in ids:
        task = graph.get(tid) or {}
        status = task.get("status", "open")
        label = _quote(tid)[:-1] + "\\n" + _quote(status)[1:]
        color = _DOT_COLORS.get(status, "white")
        lines.append(f"  {_quote(tid)} [label={label}, fillcolor={color}];")
    for tid in ids:
        for d in (graph.get(tid) or {}).get("after") or ():
            if d in inside:
                lines.append(f"  {_quote(d)} -> {_quote(tid)};")
    lines.append("}")
    return "\n".join(lines)


def render_mermaid(graph: Graph, ids: list[str]) -> str:
    inside = set(ids)
    names = {tid: f"n{n}" for n, tid in enumerate(ids)}
    lines = ["flowchart LR"]
    for tid in ids:
        task = graph.get(tid) or {}
        text = f"{tid} ({task.get('status', 'open')})".replace('"', "'")
        lines.append(f'  {names[tid]}["{text}"]')
    for tid in ids:
        for d in (graph.get(tid) or {}).get("after") or ():
            if d in inside:
                lines.append(f"  {names[d]} --> {names[tid]}")
    return "\n".join(lines)
