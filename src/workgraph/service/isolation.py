"""Worktree isolation in the dispatcher (spec worktrees.md 3-7, service.md 5.3-5.4).

Spawn: ``target_for`` decides (3) and ``prepare`` makes or reuses the worktree after the ``starting`` registry
entry, whose ``worktree_path`` is written first (the lease). Completion: ``land_and_done`` is the daemon's
``wg done`` path for an isolated agent that exited 0 without finishing its task: dirty check, landing (6),
then the landing's log lines and the status change in one graph transaction, then the lock is released.
Cleanup: ``cleanup`` right after an agent exits, ``sweep`` on every tick (7).
"""

from __future__ import annotations

import functools
import os

from ..errors import WgError
from ..model import log_entry
from ..timeutil import format_ts, now_ns
from . import outcomes

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..config import Config
    from ..graph import Graph
    from ..model import Record
    from ..worktree.create import WorktreeInfo
    from .dispatcher import Dispatcher
    from .reaper import Reaper

SWEEP_LIMIT = 10


def _flag(cfg: Config | None, key: str, default: bool) -> bool:
    if cfg is None:
        return default
    value = cfg.get(key, default)
    return value if isinstance(value, bool) else default


def target_for(d: Dispatcher, task: Record, kind: str, exec_mode: str, cfg: Config | None) -> str | None:
    """The target branch when this agent gets a worktree, else None (a warning is logged once per run)."""
    from ..worktree.create import isolation_target, wants_isolation

    if not wants_isolation(
        str(task["id"]),
        kind,
        exec_mode,
        isolation_on=_flag(cfg, "dispatcher.worktree_isolation", True),
        isolate_shell=_flag(cfg, "worktree.isolate_shell", False),
    ):
        return None
    configured = cfg.get("worktree.target_branch", None) if cfg is not None else None
    target, warning = isolation_target(
        d.paths.root, configured if isinstance(configured, str) and configured else None
    )
    if warning is not None:
        if warning not in d.isolation_warned:
            d.isolation_warned.add(warning)
            d.log("WARN", warning)
        return None
    return target


def prepare(d: Dispatcher, agent_id: str, task_id: str, target: str) -> WorktreeInfo:
    """Reuse the task's prior worktree in place, else create one; raises (a spawn failure) on any problem."""
    from ..worktree.create import create_worktree, find_prior_worktree, reuse_worktree
    from ..worktree.records import WORKTREES_DIR

    root, wg_dir = d.paths.root, d.paths.wg_dir
    # prepare_worktree's choice, made here so the lease can be written before the directory is touched
    prior = find_prior_worktree(root, wg_dir, task_id)
    lease = prior[0] if prior else os.path.join(os.path.abspath(root), WORKTREES_DIR, agent_id)
    d.registry.update(agent_id, worktree_path=lease)
    if prior is not None:
        info = reuse_worktree(root, wg_dir, agent_id, task_id, target, prior)
    else:
        info = create_worktree(root, wg_dir, agent_id, task_id, target)
    if info.path != lease:
        d.registry.update(agent_id, worktree_path=info.path)
    if info.reused and info.log:
        d.log("INFO", info.log)
    return info


def discard_fresh(d: Dispatcher, info: WorktreeInfo) -> None:
    """Spawn roll back (5.3 step 7): remove a freshly made worktree that holds no work."""
    from ..worktree import git

    if info.reused or not os.path.isdir(info.path):
        return
    try:
        if git.porcelain(info.path) or git.rev(info.path, "HEAD") != info.base_commit:
            return
        root = d.paths.root
        link = os.path.join(info.path, ".wg")
        if os.path.islink(link):
            os.unlink(link)
        git.run(root, "worktree", "remove", "--force", info.path, check=False)
        git.run(root, "branch", "-D", info.branch, check=False)
    except (OSError, WgError) as exc:
        d.log("WARN", f"[dispatcher] could not remove worktree {info.path}: {exc}")


