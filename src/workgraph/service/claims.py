"""The claims of one dispatcher tick (spec service 5.3 step 3): each planned candidate is claimed by a
compare-and-set on the task as read inside the (shared) graph transaction."""

from __future__ import annotations

from ..model import log_entry
from ..timeutil import now_ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph
    from ..model import Record


class Planned:
    """A candidate planned for spawning in this tick."""

    __slots__ = ("audit", "cfg", "plan", "started", "task", "tid")

    def __init__(self, task: Record, plan: Any, cfg: Any, started: str, audit: bool) -> None:
        self.task, self.tid, self.plan, self.cfg = task, str(task["id"]), plan, cfg
        self.started, self.audit = started, audit


def claim(g: Graph, p: Planned, agent_id: str) -> Record | None:
    """The claim of 5.3 step 3: only a task still open (or incomplete) and unassigned is taken."""
    tid = p.tid
    cur = g.get(tid)
    if cur is None or cur.get("status") not in ("open", "incomplete") or cur.get("assigned"):
        return None
    spawned_by = f"Spawned by dispatcher --executor {p.plan.executor}"
    if p.plan.model:
        spawned_by += f" --model {p.plan.model}"
    claimed = g.update(
        tid,
        status="in-progress",
        assigned=agent_id,
        started_at=p.started,
        dispatch_count=int(cur.get("dispatch_count") or 0) + 1,
        log=[*(cur.get("log") or []), log_entry(p.started, spawned_by)],
    )
    if p.audit and not cur.get("agent"):
        from ..agency.scaffold import audit_direct_dispatch

        audit_direct_dispatch(g, tid, now_ns())
    return claimed
