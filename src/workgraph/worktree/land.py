"""Landing (spec worktrees.md 6): the branch's net change onto the target's CURRENT tip as one commit.

Nothing here touches a working tree except the final fast-forward of a checkout that has the target checked
out (``git merge --ff-only``, which updates only the landed files and refuses when the user's uncommitted
changes touch them). The result is computed with ``git merge-tree --write-tree`` and committed with
``git commit-tree``; the target ref only moves by compare-and-set, so a landing killed at any moment leaves
the target at its old tip or at the landing commit.

The landing lock's descriptor is inherited by every git child of a landing: if the lander is killed, the lock
stays held until its last git child has finished, so the next landing never races a half-done fast-forward.
"""

from __future__ import annotations

import fcntl
import os
import time

from ..errors import WgError
from . import git
from .records import WORKTREES_DIR, update_metadata

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

MARKERS = ("<<<<<<< ", ">>>>>>> ")
CLEANUP_MARKER = ".wg-cleanup-pending"
MAX_ATTEMPTS = 3


class LandRefused(WgError):
    """A landing that changed nothing and must not proceed (exit 1)."""


class MergeLock:
    """Exclusive ``flock`` on ``.wg-worktrees/.merge-lock``, held for a whole landing."""

    def __init__(self, project_root: str) -> None:
        self.path = os.path.join(project_root, WORKTREES_DIR, ".merge-lock")
        self.fd: int | None = None

    def acquire(self, timeout: float | None = None) -> MergeLock:
        if timeout is None:
            timeout = float(os.environ.get("WG_MERGE_LOCK_TIMEOUT", "60"))
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        # Not O_CLOEXEC: git children inherit it through pass_fds (see the module docstring).
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LandRefused("Another landing is in progress; try again.") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        self.fd = fd
        return self

    @property
    def fds(self) -> tuple[int, ...]:
        return (self.fd,) if self.fd is not None else ()

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> MergeLock:
        return self.acquire() if self.fd is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()


class Outcome:
    """What a landing did. ``kind``: landed, nothing (no commits), already (content on T), conflict."""

    def __init__(self, kind: str, branch: str, target: str, old: str | None = None) -> None:
        self.kind = kind
        self.branch = branch
        self.target = target
        self.old = old
        self.commit: str | None = None
        self.tip: str | None = None
        self.conflicts: list[str] = []
        self.log: list[str] = []  # task log lines (written by the caller's graph transaction)
        self.lock: MergeLock | None = None

    @property
    def landed(self) -> bool:
        return self.kind == "landed"

    def release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None

    def as_json(self, task_id: str) -> dict[str, Any]:
        return {
            "task_id": task_id,
            "landed": self.kind == "landed",
            "commit": self.commit,
            "target": self.target,
            "conflicts": self.conflicts,
        }


def agent_label_for(branch: str) -> str:
    """``WG_AGENT_ID`` if set, else the ``agent-N`` of ``wg/agent-N/<task>``."""
    env = os.environ.get("WG_AGENT_ID", "")
    if env:
        return env
    parts = branch.split("/")
    return parts[1] if len(parts) >= 3 and parts[0] == "wg" else branch


def conflict_message(task_id: str, paths: list[str], target: str, worktree: str) -> str:
    lines = [f"Merge conflict — cannot mark '{task_id}' as done.", "", "Conflicting files:"]
    lines += [f"  - {p}" for p in paths]
    lines += [
        "",
        "Options:",
        f"1. Resolve the conflicts in your worktree, commit, then run 'wg done {task_id}' again",
        f"2. Run 'wg done {task_id} --ignore-unmerged-worktree' to defer the merge (creates a .merge-{task_id}"
        " task for later resolution)",
        f"To resolve: run `git merge {target}` in {worktree}, fix the files, commit, then run 'wg done {task_id}'"
        " again.",
    ]
    return "\n".join(lines)


# -- the algorithm (6.1) ----------------------------------------------------------------------------


def validate(worktree: str, branch: str, target: str, task_id: str, root: str) -> None:
    """Step 1."""
    if not os.path.lexists(os.path.join(worktree, ".git")):
        raise LandRefused(f"Worktree .git pointer missing at {worktree} — refusing to land '{task_id}'.")
    if git.head_ref(worktree) != f"refs/heads/{branch}":
        raise LandRefused(
            f"Worktree escape detected: {worktree} is not on branch {branch} — refusing to land '{task_id}'."
        )
    if git.rev(root, f"refs/heads/{target}") is None:
        raise LandRefused(f"Target branch '{target}' not found — cannot land '{task_id}'.")


def land_branch(
    root: str, worktree: str, branch: str, target: str, task_id: str, agent_label: str, lock: MergeLock
) -> Outcome:
    """Steps 1-6 with the lock held. Raises LandRefused (nothing changed) or returns the outcome."""
    validate(worktree, branch, target, task_id, root)
    for _ in range(MAX_ATTEMPTS):
        outcome = _attempt(root, branch, target, task_id, agent_label, lock)
        if outcome is not None:
            return outcome
    raise LandRefused(f"Target branch {target} keeps moving — try again.")


