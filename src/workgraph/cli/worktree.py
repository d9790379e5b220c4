"""``wg land`` and ``wg worktree list|archive|gc`` (spec worktrees.md 6.4, 7, 8)."""

from __future__ import annotations

import os
import sys

from .args import Arg, Cmd, Opt, flag
from .progress import progress_bar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .args import Args
    from .context import Ctx


def _root(ctx: Ctx) -> str:
    return os.path.dirname(os.path.realpath(ctx.wg_dir))


def run_land(ctx: Ctx, a: Args) -> int:
    from ..errors import WgError
    from ..worktree.landcmd import land_command, land_json

    try:
        outcome, changed = land_command(ctx, a.task)
    except WgError as exc:
        if ctx.json and exc.message.startswith("Merge conflict"):
            ctx.emit_json(
                {
                    "task_id": a.task,
                    "landed": False,
                    "commit": None,
                    "target": None,
                    "conflicts": [ln[4:] for ln in exc.message.splitlines() if ln.startswith("  - ")],
                }
            )
            ctx.err("Error: " + exc.message)
            return exc.exit_code
        raise
    if ctx.json:
        ctx.emit_json(land_json(a.task, outcome))
        return 0
    if outcome is not None and outcome.kind == "landed":
        ctx.out(f"Landed '{a.task}': {outcome.commit} on {outcome.target}")
    else:
        ctx.out(f"Nothing to land for '{a.task}'")
    for tid in changed:
        ctx.out(f"Marked '{tid}' as done")
    return 0


def _human_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def run_list(ctx: Ctx, a: Args) -> int:
    import time

    from ..worktree.gc import scan

    states = scan(ctx.wg_dir, _root(ctx))
    if ctx.json:
        ctx.emit_json([s.as_json() for s in states])
        return 0
    if not states:
        ctx.out("No agent worktrees.")
        return 0
    ctx.out(f"Agent worktrees ({len(states)}):")
    for s in states:
        mtime = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.modified))
        ctx.out(f"  {s.agent} — {_human_size(s.size_bytes)} — modified {mtime}{s.status_suffix()}")
    return 0


def run_archive(ctx: Ctx, a: Args) -> int:
    from ..worktree.gc import archive

    lines = archive(ctx.wg_dir, _root(ctx), a.agent, remove=bool(a.remove))
    if ctx.json:
        ctx.emit_json({"agent": a.agent, "removed": bool(a.remove), "messages": lines})
    else:
        ctx.out(*lines)
    return 0


def run_gc(ctx: Ctx, a: Args) -> int:
    return gc_worktrees(
        ctx,
        execute=bool(a.execute),
        force=bool(a.force),
        older=a.older,
        dead_only=bool(a.dead_only),
        rerun_flag="--execute",
    )


def gc_worktrees(
    ctx: Ctx,
    *,
    execute: bool,
    force: bool,
    older: str | None = None,
    dead_only: bool = False,
    rerun_flag: str = "--execute",
) -> int:
    """Section 7's decisions, one line per worktree; ``wg gc --worktrees`` can call this with ``--apply``."""
    from ..errors import UsageError
    from ..timeutil import parse_duration
    from ..worktree.gc import decide, older_than, scan
    from ..worktree.gc import execute as carry_out

    min_age = None
    if older:
        min_age = parse_duration(older, units="smhdw")
        if min_age is None:
            raise UsageError(f"invalid duration '{older}' for '--older' (use e.g. 30m, 12h, 7d)")
    graph = ctx.store.load()
    caller = os.environ.get("WG_WORKTREE_PATH") or None
    rows: list[dict[str, Any]] = []
    states = list(scan(ctx.wg_dir, _root(ctx)))
    progress = progress_bar(sys.stderr, "Checking worktrees") if len(states) >= 5 and not ctx.json else None
    for n, st in enumerate(states, 1):
        if progress is not None:
            progress(n - 1, len(states))
        if min_age is not None and not older_than(st, min_age):
            continue
        if dead_only and st.live:
            continue
        task = graph.get(st.task_id) if st.task_id else None
        decision, reason = decide(st, task.get("status") if task else None, caller, force)
        messages: list[str] = []
        if execute:
            messages = carry_out(_root(ctx), st, decision)
        rows.append(
            {
                "decision": decision,
                "agent": st.agent,
                "task": st.task_id,
                "reason": reason,
                "path": st.path,
                "messages": messages,
            }
        )
    if progress is not None:
        progress(len(states), len(states))
    if ctx.json:
        ctx.emit_json({"executed": execute, "worktrees": rows})
        return 0
    if not rows:
        ctx.out("No agent worktrees.")
    for row in rows:
        ctx.out(f"{row['decision']}  {row['agent']}  {row['task'] or '-'}  {row['reason']}")
        ctx.out(*row["messages"])
    if rows and not execute:
        ctx.out(f"Re-run with {rerun_flag} to actually archive and remove.")
    return 0


_LIST = Cmd("list", "List agent worktrees", run_list)
_ARCHIVE = Cmd(
    "archive",
    "Commit a worktree's uncommitted work on its branch; --remove then removes it (branch kept)",
    run_archive,
    [Arg("agent", help="Agent id (agent-N)")],
    [flag("--remove", help="Remove the worktree after archiving (its branch is kept)")],
)
_GC = Cmd(
    "gc",
    "Remove landed worktrees; keep unlanded branches (dry run unless --execute)",
    run_gc,
    opts=[
        flag("--execute", help="Actually archive and remove"),
        Opt("--older", help="Only worktrees unmodified for this long (e.g. 7d)", metavar="AGE"),
        flag("--dead-only", help="Only worktrees whose agent is dead"),
        flag("--force", help="Snapshot and include worktrees with uncommitted changes"),
    ],
)

COMMANDS = {
    "land": Cmd(
        "land", "Land a task's worktree onto its target branch", run_land, [Arg("task", help="Task id")]
    ),
    "worktree": Cmd("worktree", "Agent worktrees: list, archive, gc", subs=[_LIST, _ARCHIVE, _GC]),
}
