"""``wg sweep``: phase A steps 1-5 of a tick, once, in this process (spec service 8.5, 5.2).

Collects the exits of agents whose process is gone (their ``exit_code`` file decides, else a death), then
reconciles claims: an ``open`` task still naming a dead ``agent-*`` loses the claim; an ``in-progress`` one
whose agent is not live and whose claim is older than ``reaper_grace_seconds`` goes through 5.5. Returns one
line per change (or per would-be change with ``dry_run``).
"""

from __future__ import annotations

import os
import time

from ..model import log_entry
from ..timeutil import format_ts, now_ns, parse_ts
from .files import ServicePaths
from .registry import LIVE_STATUSES, Registry, entry_live

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph
    from ..store.jsonl import JsonlStore


def _read_exit_code(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None


def _stale_entries(paths: ServicePaths, now_s: float) -> list[tuple[str, dict[str, Any], int | None]]:
    out = []
    for agent_id, e in Registry(paths).load()["agents"].items():
        if isinstance(e, dict) and e.get("status") in LIVE_STATUSES and not entry_live(e, now_s):
            code = _read_exit_code(os.path.join(paths.agents, agent_id, "exit_code"))
            out.append((agent_id, e, code))
    return out


def _snapshot(paths: ServicePaths, store: JsonlStore) -> tuple[dict[str, Any], dict[str, tuple[Any, Any]]]:
    reg = {
        a: (e.get("status") if isinstance(e, dict) else None)
        for a, e in Registry(paths).load()["agents"].items()
    }
    tasks = {t["id"]: (t.get("status"), t.get("assigned")) for t in store.load().tasks()}
    return reg, tasks


def sweep(wg_dir: str, store: JsonlStore, dry_run: bool, grace_s: float = 30.0) -> list[str]:
    from .daemon import DaemonLog, settings_from
    from .dispatcher import Dispatcher

    paths = ServicePaths(wg_dir)
    now_s = time.time()
    lines: list[str] = []
    stale = _stale_entries(paths, now_s)
    graph = store.load()
    agents = Registry(paths).load()["agents"]
    live = {a for a, e in agents.items() if isinstance(e, dict) and entry_live(e, now_s)}
    stale_ids = {a for a, _, _ in stale}
    open_claims = [
        t["id"]
        for t in graph.tasks()
        if t.get("status") == "open"
        and str(t.get("assigned") or "").startswith("agent-")
        and t["assigned"] not in live
    ]
    orphans = []
    for t in graph.tasks():
        assignee = str(t.get("assigned") or "")
        if t.get("status") != "in-progress" or not assignee.startswith("agent-") or assignee in live:
            continue
        if assignee in stale_ids:
            continue  # handled with its registry entry
        started = parse_ts(t.get("started_at"))
        if started is None or now_s - started / 1e9 > grace_s:
            orphans.append((t["id"], assignee))
    if dry_run:
        for agent_id, e, code in stale:
            what = f"exited with code {code}" if code is not None else "process gone"
            lines.append(f"collect {agent_id} (task '{e.get('task_id')}'): {what}")
        lines += [f"clear stale claim on '{tid}'" for tid in open_claims]
        lines += [f"release '{tid}' from dead agent {a}" for tid, a in orphans]
        return lines
    os.makedirs(paths.dir, exist_ok=True)
    d = Dispatcher(
        paths, store, settings_from(wg_dir, {}), DaemonLog(paths.log, False), lambda: None, lambda: None
    )
    before = _snapshot(paths, store)
    reaper: Any = getattr(d, "reaper", None)
    if reaper is not None:  # the dispatcher's own phase A steps
        for step in ("collect_exits", "check_liveness", "reconcile_claims", "drain"):
            fn = getattr(reaper, step, None)
            if callable(fn):
                fn()
    else:
        legacy: Any = d
        if stale:
            legacy._reconcile_registry()
        for tid, agent_id in orphans:
            entry = agents.get(agent_id)
            legacy._death(agent_id, entry if isinstance(entry, dict) else {}, tid)
        if open_claims:
            store.transaction(lambda g: _clear_claims(g, open_claims, live), now_ns())
    after = _snapshot(paths, store)
    for agent_id, old in before[0].items():
        new = after[0].get(agent_id)
        if new != old:
            lines.append(f"{agent_id}: {old} -> {new}")
    for tid, (old_status, old_assigned) in before[1].items():
        new_status, new_assigned = after[1].get(tid, (None, None))
        if (new_status, new_assigned) != (old_status, old_assigned):
            lines.append(
                f"task '{tid}': {old_status} (assigned {old_assigned or '-'}) -> {new_status} "
                f"(assigned {new_assigned or '-'})"
            )
    return lines


def _clear_claims(g: Graph, ids: list[str], live: set[str]) -> None:
    stamp = format_ts(now_ns())
    for tid in ids:
        cur = g.get(tid)
        if cur is None or cur.get("status") != "open" or cur.get("assigned") in live:
            continue
        log = [
            *(cur.get("log") or []),
            log_entry(stamp, f"stale-claim cleared: agent '{cur.get('assigned')}' is not live"),
        ]
        g.update(tid, assigned=None, started_at=None, log=log)