def _attempt(
    root: str, branch: str, target: str, task_id: str, agent_label: str, lock: MergeLock
) -> Outcome | None:
    """One pass from step 2; None when the target moved under us (start again)."""
    fds = lock.fds
    old = git.rev(root, f"refs/heads/{target}")
    tip = git.rev(root, f"refs/heads/{branch}")
    if old is None:
        raise LandRefused(f"Target branch '{target}' not found — cannot land '{task_id}'.")
    if tip is None:
        raise LandRefused(f"Branch {branch} not found — cannot land '{task_id}'.")
    out = Outcome("landed", branch, target, old)
    out.tip = tip
    mb_res = git.run(root, "merge-base", old, tip, check=False)
    mb = mb_res.out.strip()
    if not mb_res.ok or not mb:
        raise LandRefused(f"{branch} has no history in common with {target} — refusing to land '{task_id}'.")
    if git.out(root, "rev-list", "--count", f"{mb}..{tip}") == "0":
        out.kind = "nothing"
        out.log.append(f"[merge] No commits on branch {branch} — nothing to merge")
        return out
    # Step 3: the three-way result of mb, old and tip, computed without any working tree.
    res = git.run(
        root,
        "merge-tree",
        "--write-tree",
        "--name-only",
        "-z",
        "--no-messages",
        old,
        tip,
        check=False,
        keep_fds=fds,
    )
    fields = res.out.split("\0")
    if res.code == 1:
        out.kind = "conflict"
        out.conflicts = sorted({p for p in fields[1:] if p})
        out.log.append(f"Landing conflict with {target} ({old[:7]}): {', '.join(out.conflicts)}")
        return out
    if res.code != 0 or not fields[0]:
        raise LandRefused(f"git merge-tree failed: {res.err.strip()} — refusing to land '{task_id}'.")
    tree = fields[0].strip()
    if tree == git.out(root, "rev-parse", f"{old}^{{tree}}"):
        out.kind = "already"
        out.log.append(f"[merge] {branch} is already on {target} — nothing to merge")
        return out
    _guards(root, mb, tip, old, tree, task_id)
    new = _commit(root, tree, old, task_id, agent_label, branch, fds)
    moved = _advance(root, target, old, new, task_id, fds)
    if not moved:
        return None
    out.commit = new
    out.log.append(f"[merge] Squash-merged {branch} to {target} ({new[:7]})")
    return out


def _changed(root: str, a: str, b: str) -> set[str]:
    return set(git.z_list(git.run(root, "diff-tree", "-r", "--no-renames", "--name-only", "-z", a, b).out))


def _guards(root: str, mb: str, tip: str, old: str, tree: str, task_id: str) -> None:
    """Step 4: (a) the stale-base guard, (b) the conflict-marker guard."""
    branch_paths = _changed(root, mb, tip)
    for path in sorted(_changed(root, old, tree)):
        if path not in branch_paths:
            raise LandRefused(
                f"Stale-base guard tripped for '{task_id}': {path} would change without the branch touching it."
            )
    diff = git.run(
        root,
        "-c",
        "core.quotePath=false",
        "diff-tree",
        "-r",
        "-p",
        "-U0",
        "--no-color",
        "--no-ext-diff",
        "--no-renames",
        old,
        tree,
    ).out
    current = ""
    for line in diff.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else line[4:]
        elif line.startswith("+") and line[1:].startswith(MARKERS):
            raise LandRefused(f"Conflict markers in {current} — refusing to land '{task_id}'.")


def _identity_env(root: str) -> dict[str, str]:
    extra: dict[str, str] = {}
    name = git.run(root, "config", "--get", "user.name", check=False).out.strip()
    email = git.run(root, "config", "--get", "user.email", check=False).out.strip()
    for role in ("AUTHOR", "COMMITTER"):
        if not name and not os.environ.get(f"GIT_{role}_NAME"):
            extra[f"GIT_{role}_NAME"] = "wg"
        if not email and not os.environ.get(f"GIT_{role}_EMAIL"):
            extra[f"GIT_{role}_EMAIL"] = "wg@localhost"
    return git.git_env(extra)


def _commit(
    root: str, tree: str, old: str, task_id: str, agent: str, branch: str, fds: tuple[int, ...]
) -> str:
    """Step 5: ``git commit-tree`` (no hooks run)."""
    message = f"feat: {task_id} ({agent})\n\nSquash-merged from worktree branch {branch}\n"
    return git.out(
        root, "commit-tree", tree, "-p", old, "-F", "-", input=message, env=_identity_env(root), keep_fds=fds
    )


def _checkout_of(root: str, target: str) -> str | None:
    ref = f"refs/heads/{target}"
    return next((path for path, r in git.checkouts(root) if r == ref), None)


