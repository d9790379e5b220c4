"""Status transitions (spec core 5, 11.5-11.9) as pure changes on a ``Graph``.

Each function checks first and raises ``WgError`` before touching anything, then applies its change and
returns what the CLI needs to report. Time comes in as ``now`` (epoch ns).
"""

from __future__ import annotations

from .cycles import iterate_after_done, restart_after_failure
from .errors import WgError
from .graph import Graph, cycle_of, dependency_satisfied
from .ids import did_you_mean
from .model import FAILURE_CLASSES, PENDING_EVAL, TERMINAL, is_system, log_entry, status_name
from .timeutil import format_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Container
    from typing import Any

    from .model import Record

SCAFFOLD_PREFIXES = (".assign-", ".evaluate-", ".flip-", ".verify-")


def not_found(graph: Graph, task_id: str, suggest: bool = True) -> WgError:
    msg = f"Task '{task_id}' not found"
    if suggest:
        other = did_you_mean(task_id, graph.ids())
        if other:
            msg += f". Did you mean '{other}'?"
    return WgError(msg)


def require(graph: Graph, task_id: str, suggest: bool = True) -> Record:
    task = graph.get(task_id)
    if task is None:
        raise not_found(graph, task_id, suggest)
    return task


def _log(task: Record, entry: Record) -> list[Record]:
    return [*(task.get("log") or []), entry]


def append_log(graph: Graph, task_id: str, entry: Record) -> Record:
    task = require(graph, task_id)
    return graph.update(task_id, log=_log(task, entry))


# -- claim / unclaim ----------------------------------------------------------------------------


def claim(graph: Graph, task_id: str, actor: str | None, now: int) -> Record:
    """Compare-and-set: only an open/blocked/incomplete task can be claimed."""
    task = require(graph, task_id, suggest=False)
    status = task.get("status", "open")
    if status == "waiting":
        raise WgError(f"Cannot claim task '{task_id}': task is Waiting. Use 'wg resume' first.")
    if status == "in-progress":
        since = task.get("started_at", "unknown")
        if task.get("assigned"):
            raise WgError(
                f"Task '{task_id}' is already claimed by @{task['assigned']} (since {since}). "
                f"Use 'wg unclaim {task_id}' to release it first."
            )
        raise WgError(f"Task '{task_id}' is already in progress (since {since})")
    if status == "done":
        raise WgError(f"Task '{task_id}' is already done")
    if status == "failed":
        raise WgError(f"Cannot claim task '{task_id}': task is Failed. Use 'wg retry' to retry it.")
    if status == "abandoned":
        raise WgError(f"Cannot claim task '{task_id}': task is Abandoned")
    pending = {
        "pending-validation": "pending validation",
        "pending-eval": "pending evaluation",
        "failed-pending-eval": "pending rescue evaluation",
    }
    if status in pending:
        raise WgError(f"Cannot claim task '{task_id}': task is {pending[status]}")
    stamp = format_ts(now)
    msg = f"Task claimed by @{actor}" if actor else "Task claimed"
    changes: dict[str, Any] = {
        "status": "in-progress",
        "started_at": stamp,
        "log": _log(task, log_entry(stamp, msg, actor)),
    }
    if actor:
        changes["assigned"] = actor
    return graph.update(task_id, **changes)


def unclaim(graph: Graph, task_id: str, now: int) -> Record:
    task = require(graph, task_id, suggest=False)
    status = task.get("status", "open")
    if status == "waiting":
        raise WgError(f"Cannot unclaim task '{task_id}': task is Waiting. Use 'wg resume' first.")
    if status not in ("in-progress", "open", "blocked", "incomplete"):
        raise WgError(f"Cannot unclaim task '{task_id}': task is {status_name(status)}")
    who = task.get("assigned")
    msg = f"Task unclaimed (was assigned to @{who})" if who else "Task unclaimed"
    return graph.update(task_id, status="open", assigned=None, log=_log(task, log_entry(format_ts(now), msg)))


# -- done ---------------------------------------------------------------------------------------


def unresolved_for_done(graph: Graph, task: Record) -> list[Record]:
    """Existing dependencies still blocking ``wg done`` (11.6)."""
    members = set(cycle_of(graph, task["id"]) or ()) if task.get("after") else set()
    out: list[Record] = []
    for d in task.get("after") or ():
        dep = graph.get(d)
        if dep is None or d in members:
            continue
        status = dep.get("status", "open")
        if status in ("done", "failed", "abandoned"):
            continue
        if is_system(task["id"]) and status in PENDING_EVAL:
            continue
        out.append(dep)
    return out


