"""Listing, archiving and garbage-collecting agent worktrees (spec worktrees.md 7-8).

No command here ever deletes an unlanded commit: a worktree with unlanded commits loses its directory only,
its branch stays. Removal never runs a repository-wide ``git worktree prune``.
"""

from __future__ import annotations

import os
import time

from . import git
from .land import CLEANUP_MARKER
from .records import (
    AGENT_DIR,
    WORKTREES_DIR,
    agent_number,
    all_agents,
    entry_live,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class WorktreeState:
    """The facts about one ``.wg-worktrees/agent-N`` directory."""

    def __init__(self, agent: str, path: str) -> None:
        self.agent = agent
        self.path = path
        self.branch: str | None = None
        self.task_id: str | None = None
        self.target: str | None = None
        self.owner: str | None = None  # agent id of the newest record naming this path
        self.has_git = False
        self.orphan = False
        self.live: list[str] = []
        self.dirty: list[str] = []
        self.landed = False
        self.commits_ahead = 0
        self.size_bytes = 0
        self.modified = 0.0

    @property
    def state(self) -> str:
        if self.orphan:
            return "orphan"
        if self.live:
            return "live"
        if self.dirty:
            return "dirty"
        if self.landed:
            return "landed"
        return "unlanded"

    def status_suffix(self) -> str:
        s = self.state
        return f" [unlanded: {self.commits_ahead} commit(s)]" if s == "unlanded" else f" [{s}]"

    def as_json(self) -> dict[str, Any]:
        return {
            "agent": self.agent,
            "path": self.path,
            "branch": self.branch,
            "task_id": self.task_id,
            "size_bytes": self.size_bytes,
            "modified": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.modified)),
            "state": self.state,
            "commits_ahead": self.commits_ahead,
        }


def _walk_stats(path: str) -> tuple[int, float]:
    size, newest = 0, 0.0
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        for name in filenames:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            size += st.st_size
            newest = max(newest, st.st_mtime)
    try:
        newest = max(newest, os.lstat(path).st_mtime)
    except OSError:
        pass
    return size, newest


def is_landed(root: str, branch: str, target: str, recorded_tip: object) -> bool:
    """Spec 1: the recorded ``landed_branch_tip`` is the tip, or merging the branch into the target changes nothing."""
    tip = git.rev(root, f"refs/heads/{branch}")
    old = git.rev(root, f"refs/heads/{target}")
    if tip is None or old is None:
        return False
    if recorded_tip == tip:
        return True
    res = git.run(root, "merge-tree", "--write-tree", "--no-messages", old, tip, check=False)
    if res.code != 0:
        return False
    return res.out.split("\n", 1)[0].strip() == git.out(root, "rev-parse", f"{old}^{{tree}}")


def inspect(
    wg_dir: str, root: str, path: str, agents: dict[str, dict[str, Any]] | None = None
) -> WorktreeState:
    agents = all_agents(wg_dir) if agents is None else agents
    name = os.path.basename(path)
    st = WorktreeState(name, path)
    real = os.path.realpath(path)
    recs = [
        r
        for r in agents.values()
        if isinstance(r.get("worktree_path"), str) and os.path.realpath(r["worktree_path"]) == real
    ]
    recs.sort(key=lambda r: agent_number(str(r["agent_id"])), reverse=True)
    for rec in recs:
        entry = rec.get("registry")
        if isinstance(entry, dict) and entry_live(entry):
            st.live.append(str(rec["agent_id"]))
    owner = recs[0] if recs else agents.get(name)
    st.owner = str(owner["agent_id"]) if owner else None
    st.has_git = os.path.lexists(os.path.join(path, ".git")) and git.head_ref(path) is not None
    st.orphan = owner is None or not st.has_git
    st.size_bytes, st.modified = _walk_stats(path)
    if st.has_git:
        st.branch = git.current_branch(path)
        st.dirty = [line[3:] for line in git.porcelain(path)]
    meta = owner or {}
    if st.branch is None and isinstance(meta.get("worktree_branch"), str):
        st.branch = meta["worktree_branch"]
    st.task_id = meta.get("task_id") if isinstance(meta.get("task_id"), str) else None
    if st.task_id is None and st.branch and st.branch.startswith("wg/") and st.branch.count("/") >= 2:
        st.task_id = st.branch.split("/", 2)[2]
    target = meta.get("target_branch")
    st.target = target if isinstance(target, str) and target else (git.current_branch(root) or "main")
    if st.branch and git.rev(root, f"refs/heads/{st.branch}"):
        st.landed = is_landed(root, st.branch, st.target, meta.get("landed_branch_tip"))
        if git.rev(root, f"refs/heads/{st.target}"):
            st.commits_ahead = int(
                git.out(root, "rev-list", "--count", f"refs/heads/{st.target}..refs/heads/{st.branch}") or 0
            )
    return st


def scan(wg_dir: str, root: str) -> list[WorktreeState]:
    base = os.path.join(root, WORKTREES_DIR)
    try:
        names = [n for n in os.listdir(base) if AGENT_DIR.match(n) and os.path.isdir(os.path.join(base, n))]
    except OSError:
        return []
    agents = all_agents(wg_dir)
    return [inspect(wg_dir, root, os.path.join(base, n), agents) for n in sorted(names, key=agent_number)]


# -- decisions (spec 7) -----------------------------------------------------------------------------