def _advance(root: str, target: str, old: str, new: str, task_id: str, fds: tuple[int, ...]) -> bool:
    """Step 6: compare-and-set the target. False when it moved meanwhile (caller starts again)."""
    ref = f"refs/heads/{target}"
    checkout = _checkout_of(root, target)
    if checkout is None:
        res = git.run(
            root,
            "update-ref",
            "-m",
            f"wg land: {task_id}",
            ref,
            new,
            old,
            check=False,
            no_hooks=True,
            keep_fds=fds,
        )
        if res.ok:
            return True
        if git.rev(root, ref) != old:
            return False
        raise LandRefused(f"Cannot advance {target}: {res.err.strip()} — refusing to land '{task_id}'.")
    if git.rev(checkout, ref) != old:
        return False
    res = git.run(
        checkout,
        "merge",
        "--ff-only",
        "--no-autostash",
        "--no-stat",
        "-q",
        new,
        check=False,
        no_hooks=True,
        keep_fds=fds,
    )
    if res.ok:
        return True
    if git.rev(checkout, ref) != old or "Not possible to fast-forward" in res.err:
        return False
    blocked = _blocked_files(res.err)
    if blocked:
        lines = [
            f"Main checkout has uncommitted changes to files this task changes — refusing to land '{task_id}':"
        ]
        raise LandRefused("\n".join(lines + [f"  - {f}" for f in blocked]))
    error = (
        " ".join(line.strip() for line in res.err.strip().splitlines() if line.strip()) or f"exit {res.code}"
    )
    raise LandRefused(f"Cannot fast-forward {target} in {checkout}: {error} — refusing to land '{task_id}'.")


def _blocked_files(stderr: str) -> list[str]:
    """Files listed by git's 'would be overwritten by merge' refusals (tracked or untracked)."""
    files: list[str] = []
    listing = False
    for line in stderr.splitlines():
        if "would be overwritten by merge" in line or "would be removed by merge" in line:
            listing = True
        elif listing and line.startswith("\t"):
            files.append(line.strip())
        else:
            listing = False
    return files


# -- the whole landing for a task (6.1 steps 1-8) -------------------------------------------------


def land_task(
    wg_dir: str,
    root: str,
    worktree: str,
    branch: str,
    target: str,
    task_id: str,
    owner_agent: str | None,
    *,
    agent_label: str | None = None,
    push: bool = False,
    keep_lock: bool = False,
    now_ns: int | None = None,
) -> Outcome:
    """Take the lock, land, record the facts in ``owner_agent``'s metadata and write the cleanup marker.

    With ``keep_lock`` the returned outcome still holds the lock (the caller changes the task status, then
    calls ``outcome.release()``), so the graph lock is taken inside the landing lock (spec core 8).
    Raises LandRefused (exit 1, nothing changed) for every refusal except conflicts, which are returned.
    """
    from ..timeutil import format_ts
    from ..timeutil import now_ns as clock

    lock = MergeLock(root).acquire()
    try:
        outcome = land_branch(
            root, worktree, branch, target, task_id, agent_label or agent_label_for(branch), lock
        )
        stamp = format_ts(now_ns if now_ns is not None else clock())
        if owner_agent is not None:
            if outcome.kind == "conflict":
                update_metadata(wg_dir, owner_agent, land_conflicts=outcome.conflicts)
            elif outcome.kind == "landed":
                update_metadata(
                    wg_dir,
                    owner_agent,
                    landed_commit=outcome.commit,
                    landed_branch_tip=outcome.tip,
                    landed_at=stamp,
                    land_conflicts=None,
                )
            elif outcome.kind == "already":
                update_metadata(wg_dir, owner_agent, landed_branch_tip=outcome.tip, land_conflicts=None)
        if outcome.kind in ("landed", "already"):
            _touch(os.path.join(worktree, CLEANUP_MARKER))
        if outcome.kind == "landed" and push:
            outcome.log[-1] += _push(root, target, branch, lock.fds)
    except BaseException:
        lock.release()
        raise
    if keep_lock:
        outcome.lock = lock
    else:
        lock.release()
    return outcome


def _touch(path: str) -> None:
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError:
        pass


def _push(root: str, target: str, branch: str, fds: tuple[int, ...]) -> str:
    """Step 8 (only with ``push_on_land``): never fails the landing."""
    if not git.run(root, "remote", "get-url", "origin", check=False).ok:
        return ""
    res = git.run(root, "push", "origin", target, check=False, keep_fds=fds)
    if not res.ok:
        lines = res.err.strip().splitlines()
        return f" — local-only (push failed: {lines[-1] if lines else f'exit {res.code}'})"
    if git.run(root, "ls-remote", "--exit-code", "--heads", "origin", branch, check=False).ok:
        git.run(root, "push", "origin", "--delete", branch, check=False, keep_fds=fds)
    return f" — pushed origin/{target}"
