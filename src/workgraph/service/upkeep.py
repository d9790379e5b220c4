"""Graph maintenance in a tick (spec service 5.2 step 6): the pure ``run_maintenance`` fed from the disk, then
agency scaffolding (9.3, 9.4) in a transaction of its own."""

from __future__ import annotations

import os

from ..errors import WgError
from ..maintenance import run_maintenance, watched_files
from ..timeutil import now_ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..graph import Graph
    from ..model import Record
    from .dispatcher import Dispatcher


def _mtimes(root: str, graph: Graph) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for path in watched_files(graph):
        try:
            out[path] = int(os.stat(os.path.join(root, path)).st_mtime)
        except OSError:
            out[path] = None
    return out


def _messages(wg_dir: str, graph: Graph) -> dict[str, list[Record]]:
    """Message records of waiting and done tasks that have a queue file."""
    from ..messages import list_messages, messages_dir

    try:
        names = set(os.listdir(messages_dir(wg_dir)))
    except OSError:
        return {}
    out: dict[str, list[Record]] = {}
    for task in graph.tasks():
        tid = task["id"]
        if task.get("status") not in ("waiting", "done") or f"{tid}.jsonl" not in names:
            continue
        try:
            out[tid] = [dict(m) for m in list_messages(wg_dir, tid)]
        except WgError:
            continue
    return out


def maintain(d: Dispatcher) -> list[str]:
    """Probe on a fresh copy; write in one transaction only when something changes."""
    root = d.paths.root
    probe = d.store.load()
    messages = _messages(d.paths.wg_dir, probe)
    mtimes = _mtimes(root, probe)
    if not run_maintenance(probe, now_ns(), messages, mtimes):
        return []

    def change(g: Graph) -> list[str]:
        msgs: Mapping[str, list[Any]] = _messages(d.paths.wg_dir, g)
        return run_maintenance(g, now_ns(), msgs, _mtimes(root, g))

    events: list[str] = d._write(change)
    for e in events:
        d.log("INFO", f"[dispatcher] {e}")
    return events


def _human_agents(wg_dir: str) -> frozenset[str]:
    from ..agency.store import AgencyStore

    if not os.path.isdir(os.path.join(wg_dir, "agency")):
        return frozenset()
    try:
        return AgencyStore(wg_dir, warn=lambda _line: None).human_agent_ids()
    except Exception:
        return frozenset()


def scaffold(d: Dispatcher) -> list[str]:
    """``.assign-*`` (9.3), ``.evaluate-*``/``.flip-*`` (9.4) and the settling of ``pending-eval`` tasks, probed
    on a fresh copy and written in one transaction only when something changes. Also sets ``d.wake_at`` to the
    end of the next ``auto_assign`` grace period."""
    from ..agency import scaffold as sc
    from ..config import load_config
    from ..model import PENDING_EVAL

    wg_dir = d.paths.wg_dir
    cfg = load_config(wg_dir, quiet=True)
    probe = d.store.load()
    auto_evaluate = cfg.agency_flag("auto_evaluate")
    human = _human_agents(wg_dir) if auto_evaluate else frozenset()
    pending = any(t.get("status") in PENDING_EVAL for t in probe.tasks())
    scores: Mapping[str, float | None] = {}
    if pending:
        from ..agency.evalfiles import newest_scores

        scores = newest_scores(wg_dir)

    def change(g: Graph) -> list[str]:
        now = now_ns()
        made = [
            *sc.scaffold_assignments(g, cfg, now),
            *sc.scaffold_evaluations(g, cfg, now, human_agents=human),
        ]
        settled = sc.settle_pending_evals(g, cfg, now, scores)
        return [
            *(f"agency: created '{t}'" for t in made),
            *(f"agency: settled evaluation of '{t}'" for t in settled),
        ]

    events = change(probe)
    if events:
        events = d._write(change)
        for e in events:
            d.log("INFO", f"[dispatcher] {e}")
    d.wake_at = sc.assignment_due(d.store.load() if events else probe, cfg, now_ns())
    return events