def decide(st: WorktreeState, task_status: str | None, caller: str | None, force: bool) -> tuple[str, str]:
    """(decision, reason): remove, keep-branch, uncommitted or skip."""
    if st.live:
        return "skip", f"live agent {st.live[0]}"
    if caller and os.path.realpath(caller) == os.path.realpath(st.path):
        return "skip", "the caller's own worktree"
    if task_status == "in-progress":
        return "skip", "task is in-progress"
    if not st.has_git:
        return "skip", "no git metadata"
    if st.dirty and not force:
        return "uncommitted", f"{len(st.dirty)} uncommitted file(s)"
    if st.dirty:  # --force: the snapshot commit is new, unlanded work, so the branch stays
        return "keep-branch", f"{len(st.dirty)} uncommitted file(s) snapshotted on {st.branch} first"
    if st.landed:
        return "remove", "landed"
    return "keep-branch", f"{st.commits_ahead} unlanded commit(s) on {st.branch}"


def snapshot(path: str, agent: str) -> bool:
    """Commit everything uncommitted on the worktree's branch as ``archive: {agent} work snapshot``."""
    if not git.porcelain(path):
        return False
    git.run(path, "add", "-A")
    git.run(path, "commit", "-q", "--no-verify", "-m", f"archive: {agent} work snapshot", env=_identity(path))
    return True


def _identity(path: str) -> dict[str, str]:
    extra: dict[str, str] = {}
    if not git.run(path, "config", "--get", "user.name", check=False).out.strip():
        extra.update(GIT_AUTHOR_NAME="wg", GIT_COMMITTER_NAME="wg")
    if not git.run(path, "config", "--get", "user.email", check=False).out.strip():
        extra.update(GIT_AUTHOR_EMAIL="wg@localhost", GIT_COMMITTER_EMAIL="wg@localhost")
    return git.git_env(extra)


def remove_worktree(root: str, st: WorktreeState, *, delete_branch: bool) -> list[str]:
    """Delete the ``.wg`` link, ``git worktree remove --force``, and the branch only when landed.

    Returns the lines to print (``Kept unlanded commits ...`` when the branch stays with unlanded work).
    """
    lines: list[str] = []
    link = os.path.join(st.path, ".wg")
    if os.path.islink(link):
        os.unlink(link)
    marker = os.path.join(st.path, CLEANUP_MARKER)
    if os.path.isfile(marker):
        os.unlink(marker)
    git.run(root, "worktree", "remove", "--force", st.path)
    if st.branch and git.rev(root, f"refs/heads/{st.branch}"):
        if delete_branch and st.landed:
            git.run(root, "branch", "-D", st.branch)
        elif not st.landed:
            lines.append(
                f"Kept unlanded commits of {st.path} on branch {st.branch} ({st.commits_ahead} commit(s))"
            )
    return lines


def execute(root: str, st: WorktreeState, decision: str) -> list[str]:
    """Carry out a ``remove``/``keep-branch`` decision (after a ``--force`` snapshot when dirty)."""
    if decision not in ("remove", "keep-branch"):
        return []
    if st.dirty:
        snapshot(st.path, st.owner or st.agent)
        st.dirty = []
        if st.branch and st.target:
            st.commits_ahead = int(
                git.out(root, "rev-list", "--count", f"refs/heads/{st.target}..refs/heads/{st.branch}") or 0
            )
            st.landed = is_landed(root, st.branch, st.target, None)
    return remove_worktree(root, st, delete_branch=st.landed)


def removable(st: WorktreeState) -> bool:
    """Spec 7: landed, no live lease, process gone, nothing uncommitted (untracked files count)."""
    return st.has_git and st.landed and not st.live and not st.dirty and not st.orphan


def sweep(wg_dir: str, root: str, limit: int = 10) -> list[str]:
    """The daemon tick's sweep: remove up to ``limit`` removable worktrees. Returns the removed paths."""
    removed: list[str] = []
    for st in scan(wg_dir, root):
        if len(removed) >= limit:
            break
        if removable(st):
            remove_worktree(root, st, delete_branch=True)
            removed.append(st.path)
    return removed


def remove_if_removable(wg_dir: str, root: str, worktree: str) -> bool:
    """What the daemon calls right after an agent exits."""
    if not os.path.isdir(worktree):
        return False
    st = inspect(wg_dir, root, worktree)
    if not removable(st):
        return False
    remove_worktree(root, st, delete_branch=True)
    return True


def archive(wg_dir: str, root: str, agent: str, *, remove: bool) -> list[str]:
    """``wg worktree archive <agent> [--remove]``: snapshot uncommitted work, then optionally remove (branch kept)."""
    from ..errors import WgError

    path = os.path.join(root, WORKTREES_DIR, agent)
    if not os.path.isdir(path):
        raise WgError(f"No worktree for agent '{agent}' at {path}")
    st = inspect(wg_dir, root, path)
    if st.live:
        raise WgError(
            f"Worktree {path} is in use by live agent {st.live[0]}; let it finish or kill it first."
        )
    lines: list[str] = []
    if st.has_git and snapshot(path, agent):
        lines.append(
            f"Committed uncommitted work of {agent} on {st.branch} as 'archive: {agent} work snapshot'"
        )
        st = inspect(wg_dir, root, path)
    if remove:
        lines += remove_worktree(root, st, delete_branch=False)
        lines.append(f"Removed worktree {path}" + (f" (branch {st.branch} kept)" if st.branch else ""))
    elif not lines:
        lines.append(f"Nothing to archive in {path}")
    return lines


def older_than(st: WorktreeState, seconds: int, now: float | None = None) -> bool:
    return (now if now is not None else time.time()) - st.modified >= seconds