# -- completion ---------------------------------------------------------------------------------------


def worktree_of(meta: dict[str, Any]) -> tuple[str, str, str] | None:
    """(path, branch, target) recorded in the agent's metadata when it ran isolated and the path exists."""
    path, branch = meta.get("worktree_path"), meta.get("worktree_branch")
    if not isinstance(path, str) or not path or not os.path.isdir(path):
        return None
    if not isinstance(branch, str) or not branch:
        return None
    target = meta.get("target_branch")
    return path, branch, target if isinstance(target, str) and target else "main"


def _status(g: Graph, tid: str) -> str:
    task = g.get(tid)
    return str(task.get("status", "open")) if task else "missing"


def _append_log(g: Graph, tid: str, cur: Record, lines: list[str], agent_id: str, stamp: str) -> None:
    g.update(tid, log=[*(cur.get("log") or []), *(log_entry(stamp, m, agent_id) for m in lines)])


def _refused(
    g: Graph, tid: str, agent_id: str, lines: list[str], pid: object, max_retries: int, backoff: int
) -> str:
    """A refused landing is logged on the task and handled as a death (service.md 5.4)."""
    cur = outcomes.claimed_by(g, tid, agent_id)
    if cur is None:
        return _status(g, tid)
    now = now_ns()
    stamp = format_ts(now)
    _append_log(g, tid, cur, lines, agent_id, stamp)
    cause = f"Task unclaimed: agent '{agent_id}' (PID {pid}) process exited"
    return outcomes.reopen_or_fail(g, tid, agent_id, cause, now, max_retries, backoff)


def _landed(
    g: Graph,
    tid: str,
    agent_id: str,
    lines: list[str],
    note: str | None,
    pid: object,
    max_retries: int,
    backoff: int,
) -> str:
    cur = outcomes.claimed_by(g, tid, agent_id)
    if cur is None:
        return _status(g, tid)
    if lines:
        stamp = format_ts(now_ns())
        _append_log(g, tid, cur, lines, agent_id, stamp)
    return outcomes.done_claimed(g, tid, agent_id, now_ns(), note, max_retries, backoff, pid)


def _conflicted(
    g: Graph, tid: str, agent_id: str, lines: list[str], target: str, paths: list[str], on_conflict: str
) -> str:
    from ..worktree.gate import apply_land_conflict

    cur = outcomes.claimed_by(g, tid, agent_id)
    if cur is None:
        return _status(g, tid)
    now = now_ns()
    stamp = format_ts(now)
    _append_log(g, tid, cur, lines, agent_id, stamp)
    apply_land_conflict(g, tid, target, paths, now, on_conflict)
    return _status(g, tid)


