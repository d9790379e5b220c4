"""The ``Worktree:`` facts of ``wg show`` (spec worktrees.md 8), from recorded facts, never from ancestry."""

from __future__ import annotations

import os
import time

from . import git
from .land import CLEANUP_MARKER
from .records import WORKTREES_DIR, task_agents

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def state_for_show(wg_dir: str, task_id: str) -> dict[str, Any] | None:
    """What ``wg show`` calls: None at once (no registry read, no git) when the project has no
    ``.wg-worktrees/``; never raises (a broken worktree must not break ``wg show``)."""
    root = os.path.dirname(os.path.realpath(wg_dir))
    if not os.path.isdir(os.path.join(root, WORKTREES_DIR)):
        return None
    from ..errors import WgError

    try:
        return worktree_state(wg_dir, task_id)
    except (WgError, OSError, ValueError):
        return None


def worktree_state(wg_dir: str, task_id: str) -> dict[str, Any] | None:
    """``worktree_state`` of ``wg show --json`` for the task's newest agent with a worktree, else None."""
    root = os.path.dirname(os.path.realpath(wg_dir))
    rec = next((r for r in task_agents(wg_dir, task_id) if isinstance(r.get("worktree_path"), str)), None)
    if rec is None:
        return None
    path = str(rec["worktree_path"])
    branch = rec.get("worktree_branch") if isinstance(rec.get("worktree_branch"), str) else None
    target = rec.get("target_branch") if isinstance(rec.get("target_branch"), str) else "main"
    exists = os.path.isdir(path)
    ahead = 0
    if branch and git.rev(root, f"refs/heads/{branch}") and git.rev(root, f"refs/heads/{target}"):
        ahead = int(git.out(root, "rev-list", "--count", f"refs/heads/{target}..refs/heads/{branch}") or 0)
    uncommitted = len(git.porcelain(path)) if exists and os.path.lexists(os.path.join(path, ".git")) else 0
    tip = git.rev(root, f"refs/heads/{branch}") if branch else None
    landed = bool(rec.get("landed_branch_tip")) and (tip is None or tip == rec.get("landed_branch_tip"))
    modified = os.path.getmtime(path) if exists else None
    state: dict[str, Any] = {
        "path": path,
        "branch": branch,
        "commits_ahead": ahead,
        "uncommitted_files": uncommitted,
        "last_modified": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(modified)) if modified else None,
        "cleanup_pending": exists and os.path.exists(os.path.join(path, CLEANUP_MARKER)),
        "merged_to_main": landed,
    }
    if landed and rec.get("landed_commit"):
        state["landed_commit"] = rec["landed_commit"]
    conflicts = rec.get("land_conflicts")
    if isinstance(conflicts, list) and conflicts:
        state["conflicts"] = [str(c) for c in conflicts]
    return state


def worktree_block(state: dict[str, Any], retry_count: int = 0) -> list[str]:
    """The text block of ``wg show`` (the caller places it, core.md 11.3)."""
    lines = [
        "Worktree:",
        f"  Path:              {state['path']}",
        f"  Branch:            {state['branch'] or '-'}",
        f"  Commits ahead:     {state['commits_ahead']}",
        f"  Uncommitted files: {state['uncommitted_files']}",
        f"  Last modified:     {state['last_modified'] or '-'}",
        f"  Cleanup pending:   {str(state['cleanup_pending']).lower()}",
        f"  Merged to main:    {str(state['merged_to_main']).lower()}",
    ]
    if "landed_commit" in state:
        lines.append(f"  Landed commit:     {state['landed_commit']}")
    if "conflicts" in state:
        lines.append(f"  Conflicts:         {', '.join(state['conflicts'])}")
    if retry_count > 0:
        lines.append(
            f"  (Retried {retry_count} time(s) — `wg retry` resumes in-place; `wg retry --fresh` starts over)"
        )
    return lines
