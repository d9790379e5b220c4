"""Dispatcher scaffolding for agency (service.md 9.3-9.4) as pure changes on a ``Graph``.

The service calls these inside one store transaction per tick (``store.transaction(lambda g: ..., now)``).
No I/O, no clock: ``now`` is epoch ns; ``config`` is the effective ``Config`` (anything with ``get`` and
``agency_flag``). Each returns the ids of the system tasks it created or changed; calling twice is a no-op.
"""

from __future__ import annotations

from ..graph import Graph, Readiness
from ..model import TERMINAL, is_system, log_entry, new_task
from ..timeutil import format_ts, parse_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Container, Mapping
    from typing import Any

    from ..model import Record

_NS = 1_000_000_000
NO_ASSIGN_TAGS = frozenset(("evaluation", "assignment", "evolution"))
DEFAULT_EVALUATOR_MODEL = "claude:haiku"


def evaluator_model(config: Any, override: str | None = None) -> str:
    """agency.md 4.2: ``--evaluator-model``, ``[models.evaluator] model``, ``[agency] evaluator_model``."""
    for value in (override, config.get("models.evaluator.model"), config.get("agency.evaluator_model")):
        if isinstance(value, str) and value:
            return value
    return DEFAULT_EVALUATOR_MODEL


def _num(config: Any, key: str, default: float) -> float:
    value = config.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else default


def gate_threshold(config: Any) -> float:
    return _num(config, "agency.eval_gate_threshold", 0.7)


def is_shell(task: Record) -> bool:
    return bool(task.get("exec")) or task.get("exec_mode") == "shell"


def _ready_since(graph: Graph, task: Record) -> int | None:
    """When the task became ready: the latest of its creation, its dependencies' completion and its time gates."""
    stamps = [task.get("created_at"), task.get("not_before"), task.get("ready_after")]
    for dep_id in task.get("after") or ():
        dep = graph.get(dep_id)
        if dep is not None:
            stamps.append(dep.get("completed_at"))
    times = [t for t in (parse_ts(s, naive_ok=True) for s in stamps if s) if t is not None]
    return max(times) if times else None


def _system_task(task_id: str, title: str, now: int, **fields: Any) -> Record:
    rec = new_task(task_id, title, format_ts(now))
    rec.update({k: v for k, v in fields.items() if v not in (None, [], "")})
    return rec


def scaffold_assignments(graph: Graph, config: Any, now: int) -> list[str]:
    """9.3: ``.assign-<task>`` for ready tasks without an agent, after the grace period; re-open abandoned ones."""
    if not config.agency_flag("auto_assign"):
        return []
    grace = _num(config, "agency.auto_assign_grace_seconds", 10.0)
    stamp = format_ts(now)
    changed: list[str] = []
    for task in Readiness(graph, now).ready:
        tid = task["id"]
        if is_system(tid) or is_shell(task) or task.get("agent") or task.get("assigned"):
            continue
        if NO_ASSIGN_TAGS.intersection(task.get("tags") or ()):
            continue
        since = _ready_since(graph, task)
        if since is not None and now - since < grace * _NS:
            continue
        aid = ".assign-" + tid
        existing = graph.get(aid)
        if existing is not None:
            if existing.get("status") != "abandoned":
                continue
            log = [*(existing.get("log") or []), log_entry(stamp, "Re-opened: task still has no agent")]
            graph.update(aid, status="open", failure_reason=None, completed_at=None, log=log)
        else:
            graph.put(
                _system_task(
                    aid,
                    f"Assign agent for: {task.get('title', tid)}",
                    now,
                    priority=task.get("priority", 10),
                    tags=["assignment", "agency", "skip-eval"],
                    exec=f"wg assign {tid} --auto",
                    exec_mode="bare",
                    visibility="internal",
                )
            )
        graph.add_dependency(tid, aid)
        changed.append(aid)
    return changed


def assignment_due(graph: Graph, config: Any, now: int) -> int | None:
    """When the next ``.assign-*`` becomes due: the earliest end of a grace period still running (epoch ns),
    so the service can tick then. None when no task waits for its grace period."""
    if not config.agency_flag("auto_assign"):
        return None
    grace = _num(config, "agency.auto_assign_grace_seconds", 10.0) * _NS
    due: int | None = None
    for task in Readiness(graph, now).ready:
        tid = task["id"]
        if is_system(tid) or is_shell(task) or task.get("agent") or task.get("assigned"):
            continue
        if NO_ASSIGN_TAGS.intersection(task.get("tags") or ()) or graph.get(".assign-" + tid) is not None:
            continue
        since = _ready_since(graph, task)
        if since is not None and now - since < grace:
            at = since + int(grace)
            due = at if due is None else min(due, at)
    return due