def land_and_done(
    r: Reaper, agent_id: str, tid: str, wt: tuple[str, str, str], note: str | None, pid: object
) -> str:
    """The ``wg done`` path for an isolated agent whose task is still claimed (worktrees.md 5-6)."""
    from ..config import load_config
    from ..transitions import unresolved_for_done
    from ..worktree.gate import worktree_changes
    from ..worktree.land import LandRefused, land_task

    d = r.d
    s = d.settings
    path, branch, target = wt
    done = functools.partial(
        _landed, tid=tid, agent_id=agent_id, note=note, pid=pid,
        max_retries=s.max_retries, backoff=s.respawn_backoff_secs,
    )  # fmt: skip
    probe = d.store.load()
    cur = outcomes.claimed_by(probe, tid, agent_id)
    if cur is None or unresolved_for_done(probe, cur):
        return r._apply(functools.partial(done, lines=[]), agent_id, tid)  # not ours, or refused by a gate

    def refuse(lines: list[str]) -> str:
        d.log("WARN", f"[dispatcher] {tid}: landing refused: {lines[-1]}")
        return r._apply(
            lambda g: _refused(g, tid, agent_id, lines, pid, s.max_retries, s.respawn_backoff_secs),
            agent_id,
            tid,
        )

    if not os.path.lexists(os.path.join(path, ".git")):
        return refuse([f"Worktree .git pointer missing at {path} — refusing to land '{tid}'."])
    tracked, untracked = worktree_changes(path)
    if tracked:
        return refuse([f"wg done refused: uncommitted changes in {path}: {', '.join(tracked)}"])
    lines = [f"Untracked files in {path} not landed: {', '.join(untracked)}"] if untracked else []
    cfg = load_config(d.paths.wg_dir, quiet=True)
    try:
        outcome = land_task(
            d.paths.wg_dir,
            d.paths.root,
            path,
            branch,
            target,
            tid,
            agent_id,
            agent_label=agent_id,
            push=bool(cfg.get("worktree.push_on_land", False)),
            keep_lock=True,
        )
    except LandRefused as exc:
        return refuse([*lines, exc.message.splitlines()[0]])
    except WgError as exc:
        return refuse([*lines, f"Landing failed: {exc.message.splitlines()[0]}"])
    try:
        lines += outcome.log
        for line in outcome.log:
            d.log("INFO", f"[dispatcher] {tid}: {line}")
        if outcome.kind == "conflict":
            on_conflict = str(cfg.get("worktree.on_conflict", "fail") or "fail")
            return r._apply(
                lambda g: _conflicted(g, tid, agent_id, lines, target, outcome.conflicts, on_conflict),
                agent_id,
                tid,
            )
        return r._apply(functools.partial(done, lines=lines), agent_id, tid)
    finally:
        outcome.release()


# -- cleanup (7) ----------------------------------------------------------------------------------------


def cleanup(d: Dispatcher, meta: dict[str, Any]) -> None:
    """Right after an agent exits: remove its worktree when it is removable (landed, clean, unleased)."""
    from ..worktree.gc import remove_if_removable

    path = meta.get("worktree_path")
    if not isinstance(path, str) or not path:
        return
    try:
        if remove_if_removable(d.paths.wg_dir, d.paths.root, path):
            d.log("INFO", f"[dispatcher] Removed worktree {path}")
    except (OSError, WgError) as exc:
        d.log("WARN", f"[dispatcher] could not clean up worktree {path}: {exc}")


def sweep(d: Dispatcher) -> list[str]:
    """The tick's sweep of up to 10 removable worktrees (landed by ``wg land``, by hand, ...)."""
    from ..worktree.records import AGENT_DIR, WORKTREES_DIR

    try:
        if not any(AGENT_DIR.match(n) for n in os.listdir(os.path.join(d.paths.root, WORKTREES_DIR))):
            return []
    except OSError:
        return []
    from ..worktree.gc import sweep as gc_sweep

    try:
        removed = gc_sweep(d.paths.wg_dir, d.paths.root, limit=SWEEP_LIMIT)
    except (OSError, WgError) as exc:
        d.log("WARN", f"[dispatcher] worktree sweep failed: {exc}")
        return []
    for path in removed:
        d.log("INFO", f"[dispatcher] Removed worktree {path}")
    return removed


def git_evidence(meta: dict[str, Any]) -> bool:
    """A commit ahead of the base or tracked changes in the agent's worktree (service.md 5.4)."""
    import subprocess

    wt = meta.get("worktree_path")
    if not isinstance(wt, str) or not os.path.isdir(wt):
        return False
    try:
        base = meta.get("base_commit")
        if isinstance(base, str) and base:
            r = subprocess.run(
                ["git", "-C", wt, "rev-list", "--count", f"{base}..HEAD"],
                capture_output=True,
                text=True,
                timeout=10,
            )
            if r.returncode == 0 and r.stdout.strip() not in ("", "0"):
                return True
        r = subprocess.run(
            ["git", "-C", wt, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return r.returncode == 0 and bool(r.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return False
