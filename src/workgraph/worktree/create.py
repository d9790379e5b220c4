"""Making an agent's worktree (spec worktrees.md 3): fresh from the target's tip, or reused in place."""

from __future__ import annotations

import os

from ..errors import WgError
from . import git
from .records import WORKTREES_DIR, agent_number, live_agents_using, task_agents, update_metadata

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

EXCLUDES = ("/.wg", "/.wg-worktrees/", "/.wg-cleanup-pending")
ISOLATED_EXECUTORS = ("claude", "codex", "native", "command")


class WorktreeInfo:
    """Where an isolated agent runs. ``reused`` is True for a retry in place; ``log`` holds the spawn line."""

    def __init__(
        self,
        path: str,
        branch: str,
        target_branch: str,
        base_commit: str,
        reused: bool = False,
        log: str = "",
    ) -> None:
        self.path = path
        self.branch = branch
        self.target_branch = target_branch
        self.base_commit = base_commit
        self.reused = reused
        self.log = log

    def metadata(self) -> dict[str, Any]:
        return {
            "worktree_path": self.path,
            "worktree_branch": self.branch,
            "target_branch": self.target_branch,
            "base_commit": self.base_commit,
        }

    def env(self, project_root: str) -> dict[str, str]:
        """The agent's environment additions (spec 4)."""
        return {
            "WG_WORKTREE_PATH": self.path,
            "WG_BRANCH": self.branch,
            "WG_PROJECT_ROOT": os.path.abspath(project_root),
            "WG_TARGET_BRANCH": self.target_branch,
            "WG_WORKTREE_ACTIVE": "1",
            "CARGO_TARGET_DIR": os.path.join(self.path, "target"),
        }


def wants_isolation(
    task_id: str, executor: str, exec_mode: str, *, isolation_on: bool = True, isolate_shell: bool = False
) -> bool:
    """The non-git conditions of spec 3 (the dispatcher then calls ``isolation_target``)."""
    if not isolation_on or task_id.startswith("."):
        return False
    if exec_mode in ("bare", "light"):
        return False
    return executor in ISOLATED_EXECUTORS or (executor == "shell" and isolate_shell)


def isolation_target(project_root: str, configured: str | None) -> tuple[str | None, str | None]:
    """(target branch, None) when isolation can work here, else (None, the one warning line of spec 3)."""
    root = os.path.abspath(project_root)
    is_repo, has_commits = git.is_repo_with_commits(root)
    if not is_repo:
        return (
            None,
            f"Warning: worktree isolation is on but {root} is not a git repository — agents share the project directory.",
        )
    if not has_commits:
        return (
            None,
            f"Warning: worktree isolation is on but {root} has no commits yet — agents share the project directory.",
        )
    target = configured or git.current_branch(root)
    if target is None:
        target = next((b for b in ("main", "master") if git.rev(root, f"refs/heads/{b}")), None)
    if target is None or git.rev(root, f"refs/heads/{target}") is None:
        return (
            None,
            "Warning: worktree isolation is on but no target branch could be determined — agents share the project directory.",
        )
    return target, None


def ensure_excludes(project_root: str) -> None:
    """``<git common dir>/info/exclude`` gets ``/.wg``, ``/.wg-worktrees/``, ``/.wg-cleanup-pending``."""
    path = os.path.join(git.common_dir(project_root), "info", "exclude")
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    have = {line.strip() for line in text.splitlines()}
    missing = [e for e in EXCLUDES if e not in have]
    if not missing:
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        if text and not text.endswith("\n"):
            fh.write("\n")
        fh.write("".join(e + "\n" for e in missing))


def _link_wg(worktree: str, wg_dir: str) -> None:
    link = os.path.join(worktree, ".wg")
    target = os.path.realpath(wg_dir)
    if os.path.islink(link):
        if os.readlink(link) == target:
            return
        os.unlink(link)
    elif os.path.exists(link):
        return  # a tracked .wg directory: leave the user's files alone
    os.symlink(target, link)


