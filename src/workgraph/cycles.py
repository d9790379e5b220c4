"""Cycle iteration on ``wg done`` and failure restarts on ``wg fail`` (spec core 7.3-7.4). Pure."""

from __future__ import annotations

from .graph import Graph, cycle_of
from .model import is_chat, log_entry
from .timeutil import format_ts, parse_duration

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .model import Record


def _config_member(graph: Graph, members: list[str]) -> Record | None:
    for m in members:
        task = graph.get(m)
        if task is not None and isinstance(task.get("cycle_config"), dict):
            return task
    return None


def _guard_holds(graph: Graph, guard: Any, next_iter: int) -> bool:
    if guard is None or guard == "Always":
        return True
    if isinstance(guard, dict):
        if "TaskStatus" in guard:
            spec = guard["TaskStatus"] or {}
            task = graph.get(str(spec.get("task", "")))
            want = spec.get("status")
            want = "done" if want == "pending-review" else want
            return task is not None and task.get("status") == want
        if "IterationLessThan" in guard:
            try:
                return next_iter < int(guard["IterationLessThan"])
            except (TypeError, ValueError):
                return False
    return False


def guard_is_set(cfg: dict[str, Any]) -> bool:
    guard = cfg.get("guard")
    return guard is not None and guard != "Always"


def iteration_label(graph: Graph, task_id: str) -> tuple[int, int] | None:
    """(current iteration 1-based, max) for a task in a configured cycle, else None."""
    members = cycle_of(graph, task_id)
    if not members:
        return None
    cfg_task = _config_member(graph, members)
    if cfg_task is None:
        return None
    cfg = cfg_task["cycle_config"]
    return int(cfg_task.get("loop_iteration", 0)) + 1, int(cfg.get("max_iterations", 0))


def _reopen(
    graph: Graph,
    members: list[str],
    header: str,
    cfg: dict[str, Any],
    next_iter: int,
    now: int,
    statuses: tuple[str, ...],
) -> list[str]:
    maximum = int(cfg.get("max_iterations", 0))
    label = f"{next_iter}/{maximum}" if maximum else f"{next_iter}/unlimited"
    stamp = format_ts(now)
    reopened: list[str] = []
    for m in members:
        task = graph.get(m)
        if task is None or task.get("status") not in statuses:
            continue
        log = [
            *(task.get("log") or []),
            log_entry(stamp, f"Re-activated by cycle iteration (iteration {label})"),
        ]
        graph.update(
            m,
            status="open",
            assigned=None,
            started_at=None,
            completed_at=None,
            last_iteration_completed_at=task.get("completed_at"),
            loop_iteration=next_iter,
            log=log,
        )
        reopened.append(m)
    delay = cfg.get("delay")
    if reopened and isinstance(delay, str):
        secs = parse_duration(delay)
        if secs:
            graph.update(header, ready_after=format_ts(now + secs * 1_000_000_000))
    return reopened


def iterate_after_done(graph: Graph, task_id: str, now: int) -> list[str]:
    """Re-open the cycle holding ``task_id`` when 7.3 allows; returns the re-opened ids."""
    task = graph.get(task_id)
    if task is None or is_chat(task):
        return []
    members = cycle_of(graph, task_id)
    if not members:
        return []
    cfg_task = _config_member(graph, members)
    if cfg_task is None:
        return []
    cfg = cfg_task["cycle_config"]
    recs = [graph.get(m) for m in members]
    live = [r for r in recs if r is not None]
    if any(r.get("status") not in ("done", "abandoned") for r in live):
        return []
    if not any(r.get("status") == "done" for r in live):
        return []
    if any("archived" in (r.get("tags") or ()) for r in live):
        return []
    if not guard_is_set(cfg) and not cfg.get("no_converge"):
        if any("converged" in (r.get("tags") or ()) for r in live):
            return []
    next_iter = int(cfg_task.get("loop_iteration", 0)) + 1
    maximum = int(cfg.get("max_iterations", 0))
    if maximum and next_iter >= maximum:
        return []
    if not _guard_holds(graph, cfg.get("guard"), next_iter):
        return []
    return _reopen(graph, members, members[0], cfg, next_iter, now, ("done",))


def restart_after_failure(graph: Graph, task_id: str, now: int) -> list[str]:
    """7.4: re-open a configured cycle after a member failed, within ``max_failure_restarts``."""
    task = graph.get(task_id)
    if task is None or is_chat(task):
        return []
    members = cycle_of(graph, task_id)
    if not members:
        return []
    cfg_task = _config_member(graph, members)
    if cfg_task is None:
        return []
    cfg = cfg_task["cycle_config"]
    if cfg.get("restart_on_failure") is False:
        return []
    restarts = int(cfg_task.get("cycle_failure_restarts", 0))
    if restarts >= int(cfg.get("max_failure_restarts", 3)):
        return []
    next_iter = int(cfg_task.get("loop_iteration", 0)) + 1
    reopened = _reopen(graph, members, members[0], cfg, next_iter, now, ("done", "failed"))
    if reopened:
        graph.update(cfg_task["id"], cycle_failure_restarts=restarts + 1)
    return reopened