def audit_direct_dispatch(graph: Graph, task_id: str, now: int) -> str | None:
    """9.3: a task spawned without an agent gets a ``done`` audit ``.assign-<task>`` (no edge), once."""
    aid = ".assign-" + task_id
    task = graph.get(task_id)
    if task is None or is_system(task_id) or graph.get(aid) is not None:
        return None
    stamp = format_ts(now)
    graph.put(
        _system_task(
            aid,
            f"Assign agent for: {task.get('title', task_id)}",
            now,
            description=f"Direct dispatch: '{task_id}' was spawned without an agency agent.",
            status="done",
            completed_at=stamp,
            tags=["assignment", "agency", "skip-eval"],
            visibility="internal",
        )
    )
    return aid


def scaffold_evaluations(
    graph: Graph, config: Any, now: int, human_agents: Container[str] = frozenset()
) -> list[str]:
    """9.4: ``.evaluate-<task>`` (and ``.flip-<task>`` with FLIP) once per task, marked by ``eval-scheduled``.

    ``human_agents`` holds the ids of human agents (``AgencyStore.human_agent_ids``); their tasks are skipped.
    A task carrying ``eval-scheduled`` never gets another, even after its ``.evaluate-`` was archived or gc'd.
    """
    if not config.agency_flag("auto_evaluate"):
        return []
    flip_all = config.get("agency.flip_enabled") is True
    model = evaluator_model(config)
    created: list[str] = []
    for task in list(graph.tasks()):
        tid = task["id"]
        tags = list(task.get("tags") or [])
        if is_system(tid) or is_shell(task) or "eval-scheduled" in tags or "skip-eval" in tags:
            continue
        if task.get("paused") or task.get("status") == "abandoned":
            continue
        if task.get("agent") and task["agent"] in human_agents:
            continue
        eid = ".evaluate-" + tid
        after = [tid]
        if flip_all or "flip-eval" in tags:
            fid = ".flip-" + tid
            if graph.get(fid) is None:
                graph.put(
                    _system_task(
                        fid,
                        f"FLIP: {task.get('title', tid)}",
                        now,
                        after=[tid],
                        tags=["flip", "agency"],
                        exec=f"wg evaluate run {tid} --flip",
                        exec_mode="bare",
                        visibility="internal",
                    )
                )
                created.append(fid)
            after = [fid]
        if graph.get(eid) is None:
            graph.put(
                _system_task(
                    eid,
                    f"Evaluate: {task.get('title', tid)}",
                    now,
                    after=after,
                    tags=["evaluation", "agency"],
                    exec=f"wg evaluate run {tid}",
                    exec_mode="bare",
                    visibility="internal",
                    model=model,
                )
            )
            created.append(eid)
        graph.update(tid, tags=[*tags, "eval-scheduled"])
    return created


def settle_pending_evals(
    graph: Graph, config: Any, now: int, newest_scores: Mapping[str, float | None]
) -> list[str]:
    """9.4: once ``.evaluate-<task>`` is terminal, settle a ``pending-eval``/``failed-pending-eval`` source.

    ``newest_scores`` maps task id -> score of its newest evaluation (``newest_scores`` in ``evalfiles``).
    """
    threshold = gate_threshold(config)
    stamp = format_ts(now)
    settled: list[str] = []
    for task in list(graph.tasks()):
        status = task.get("status")
        if status not in ("pending-eval", "failed-pending-eval"):
            continue
        tid = task["id"]
        gate = graph.get(".evaluate-" + tid)
        if gate is not None and gate.get("status") not in TERMINAL:
            continue
        score = newest_scores.get(tid)
        log = list(task.get("log") or [])
        if status == "pending-eval":
            if gate is None or gate.get("status") != "done" or score is None:
                log.append(log_entry(stamp, "Evaluation ended without a score; promoted to done"))
            graph.update(tid, status="done", log=log)
        elif score is not None and score >= threshold:
            log.append(log_entry(stamp, f"Evaluation score {score:.2f} ≥ {threshold:.2f}; promoted to done"))
            graph.update(tid, status="done", log=log)
        else:
            why = "no score" if score is None else f"score {score:.2f} below threshold {threshold:.2f}"
            log.append(log_entry(stamp, f"Evaluation settled the failure ({why})"))
            graph.update(tid, status="failed", retry_count=int(task.get("retry_count", 0)) + 1, log=log)
        settled.append(tid)
    return settled
