"""``wg land <task>`` (spec worktrees.md 6.4): land a task's newest unlanded worktree after the fact."""

from __future__ import annotations

import os

from ..errors import WgError
from . import git
from .gate import Found, apply_land_conflict, land_found, record_refusal, worktree_changes
from .records import AGENT_DIR, WORKTREES_DIR, agent_number, live_agents_using, task_agents

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..cli.context import Ctx
    from ..graph import Graph
    from .land import Outcome


def newest_unlanded(wg_dir: str, root: str, task_id: str) -> Found | None:
    """The task's newest worktree whose branch tip is not the recorded landed tip (else one found by name)."""
    from .gate import _target_for

    seen: set[str] = set()
    for rec in task_agents(wg_dir, task_id):
        path = rec.get("worktree_path")
        if not isinstance(path, str) or not os.path.isdir(path) or os.path.realpath(path) in seen:
            continue
        seen.add(os.path.realpath(path))
        branch = rec.get("worktree_branch")
        if not isinstance(branch, str) or not branch:
            branch = git.current_branch(path) or f"wg/{os.path.basename(path)}/{task_id}"
        tip = git.rev(root, f"refs/heads/{branch}")
        if tip is not None and tip == rec.get("landed_branch_tip"):
            continue
        return Found(path, branch, _target_for(wg_dir, root, rec.get("target_branch")), str(rec["agent_id"]))
    base = os.path.join(root, WORKTREES_DIR)
    try:
        names = sorted((n for n in os.listdir(base) if AGENT_DIR.match(n)), key=agent_number, reverse=True)
    except OSError:
        return None
    for name in names:
        path = os.path.join(base, name)
        if os.path.realpath(path) in seen or git.current_branch(path) != f"wg/{name}/{task_id}":
            continue
        return Found(path, f"wg/{name}/{task_id}", _target_for(wg_dir, root, None), None)
    return None


def _finish_change(graph: Graph, task_id: str, log: list[str], now: int, live: bool) -> list[str]:
    """Log lines, then the status changes of 6.4. Returns the ids marked done."""
    from ..model import log_entry
    from ..timeutil import format_ts
    from ..transitions import done, unresolved_for_done

    stamp = format_ts(now)
    task = graph.get(task_id)
    changed: list[str] = []
    if task is None:
        return changed
    if log:
        entries = [log_entry(stamp, m, task.get("assigned")) for m in log]
        task = graph.update(task_id, log=[*(task.get("log") or []), *entries])
    status = task.get("status")
    conflicted = status == "failed" and task.get("failure_class") == "land-conflict"
    if (conflicted or (status == "in-progress" and not live)) and not unresolved_for_done(graph, task):
        done(graph, task_id, now)
        changed.append(task_id)
    merge = graph.get(f".merge-{task_id}")
    if (
        merge is not None
        and merge.get("status") not in ("done", "abandoned")
        and not unresolved_for_done(graph, merge)
    ):
        done(graph, merge["id"], now)
        changed.append(merge["id"])
    return changed


def land_command(ctx: Ctx, task_id: str) -> tuple[Outcome | None, list[str]]:
    """Run 6.4. Returns (outcome or None when nothing to land, ids marked done); raises WgError on refusal."""
    from ..transitions import require
    from .land import conflict_message

    graph = ctx.store.load()
    require(graph, task_id)
    root = os.path.dirname(os.path.realpath(ctx.wg_dir))
    found = newest_unlanded(ctx.wg_dir, root, task_id)
    if found is None:
        # Already landed (e.g. a lander killed after advancing the target): still finish the status change.
        landed = [r for r in task_agents(ctx.wg_dir, task_id) if r.get("landed_branch_tip")]
        if not landed or any(
            live_agents_using(ctx.wg_dir, str(r.get("worktree_path") or "")) for r in landed
        ):
            return None, []
        changed = ctx.store.transaction(lambda g: _finish_change(g, task_id, [], ctx.now, False), ctx.now)
        if changed:
            ctx.mutated("land", task_id, kick=True)
        return None, changed
    live = live_agents_using(ctx.wg_dir, found.path)
    if live:
        raise WgError(
            f"Task '{task_id}' has a live agent ({live[0]}) in {found.path}; let it finish or kill it first."
        )
    tracked, _ = (
        worktree_changes(found.path) if os.path.lexists(os.path.join(found.path, ".git")) else ([], [])
    )
    if tracked:
        from .gate import dirty_message

        raise WgError(dirty_message(task_id, found.path, tracked))
    outcome = land_found(ctx, task_id, found)
    try:
        if outcome.kind == "conflict":
            on_conflict = str(ctx.config.get("worktree.on_conflict", "fail") or "fail")

            def conflict_change(g: Graph) -> None:
                record = g.get(task_id)
                if record is not None:
                    from ..model import log_entry
                    from ..timeutil import format_ts

                    entry = log_entry(format_ts(ctx.now), outcome.log[-1], record.get("assigned"))
                    g.update(task_id, log=[*(record.get("log") or []), entry])
                apply_land_conflict(g, task_id, found.target, outcome.conflicts, ctx.now, on_conflict)

            ctx.store.transaction(conflict_change, ctx.now)
            ctx.mutated("land", task_id)
            raise WgError(conflict_message(task_id, outcome.conflicts, found.target, found.path))
        changed = ctx.store.transaction(
            lambda g: _finish_change(g, task_id, outcome.log, ctx.now, False), ctx.now
        )
    finally:
        outcome.release()
    ctx.mutated("land", task_id, kick=bool(changed))
    return outcome, changed


def land_json(task_id: str, outcome: Outcome | None) -> dict[str, Any]:
    if outcome is None:
        return {"task_id": task_id, "landed": False, "commit": None, "target": None, "conflicts": []}
    return outcome.as_json(task_id)


__all__ = ["land_command", "land_json", "newest_unlanded", "record_refusal"]