def done_blocked_message(task_id: str, blockers: list[Record]) -> str:
    lines = [f"Cannot mark '{task_id}' as done: blocked by {len(blockers)} unresolved task(s):"]
    lines += [
        f"  - {b['id']} ({b.get('title', '')}): {status_name(b.get('status', 'open'))}" for b in blockers
    ]
    return "\n".join(lines)


def done(graph: Graph, task_id: str, now: int, converged: bool = False) -> dict[str, Any]:
    task = require(graph, task_id)
    if task.get("status") == "done":
        return {"changed": False, "task": task, "reactivated": []}
    blockers = unresolved_for_done(graph, task)
    if blockers:
        raise WgError(done_blocked_message(task_id, blockers))
    stamp = format_ts(now)
    gate = graph.get(".evaluate-" + task_id)
    status = "done"
    if gate is not None and gate.get("status") not in TERMINAL and not is_system(task_id):
        status = "pending-eval"
    tags = list(task.get("tags") or [])
    warning = None
    if converged:
        from .cycles import guard_is_set

        members = cycle_of(graph, task_id) or [task_id]
        cfg = next(
            (
                graph.records[m]["cycle_config"]
                for m in members
                if graph.get(m) and graph.records[m].get("cycle_config")
            ),
            None,
        )
        if cfg and guard_is_set(cfg):
            warning = f"Warning: --converged ignored for '{task_id}' because a cycle guard is set."
        elif cfg and cfg.get("no_converge"):
            warning = f"Warning: --converged ignored for '{task_id}' because the cycle is configured with --no-converge."
        elif "converged" not in tags:
            tags.append("converged")
    msg = "Task marked as done (converged)" if converged and warning is None else "Task marked as done"
    updated = graph.update(
        task_id,
        status=status,
        completed_at=stamp,
        tags=tags or None,
        log=_log(task, log_entry(stamp, msg, task.get("assigned"))),
    )
    reactivated = iterate_after_done(graph, task_id, now) if status == "done" else []
    return {
        "changed": True,
        "task": updated,
        "reactivated": reactivated,
        "warning": warning,
        "status": status,
    }


# -- fail / abandon -----------------------------------------------------------------------------


def fail(
    graph: Graph,
    task_id: str,
    now: int,
    reason: str | None = None,
    failure_class: str | None = None,
    eval_reject: bool = False,
    auto_evaluate: bool = False,
) -> dict[str, Any]:
    task = require(graph, task_id)
    status = task.get("status", "open")
    if failure_class is not None and failure_class not in FAILURE_CLASSES:
        raise WgError(f"Unknown failure class '{failure_class}'. Valid classes: {', '.join(FAILURE_CLASSES)}")
    if status == "done" and not eval_reject:
        raise WgError(f"Task '{task_id}' is already done and cannot be marked as failed")
    if status == "abandoned":
        raise WgError(f"Task '{task_id}' is already abandoned")
    if status == "failed":
        return {"changed": False, "task": task, "reactivated": []}
    stamp = format_ts(now)
    if eval_reject:
        msg = f"Evaluation rejected task: {reason}" if reason else "Evaluation rejected task"
    else:
        msg = f"Task marked as failed: {reason}" if reason else "Task marked as failed"
    gate = graph.get(".evaluate-" + task_id)
    rescue = (
        failure_class == "agent-exit-nonzero"
        and auto_evaluate
        and not is_system(task_id)
        and task.get("exec_mode") != "shell"
        and gate is not None
        and gate.get("status") not in TERMINAL
    )
    changes: dict[str, Any] = {
        "status": "failed-pending-eval" if rescue else "failed",
        "failure_reason": reason,
        "log": _log(task, log_entry(stamp, msg, task.get("assigned"))),
    }
    if failure_class:
        changes["failure_class"] = failure_class
    if not rescue:
        changes["retry_count"] = int(task.get("retry_count", 0)) + 1
    updated = graph.update(task_id, **changes)
    reactivated = restart_after_failure(graph, task_id, now) if not rescue else []
    return {"changed": True, "task": graph.get(task_id) or updated, "reactivated": reactivated}


