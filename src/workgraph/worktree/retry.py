"""``wg retry`` and worktrees (spec worktrees.md 8): resume in place, or ``--fresh`` discard the old worktree.

After ``--fresh`` no worktree of the task is left on disk, so the dispatcher's ``prepare_worktree`` finds no
prior one and creates a new branch from the target's tip (passing ``fresh=True`` is then the same thing).
Unlanded commits are never lost: the branch stays (``gc.archive`` snapshots uncommitted work on it first).
"""

from __future__ import annotations

import os

from .records import WORKTREES_DIR

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _has_worktrees(root: str) -> bool:
    """Cheap check before any git subprocess: no ``.wg-worktrees/`` means no worktree at all."""
    return os.path.isdir(os.path.join(root, WORKTREES_DIR))


def resume_path(wg_dir: str, task_id: str) -> str | None:
    """The worktree the task's next agent will reuse (retry in place), or None."""
    from .create import find_prior_worktree

    root = os.path.dirname(os.path.realpath(wg_dir))
    if not _has_worktrees(root):
        return None
    prior = find_prior_worktree(root, wg_dir, task_id)
    return prior[0] if prior else None


def discard_prior(wg_dir: str, task_id: str) -> list[dict[str, Any]]:
    """``--fresh``: archive and remove every worktree the next agent would otherwise reuse.

    Returns one ``{"path", "agent", "messages"}`` per discarded worktree (``messages`` holds the snapshot and
    ``Kept unlanded commits ...`` lines). Raises WgError (nothing more removed) when one is in use by a live
    agent or cannot be removed.
    """
    from ..errors import WgError
    from .create import find_prior_worktree
    from .gc import archive

    root = os.path.dirname(os.path.realpath(wg_dir))
    if not _has_worktrees(root):
        return []
    done: list[dict[str, Any]] = []
    seen: set[str] = set()
    while True:
        prior = find_prior_worktree(root, wg_dir, task_id)
        if prior is None:
            return done
        path = prior[0]
        real = os.path.realpath(path)
        if real in seen:  # removal did not take: stop rather than loop
            raise WgError(f"Could not remove the prior worktree at {path}")
        seen.add(real)
        agent = os.path.basename(real)
        if os.path.realpath(os.path.join(root, WORKTREES_DIR, agent)) != real:
            raise WgError(
                f"Prior worktree {path} is outside {os.path.join(root, WORKTREES_DIR)}; not removing it"
            )
        lines = archive(wg_dir, root, agent, remove=True)
        messages = [ln for ln in lines if not ln.startswith("Removed worktree ")]
        done.append({"path": path, "agent": agent, "messages": messages})
