"""Why a task is not ready: its own reasons and its dependencies', transitively (spec core 6). Pure.

The wording printed by ``wg why-blocked`` is documented in ``cli/status.py``.
"""

from __future__ import annotations

from .graph import unsatisfied_deps
from .model import PENDING_EVAL, TERMINAL
from .timeutil import countdown, parse_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .graph import Graph
    from .model import Record

_NS = 1_000_000_000


def _future_secs(ts: object, now: int) -> int | None:
    t = parse_ts(ts, naive_ok=True)
    if t is None or t <= now:
        return None
    return -(-(t - now) // _NS)


def own_reasons(graph: Graph, task: Record, now: int) -> list[dict[str, Any]]:
    """Why ``task`` itself cannot start, dependencies aside (spec core 6 rules 1-3)."""
    out: list[dict[str, Any]] = []
    if task.get("paused"):
        out.append({"kind": "paused"})
    status = task.get("status", "open")
    if status not in ("open", "incomplete"):
        out.append({"kind": "status", "status": status})
    for key in ("not_before", "ready_after"):
        secs = _future_secs(task.get(key), now)
        if secs is not None:
            out.append({"kind": key, "until": task[key], "seconds": secs})
    if task.get("cron_enabled"):
        secs = _future_secs(task.get("next_cron_fire"), now)
        if secs is not None:
            out.append({"kind": "cron", "until": task["next_cron_fire"], "seconds": secs})
    return out


def explain(
    graph: Graph,
    task: Record,
    now: int,
    back_edges: frozenset[tuple[str, str]],
    seen: set[str],
    roots: dict[str, dict[str, Any]],
) -> list[dict[str, Any]]:
    """Reasons ``task`` is not ready, dependency reasons nested; fills ``roots`` with chain bottoms."""
    seen.add(task["id"])
    reasons = own_reasons(graph, task, now)
    for d in unsatisfied_deps(graph, task, back_edges):
        dep = graph.get(d)
        if dep is None:
            reasons.append({"kind": "missing_dependency", "id": d})
            roots.setdefault(d, {"id": d, "status": None, "reason": "missing"})
            continue
        dstatus = dep.get("status", "open")
        if dstatus in ("done", "abandoned"):
            gate = graph.get(".evaluate-" + d) or {}
            reasons.append(
                {"kind": "evaluation_gate", "id": d, "gate": ".evaluate-" + d, "status": gate.get("status")}
            )
            continue
        item: dict[str, Any] = {"kind": "dependency", "id": d, "status": dstatus}
        if d in seen:
            item["see_above"] = True
        else:
            item["reasons"] = explain(graph, dep, now, back_edges, seen, roots)
            blocked_below = any(r["kind"] in ("dependency", "missing_dependency") for r in item["reasons"])
            if not blocked_below:
                roots.setdefault(d, {"id": d, "status": dstatus, "reason": _root_state(dep, item["reasons"])})
        reasons.append(item)
    return reasons


def _root_state(task: Record, reasons: list[dict[str, Any]]) -> str:
    status = task.get("status", "open")
    tid = task["id"]
    if status == "failed":
        return f"failed (a failed dependency never satisfies; 'wg retry {tid}' or 'wg abandon {tid}')"
    if status == "in-progress":
        return "in progress" + (f" (assigned to {task['assigned']})" if task.get("assigned") else "")
    if status in PENDING_EVAL:
        return f"{status} (waiting for its evaluation)"
    own = [r for r in reasons if r["kind"] not in ("status",)]
    if status in ("open", "incomplete") and not own:
        return "ready, not started yet"
    if own:
        return "; ".join(_reason_text(task["id"], r) for r in own)
    return str(status)


def _reason_text(tid: str, r: dict[str, Any]) -> str:
    kind = r["kind"]
    if kind == "paused":
        return f"paused (run 'wg resume {tid}')"
    if kind == "status":
        return f"status is {r['status']} (only open or incomplete tasks become ready)"
    if kind in ("not_before", "ready_after"):
        return f"{kind.replace('_', ' ')} {r['until']} (in {countdown(r['seconds'])})"
    if kind == "cron":
        return f"cron schedule not due until {r['until']} (in {countdown(r['seconds'])})"
    if kind == "missing_dependency":
        return f"waiting on '{r['id']}' (missing: no such task)"
    if kind == "evaluation_gate":
        return f"waiting on '{r['id']}' (done, evaluation '{r['gate']}' is {r['status']})"
    return f"waiting on '{r['id']}' ({r['status']})" + (" (see above)" if r.get("see_above") else "")


def reason_lines(tid: str, reasons: list[dict[str, Any]], indent: str) -> list[str]:
    out: list[str] = []
    for r in reasons:
        out.append(f"{indent}- {_reason_text(tid, r)}")
        if r.get("reasons"):
            sub = [x for x in r["reasons"] if x["kind"] != "status" or x["status"] not in TERMINAL]
            out += reason_lines(r["id"], sub, indent + "  ")
    return out
