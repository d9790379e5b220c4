"""``wg done`` on an isolated task (spec worktrees.md 5): find the worktree, dirty check, land, then status.

``run_done`` calls ``done_landing_gate`` after the other gates; the returned ``DoneLanding`` adds the landing's
log lines (and a deferred ``.merge-<id>`` task) inside the status-change transaction through ``apply``, and
``finish`` releases the landing lock afterwards, so ``graph.lock`` is only ever taken inside the merge lock.
"""

from __future__ import annotations

import os

from ..errors import WgError
from . import git
from .records import AGENT_DIR, WORKTREES_DIR, read_metadata, task_agents

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..cli.args import Args
    from ..cli.context import Ctx
    from ..graph import Graph
    from ..model import Record
    from .land import Outcome


class Found:
    """An isolated task's worktree: where, which branch, onto which target, whose metadata records it."""

    def __init__(self, path: str, branch: str, target: str, owner: str | None) -> None:
        self.path, self.branch, self.target, self.owner = path, branch, target, owner


def _target_for(wg_dir: str, root: str, recorded: object) -> str:
    if isinstance(recorded, str) and recorded:
        return recorded
    env = os.environ.get("WG_TARGET_BRANCH", "")
    if env:
        return env
    from ..config import load_config
    from .create import isolation_target

    configured = load_config(wg_dir, quiet=True).get("worktree.target_branch")
    target, _ = isolation_target(root, configured if isinstance(configured, str) and configured else None)
    return target or "main"


def find_worktree(wg_dir: str, task_id: str) -> Found | None:
    """From the agent's environment (guarded against leaked variables), else the task's newest agent record."""
    wg_dir = os.path.realpath(wg_dir)
    root = os.path.dirname(wg_dir)
    env_path = os.environ.get("WG_WORKTREE_PATH", "")
    env_branch = os.environ.get("WG_BRANCH", "")
    env_root = os.environ.get("WG_PROJECT_ROOT", "")
    env_task = os.environ.get("WG_TASK_ID", "")
    if (
        env_path
        and env_branch
        and env_root
        and os.path.realpath(env_root) == os.path.realpath(root)
        and (not env_task or env_task == task_id)
    ):
        agent = os.environ.get("WG_AGENT_ID") or None
        meta = read_metadata(wg_dir, agent) if agent else {}
        if agent and not meta:
            agent = None
        if agent is None:
            from .records import owner_of

            rec = owner_of(wg_dir, env_path)
            agent = str(rec["agent_id"]) if rec else None
            meta = rec or {}
        return Found(env_path, env_branch, _target_for(wg_dir, root, meta.get("target_branch")), agent)
    base = os.path.join(root, WORKTREES_DIR)
    try:
        if not any(AGENT_DIR.match(n) for n in os.listdir(base)):
            return None
    except OSError:
        return None  # no worktrees at all: nothing to read (keeps `wg done` fast)
    for rec in task_agents(wg_dir, task_id):
        path = rec.get("worktree_path")
        if isinstance(path, str) and path and os.path.isdir(path):
            branch = rec.get("worktree_branch")
            if not isinstance(branch, str) or not branch:
                branch = f"wg/{os.path.basename(path)}/{task_id}"
            return Found(
                path, branch, _target_for(wg_dir, root, rec.get("target_branch")), str(rec["agent_id"])
            )
    return None


def dirty_message(task_id: str, worktree: str, files: list[str]) -> str:
    lines = [
        f"Worktree has uncommitted changes — refusing to mark '{task_id}' as done.",
        "",
        f"Uncommitted/staged tracked files in {worktree}:",
        *[f"  - {f}" for f in files],
        "",
        "These changes would be silently dropped when the worktree is cleaned up.",
        f"Fix: run `git commit -m '...' && git push` in the worktree, then re-run `wg done {task_id}`.",
        "If you want to discard them, run `git reset --hard HEAD` in the worktree first.",
    ]
    return "\n".join(lines)


def worktree_changes(worktree: str) -> tuple[list[str], list[str]]:
    """(tracked changes, untracked files) of ``git status --porcelain`` in the worktree."""
    tracked: list[str] = []
    untracked: list[str] = []
    for line in git.porcelain(worktree):
        (untracked if line.startswith("??") else tracked).append(line[3:])
    return tracked, untracked


class DoneLanding:
    """What the gate found; ``apply`` writes it inside the status transaction, ``finish`` releases the lock."""

    def __init__(self, task_id: str) -> None:
        self.task_id = task_id
        self.log: list[str] = []
        self.outcome: Outcome | None = None
        self.deferred: tuple[Found, list[str]] | None = None

    def apply(self, graph: Graph) -> Graph:
        from ..model import log_entry
        from ..timeutil import format_ts, now_ns

        task = graph.get(self.task_id)
        if task is None:
            return graph
        stamp = format_ts(now_ns())
        entries = [log_entry(stamp, m, task.get("assigned")) for m in self.log]
        if entries:
            graph.update(self.task_id, log=[*(task.get("log") or []), *entries])
        if self.deferred is not None:
            _create_merge_task(graph, self.task_id, *self.deferred, stamp)
        return graph

    def finish(self) -> None:
        if self.outcome is not None:
            self.outcome.release()