def abandon(
    graph: Graph, task_id: str, now: int, reason: str | None = None, superseded_by: list[str] | None = None
) -> dict[str, Any]:
    task = require(graph, task_id, suggest=False)  # spec core 1.1: no did-you-mean for abandon
    status = task.get("status", "open")
    if status == "done":
        raise WgError(f"Task '{task_id}' is already done and cannot be abandoned")
    if status == "abandoned":
        return {"changed": False, "task": task, "auto_abandoned": []}
    stamp = format_ts(now)
    msg = f"Task abandoned: {reason}" if reason else "Task abandoned"
    changes: dict[str, Any] = {
        "status": "abandoned",
        "failure_reason": reason,
        "log": _log(task, log_entry(stamp, msg)),
    }
    if superseded_by:
        changes["superseded_by"] = superseded_by
    updated = graph.update(task_id, **changes)
    cascaded: list[str] = []
    scaffolds = {p + task_id for p in SCAFFOLD_PREFIXES} | {".verify-deferred-" + task_id}
    for other in list(graph.tasks()):
        oid = other["id"]
        if other.get("status") in TERMINAL or not is_system(oid):
            continue
        if oid in scaffolds or task_id in (other.get("after") or ()):
            graph.update(
                oid,
                status="abandoned",
                failure_reason=f"Parent task '{task_id}' was abandoned",
                log=_log(other, log_entry(stamp, f"Auto-abandoned: parent '{task_id}' was abandoned")),
            )
            cascaded.append(oid)
    return {"changed": True, "task": updated, "auto_abandoned": cascaded}


# -- retry --------------------------------------------------------------------------------------


def retry(
    graph: Graph,
    task_id: str,
    now: int,
    reason: str | None = None,
    preserve_session: bool = False,
    live_agents: Container[str] | None = None,
) -> dict[str, Any]:
    """Reopen a failed/incomplete/in-progress task; clears stale downstream claims.

    ``live_agents``: ids of agents known alive to the registry; None means no registry (all unknown).
    """
    task = require(graph, task_id, suggest=False)  # spec core 1.1: no did-you-mean for retry
    status = task.get("status", "open")
    if status not in ("failed", "incomplete", "in-progress"):
        raise WgError(
            f"Task '{task_id}' is not failed or incomplete (status: {status_name(status)}). "
            "Only failed or incomplete tasks can be retried."
        )
    retries = int(task.get("retry_count", 0))
    maximum = task.get("max_retries")
    if status == "in-progress":
        retries += 1  # the running attempt counts (service 8.4)
    if maximum is not None and retries >= maximum:
        raise WgError(
            f"Task '{task_id}' has reached max retries ({retries}/{maximum}). "
            "Consider abandoning or increasing max_retries."
        )
    stamp = format_ts(now)
    attempt = retries + 1
    from_word = "incomplete" if status == "incomplete" else "failed"
    msg = f"Task reset for retry from {from_word} (attempt #{attempt})" + (
        f" — reason: {reason}" if reason else ""
    )
    tags = [t for t in task.get("tags") or () if t not in ("converged", "zero-output-circuit-broken")]
    changes: dict[str, Any] = {
        "status": "open",
        "failure_reason": None,
        "assigned": None,
        "ready_after": None,
        "spawn_failures": 0,
        "retry_count": retries,
        "tags": tags or None,
        "log": _log(task, log_entry(stamp, msg)),
    }
    if not preserve_session:
        changes["session_id"] = None
        changes["checkpoint"] = None
    graph.update(task_id, **changes)
    cleared = clear_stale_claims(graph, task_id, now, live_agents)
    return {
        "task": graph.get(task_id),
        "from": from_word,
        "attempt": attempt,
        "cleared": cleared,
        "max_retries": maximum,
    }


def clear_stale_claims(graph: Graph, task_id: str, now: int, live_agents: Container[str] | None) -> list[str]:
    from .graph import closure

    stamp = format_ts(now)
    cleared: list[str] = []
    for tid in closure(graph, [task_id]):
        if tid == task_id:
            continue
        t = graph.get(tid)
        if t is None or t.get("status") in TERMINAL or not t.get("assigned"):
            continue
        who = t["assigned"]
        if live_agents is not None and who in live_agents:
            continue
        entry = log_entry(
            stamp, f"stale-claim cleared via retry of {task_id} (was assigned to @{who} — agent dead/missing)"
        )
        changes: dict[str, Any] = {"assigned": None, "started_at": None, "log": _log(t, entry)}
        if t.get("status") == "in-progress":
            changes["status"] = "open"
        graph.update(tid, **changes)
        cleared.append(tid)
    return cleared


def dependencies_met(graph: Graph, task: Record) -> bool:
    return all(dependency_satisfied(graph, task, d) for d in task.get("after") or ())
