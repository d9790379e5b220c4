"""``wg html``: the static site (spec core 12 for the task page; the index per the views issue).

Page rendering is pure (records and pre-loaded side data in, text out): ``html_task`` renders a task page,
``html_index`` the index, ``html_common`` what both share. ``html_side.load_side_data`` reads what the pages
show besides the graph and :func:`write_site` writes the files. Every piece of task text goes through ``esc``.
"""

from __future__ import annotations

import os

from ..model import is_system
from .html_common import encode_id
from .html_index import render_index
from .html_task import render_task_page

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..graph import Graph
    from .html_side import SideData

STATIC_FILES = ("style.css", "site.js")


def select_ids(graph: Graph, *, include_system: bool, public_only: bool) -> list[str]:
    return [
        t["id"]
        for t in graph.tasks()
        if (include_system or not is_system(t["id"])) and (not public_only or t.get("visibility") == "public")
    ]


def blockers_of(graph: Graph, ids: list[str]) -> dict[str, list[str]]:
    from ..graph import unsatisfied_deps

    out: dict[str, list[str]] = {}
    for tid in ids:
        t = graph.get(tid)
        if t is not None and t.get("status", "open") in ("open", "blocked", "incomplete", "waiting"):
            deps = unsatisfied_deps(graph, t)
            if deps:
                out[tid] = deps
    return out


def write_site(
    graph: Graph,
    ids: list[str],
    side: SideData,
    out_dir: str,
    project_title: str,
    now: int,
    note: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write ``index.html``, ``style.css``, ``site.js`` and ``tasks/<enc>.html``; returns pages written."""
    tasks_dir = os.path.join(out_dir, "tasks")
    os.makedirs(tasks_dir, exist_ok=True)
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
    for name in STATIC_FILES:
        with open(os.path.join(here, name), "rb") as src, open(os.path.join(out_dir, name), "wb") as dst:
            dst.write(src.read())
    exported = frozenset(ids)
    dependents: dict[str, list[str]] = {}
    for t in graph.tasks():
        for d in t.get("after") or ():
            dependents.setdefault(d, []).append(t["id"])
    total = len(ids)
    for n, tid in enumerate(ids, 1):
        task = graph.get(tid)
        assert task is not None
        page = render_task_page(task, graph, exported, sorted(dependents.get(tid, ())), side, project_title)
        with open(os.path.join(tasks_dir, encode_id(tid) + ".html"), "w", encoding="utf-8") as fh:
            fh.write(page)
        if progress is not None:
            progress(n, total)
    index = render_index(graph, ids, blockers_of(graph, ids), project_title, now, note)
    with open(os.path.join(out_dir, "index.html"), "w", encoding="utf-8") as fh:
        fh.write(index)
    return total