def _create_merge_task(graph: Graph, task_id: str, found: Found, paths: list[str], stamp: str) -> None:
    from ..model import log_entry, new_task

    mid = f".merge-{task_id}"
    if graph.get(mid) is not None and graph.records[mid].get("status") not in ("done", "abandoned"):
        return
    rec: Record = new_task(mid, f"Merge: {task_id}", stamp)
    files = "\n".join(f"- {p}" for p in paths)
    rec.update(
        status="incomplete",
        tags=["merge", "deferred"],
        exec_mode="full",
        description=(
            f"## Deferred Merge: {task_id}\n\nBranch `{found.branch}` (worktree {found.path}) could not be landed "
            f"on `{found.target}`.\n\nConflicting files:\n{files}\n\nResolve with `git merge {found.target}` in "
            f"the worktree, commit, then run `wg land {task_id}`."
        ),
    )
    graph.put(rec)
    graph.add_dependency(mid, task_id)
    task = graph.records[task_id]
    msg = f"[merge] Conflict deferred — created '{mid}' for later resolution"
    graph.update(task_id, log=[*(task.get("log") or []), log_entry(stamp, msg, task.get("assigned"))])


def record_refusal(ctx: Ctx, task_id: str, lines: list[str]) -> None:
    """The one write a refused ``wg done`` makes: its task log line(s), in a transaction of their own."""
    from ..model import log_entry
    from ..timeutil import format_ts

    def change(g: Graph) -> None:
        task = g.get(task_id)
        if task is not None:
            stamp = format_ts(ctx.now)
            g.update(
                task_id,
                log=[*(task.get("log") or []), *(log_entry(stamp, m, task.get("assigned")) for m in lines)],
            )

    ctx.store.transaction(change, ctx.now)


def done_landing_gate(ctx: Ctx, graph: Graph, a: Args) -> DoneLanding:
    """Spec 5 between the other gates and the status change. Raises WgError (exit 1) on a refusal."""
    from ..transitions import done_blocked_message, unresolved_for_done

    task_id = a.task
    result = DoneLanding(task_id)
    task = graph.get(task_id)
    if task is None or task.get("status") == "done":
        return result
    blockers = unresolved_for_done(graph, task)
    if blockers:  # the blocker gate comes before any landing
        raise WgError(done_blocked_message(task_id, blockers))
    found = find_worktree(ctx.wg_dir, task_id)
    if found is None:
        return result
    if not os.path.lexists(os.path.join(found.path, ".git")):
        msg = f"Worktree .git pointer missing at {found.path} — refusing to land '{task_id}'."
        record_refusal(ctx, task_id, [msg])
        raise WgError(msg)
    tracked, untracked = worktree_changes(found.path)
    if tracked:
        record_refusal(
            ctx, task_id, [f"wg done refused: uncommitted changes in {found.path}: {', '.join(tracked)}"]
        )
        raise WgError(dirty_message(task_id, found.path, tracked))
    if untracked:
        ctx.err(f"Warning: untracked files in {found.path} are not landed:", *[f"  - {f}" for f in untracked])
        result.log.append(f"Untracked files in {found.path} not landed: {', '.join(untracked)}")
    _land_for_done(ctx, task_id, found, bool(a.get("ignore_unmerged_worktree")), result)
    return result


def land_found(ctx: Ctx, task_id: str, found: Found) -> Outcome:
    """Land ``found`` onto its target for ``wg done`` and ``wg land``, keeping the merge lock."""
    from .land import land_task

    return land_task(
        ctx.wg_dir,
        os.path.dirname(os.path.realpath(ctx.wg_dir)),
        found.path,
        found.branch,
        found.target,
        task_id,
        found.owner,
        push=bool(ctx.config.get("worktree.push_on_land", False)),
        keep_lock=True,
        now_ns=ctx.now,
    )


def _land_for_done(ctx: Ctx, task_id: str, found: Found, defer: bool, result: DoneLanding) -> None:
    from .land import LandRefused, conflict_message

    try:
        outcome = land_found(ctx, task_id, found)
    except LandRefused as exc:
        record_refusal(ctx, task_id, [*result.log, exc.message.splitlines()[0]])
        raise
    result.outcome = outcome
    result.log += outcome.log
    if outcome.kind != "conflict":
        return
    if defer:
        result.deferred = (found, outcome.conflicts)
        return
    try:
        record_refusal(ctx, task_id, result.log)
    finally:
        outcome.release()
    raise WgError(conflict_message(task_id, outcome.conflicts, found.target, found.path))


def apply_land_conflict(
    graph: Graph, task_id: str, target: str, paths: list[str], now: int, on_conflict: str = "fail"
) -> None:
    """Spec 6.3 for a landing after the agent is gone: ``fail`` (class land-conflict) or ``retry`` (reopen)."""
    from ..model import log_entry
    from ..timeutil import format_ts
    from ..transitions import fail

    task = graph.get(task_id)
    if task is None or task.get("status") in ("done", "abandoned", "failed"):
        return
    reason = f"Landing conflict with {target}: {', '.join(paths)}"
    if on_conflict != "retry":
        fail(graph, task_id, now, reason=reason, failure_class="land-conflict")
        return
    msg = f"Task reopened after a landing conflict with {target}: {', '.join(paths)}"
    graph.update(
        task_id,
        status="open",
        assigned=None,
        started_at=None,
        retry_count=int(task.get("retry_count", 0)) + 1,
        log=[*(task.get("log") or []), log_entry(format_ts(now), msg)],
    )
