"""The ``## Landing Conflict`` prompt section (spec worktrees.md 6.3, ``on_conflict = "retry"``).

The next agent of a task whose landing conflicted runs in the same worktree (retry in place) and is told which
paths conflicted and to merge the target branch first. Everything comes from recorded agent metadata
(``land_conflicts``, written by the landing; cleared by a later successful landing), no git is run.
"""

from __future__ import annotations

import os

from .records import task_agents

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..model import Record


def pending_conflict(wg_dir: str, task_id: str, worktree_path: str | None = None) -> dict[str, Any] | None:
    """The newest unresolved landing conflict of the task: ``{"paths", "target", "worktree", "agent"}``.

    Walks the task's agents with a worktree, newest first: a record with ``land_conflicts`` is the conflict, one
    with landing facts (``landed_branch_tip``) means a later landing succeeded, any other (the agent being
    spawned now, an attempt that died without landing) is skipped. The conflict counts only while its worktree
    still exists and, when ``worktree_path`` is given (the new agent's worktree), only for that same directory:
    a ``wg retry --fresh`` start on a new branch has nothing to merge.
    """
    for rec in task_agents(wg_dir, task_id):
        path = rec.get("worktree_path")
        if not isinstance(path, str) or not path:
            continue
        conflicts = rec.get("land_conflicts")
        if isinstance(conflicts, list) and conflicts:
            if not os.path.isdir(path):
                return None
            if worktree_path and os.path.realpath(worktree_path) != os.path.realpath(path):
                return None
            target = rec.get("target_branch")
            return {
                "paths": [str(c) for c in conflicts],
                "target": target if isinstance(target, str) and target else "main",
                "worktree": path,
                "agent": rec.get("agent_id"),
            }
        if rec.get("landed_branch_tip") or rec.get("landed_commit"):
            return None
    return None


def landing_conflict_section(wg_dir: str, task: Record, worktree_path: str | None = None) -> str:
    """``## Landing Conflict`` for the task's next agent, "" when there is no unresolved conflict.

    ``worktree_path``: the directory the new agent runs in (``WG_WORKTREE_PATH``); pass it so a conflict
    recorded for another (discarded) worktree is not reported.
    """
    found = pending_conflict(wg_dir, str(task["id"]), worktree_path)
    if found is None:
        return ""
    tid = task["id"]
    target = found["target"]
    listing = "\n".join(f"- `{p}`" for p in found["paths"])
    return f"""## Landing Conflict

The previous attempt's work on this task could not be landed on `{target}`: these files conflict with changes \
made on `{target}` since the branch was created:

{listing}

Before anything else, run `git merge {target}` in this worktree, resolve the conflicts in these files (keep both \
sides' intent), and commit the merge. Then finish the task and run `wg done {tid}` to land it."""