def create_worktree(
    project_root: str, wg_dir: str, agent_id: str, task_id: str, target_branch: str
) -> WorktreeInfo:
    """Creation steps 1-4 of spec 3. Raises WgError (a spawn failure) on any problem."""
    root = os.path.abspath(project_root)
    path = os.path.join(root, WORKTREES_DIR, agent_id)
    branch = f"wg/{agent_id}/{task_id}"
    if os.path.lexists(path):
        raise WgError(
            f"Worktree already exists at {path}. Worktrees are not auto-removed. Archive it explicitly with: "
            f"wg worktree archive {agent_id} --remove"
        )
    tip = git.rev(root, f"refs/heads/{target_branch}")
    if tip is None:
        raise WgError(
            f"Target branch '{target_branch}' not found — cannot create a worktree for '{task_id}'."
        )
    os.makedirs(os.path.dirname(path), exist_ok=True)
    ensure_excludes(root)
    res = git.run(root, "worktree", "add", "-q", "-b", branch, path, tip, check=False)
    if not res.ok:
        raise WgError(f"Failed to create worktree at {path}: {res.err.strip()}")
    _link_wg(path, wg_dir)
    info = WorktreeInfo(path, branch, target_branch, tip)
    update_metadata(wg_dir, agent_id, **info.metadata())
    return info


def find_prior_worktree(project_root: str, wg_dir: str, task_id: str) -> tuple[str, str] | None:
    """An earlier attempt's worktree that still exists and no live agent uses: (path, branch)."""
    root = os.path.abspath(project_root)
    for rec in task_agents(wg_dir, task_id):
        path = rec.get("worktree_path")
        if isinstance(path, str) and os.path.isdir(path) and not live_agents_using(wg_dir, path):
            branch = git.current_branch(path) or rec.get("worktree_branch")
            if isinstance(branch, str) and branch:
                return path, branch
    base = os.path.join(root, WORKTREES_DIR)
    try:
        names = sorted(os.listdir(base), key=agent_number, reverse=True)
    except OSError:
        return None
    for name in names:
        path = os.path.join(base, name)
        if agent_number(name) < 0 or not os.path.isdir(path):
            continue
        if git.current_branch(path) == f"wg/{name}/{task_id}" and not live_agents_using(wg_dir, path):
            return path, f"wg/{name}/{task_id}"
    return None


def reuse_worktree(
    project_root: str, wg_dir: str, agent_id: str, task_id: str, target_branch: str, prior: tuple[str, str]
) -> WorktreeInfo:
    """Retry in place: a clean worktree is rebased onto the target's tip (aborted, untouched, on conflict)."""
    path, branch = prior
    root = os.path.abspath(project_root)
    ensure_excludes(root)
    _link_wg(path, wg_dir)
    tip = git.rev(root, f"refs/heads/{target_branch}") or ""
    if not [line for line in git.porcelain(path) if not line.startswith("??")]:
        res = git.run(path, "rebase", "-q", f"refs/heads/{target_branch}", check=False)
        if not res.ok:
            git.run(path, "rebase", "--abort", check=False)
    base = git.run(root, "merge-base", tip, f"refs/heads/{branch}", check=False).out.strip() or tip
    log = f"[spawn] Reusing prior worktree for task '{task_id}' at {path} (branch: {branch}) — retry-in-place"
    info = WorktreeInfo(path, branch, target_branch, base, reused=True, log=log)
    update_metadata(wg_dir, agent_id, **info.metadata())
    return info


def prepare_worktree(
    project_root: str, wg_dir: str, agent_id: str, task_id: str, target_branch: str, *, fresh: bool = False
) -> WorktreeInfo:
    """What the dispatcher calls after writing the ``starting`` registry entry: reuse in place, else create."""
    prior = None if fresh else find_prior_worktree(project_root, wg_dir, task_id)
    if prior is not None:
        return reuse_worktree(project_root, wg_dir, agent_id, task_id, target_branch, prior)
    return create_worktree(project_root, wg_dir, agent_id, task_id, target_branch)
