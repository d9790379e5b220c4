"""Graph upkeep commands: archive (with search, restore, undo), gc, incomplete, wait (spec core 11.16-11.18).

The archive files themselves (and why no record is ever lost) are in archive_files.py.
"""

from __future__ import annotations

import os

from ..errors import WgError
from . import archive_files as files
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..graph import Graph
    from ..model import Record
    from .args import Args
    from .context import Ctx


def _row(t: Record) -> str:
    return f"  {t['id']} - {t.get('title', '')} (completed: {t.get('completed_at') or 'unknown'})"


# -- wg archive ---------------------------------------------------------------------------------


def run_archive(ctx: Ctx, a: Args) -> int:
    from ..archive import parse_older, select_archive

    if a.list:
        return _archive_list(ctx)
    if a.undo:
        return _archive_undo(ctx)
    older = parse_older(a.older) if a.older is not None else None
    ids: list[str] = list(a.ids)
    store = ctx.store
    preview = select_archive(store.load(), ids, older, ctx.now)
    if not preview:
        return _archive_report(ctx, [], a.dry_run, "No tasks to archive.")
    if a.dry_run:
        if ctx.json:
            return _archive_report(ctx, [t["id"] for t in preview], True, "")
        ctx.out(f"Would archive {len(preview)} tasks:", *(_row(t) for t in preview))
        return 0
    if not ids and not a.yes:
        if not ctx.json:
            ctx.out(f"Would archive {len(preview)} tasks:", *(_row(t) for t in preview), "")
        raise WgError("Use --yes to confirm, or specify task IDs explicitly: wg archive <id1> <id2> ...")

    def change(g: Graph) -> list[str]:
        chosen = select_archive(g, ids, older, ctx.now)  # checked again under the lock
        if not chosen:
            return []
        files.append_archive(ctx.wg_dir, chosen)  # durable before the graph forgets them
        moved = [t["id"] for t in chosen]
        files.write_batch(ctx.wg_dir, moved, ctx.now)
        for tid in moved:
            g.remove(tid)
        return moved

    moved = store.transaction(change, ctx.now)
    if not moved:
        return _archive_report(ctx, [], False, "No tasks to archive.")
    ctx.mutated("archive", detail={"task_ids": moved})
    return _archive_report(
        ctx, moved, False, f"Archived {len(moved)} tasks. Use `wg archive --undo` to reverse."
    )


def _archive_report(ctx: Ctx, ids: list[str], dry_run: bool, line: str) -> int:
    if ctx.json:
        ctx.emit_json({"archived": ids, "dry_run": dry_run})
    else:
        ctx.out(line)
    return 0


def _archive_list(ctx: Ctx) -> int:
    ctx.store  # noqa: B018 - fails with "WG not initialized" when there is no graph
    tasks = files.read_archive(ctx.wg_dir)
    if ctx.json:
        ctx.emit_json(
            [{"id": t["id"], "title": t.get("title"), "completed_at": t.get("completed_at")} for t in tasks]
        )
    elif not tasks:
        ctx.out("No archived tasks.")
    else:
        ctx.out(f"Archived tasks ({len(tasks)}):", *(_row(t) for t in tasks))
    return 0


def _archive_undo(ctx: Ctx) -> int:
    from ..archive import restore_records

    store = ctx.store
    batch = files.read_batch(ctx.wg_dir)
    if not batch:
        raise WgError("No tasks in the last archive batch to restore.")

    def change(g: Graph) -> tuple[list[str], list[str]]:
        return restore_records(g, batch, files.read_archive(ctx.wg_dir))

    restored, skipped = store.transaction(change, ctx.now)

    def finish(g: Graph) -> None:
        # Under the graph lock, and only if the batch file still names this batch: a `wg archive` that ran
        # meanwhile wrote a new one, which must survive.
        if restored:
            files.rewrite_archive_without(ctx.wg_dir, set(restored))
        if files.read_batch(ctx.wg_dir) == batch:
            try:
                os.unlink(os.path.join(ctx.wg_dir, files.BATCH_FILE))
            except OSError:
                pass

    store.transaction(finish, ctx.now)
    if restored:
        ctx.mutated("restore", detail={"task_ids": restored})
    if ctx.json:
        ctx.emit_json({"restored": restored})
        return 0
    ctx.out(f"Restored {len(restored)} tasks from last archive batch.")
    if skipped:
        ctx.out(
            f"Skipped {len(skipped)} tasks (not found in archive or already in graph): {', '.join(skipped)}"
        )
    return 0


def run_archive_search(ctx: Ctx, a: Args) -> int:
    from ..archive import search_archive

    ctx.store  # noqa: B018
    found = search_archive(files.read_archive(ctx.wg_dir), a.query, a.limit)
    if ctx.json:
        ctx.emit_json(
            [
                {
                    "id": t["id"],
                    "title": t.get("title"),
                    "completed_at": t.get("completed_at"),
                    "tags": t.get("tags") or [],
                }
                for t in found
            ]
        )
        return 0
    if not found:
        ctx.out(f"No archived tasks matching '{a.query}'.")
        return 0
    ctx.out(f"Archived tasks matching '{a.query}' ({len(found)} result{'' if len(found) == 1 else 's'}):")
    for t in found:
        tags = f" [{', '.join(t['tags'])}]" if t.get("tags") else ""
        ctx.out(_row(t) + tags)
    return 0


def run_archive_restore(ctx: Ctx, a: Args) -> int:
    tid: str = a.id
    store = ctx.store

    def change(g: Graph) -> Record:
        rec = next((t for t in files.read_archive(ctx.wg_dir) if t["id"] == tid), None)
        if rec is None:
            raise WgError(f"Task '{tid}' not found in archive")
        if tid in g:
            raise WgError(f"Task '{tid}' already exists in the active graph")
        rec = dict(rec)
        if a.reopen:
            rec["status"] = "open"
            rec.pop("completed_at", None)
            rec.pop("assigned", None)
        g.put(rec)
        return rec

    rec = store.transaction(change, ctx.now)
    store.transaction(lambda g: files.rewrite_archive_without(ctx.wg_dir, {tid}), ctx.now)
    ctx.mutated("restore", tid)
    status = rec.get("status", "open")
    if ctx.json:
        ctx.emit_json({"restored": [tid], "status": status})
    else:
        ctx.out(f"Restored task '{tid}' ({rec.get('title', '')}) to active graph with status '{status}'")
    return 0


# -- wg gc --------------------------------------------------------------------------------------


def run_gc(ctx: Ctx, a: Args) -> int:
    from ..archive import parse_older, remove_tasks, select_gc

    if a.worktrees:
        return _gc_worktrees(ctx, a)
    if a.apply or a.force:
        from ..errors import UsageError

        raise UsageError(f"'{'--apply' if a.apply else '--force'}' requires '--worktrees'")
    older = parse_older(a.older) if a.older is not None else None

    def change(g: Graph) -> list[Record]:
        ids = select_gc(g, a.include_done, older, ctx.now)
        if a.dry_run:
            return [t for t in (g.get(i) for i in ids) if t is not None]
        return remove_tasks(g, ids)

    removed = ctx.store.transaction(change, ctx.now)
    rows = [{"id": t["id"], "title": t.get("title", ""), "status": t.get("status", "open")} for t in removed]
    if removed and not a.dry_run:
        ctx.mutated("gc", detail={"removed": rows})
    if ctx.json:
        ctx.emit_json({"removed": rows, "dry_run": bool(a.dry_run)})
    elif not removed:
        ctx.out("No tasks to garbage collect.")
    elif a.dry_run:
        ctx.out(
            f"Would remove {len(rows)} tasks:", *(f"  {r['id']} - {r['title']} [{r['status']}]" for r in rows)
        )
    else:
        ctx.out(f"Removed {len(rows)} tasks:", *(f"  {r['id']}" for r in rows))
    return 0


def _gc_worktrees(ctx: Ctx, a: Args) -> int:
    """worktrees.md 7: worktrees only, no task removed; a dry run unless ``--apply``."""
    from ..errors import UsageError
    from .worktree import gc_worktrees

    if a.apply and a.dry_run:
        raise UsageError("'--dry-run' and '--apply' cannot be used together")
    if a.include_done:
        raise UsageError("'--include-done' cannot be used with '--worktrees'")
    older = a.older
    if older is not None and older.strip().isdigit():
        older = f"{older.strip()}d"  # wg gc's bare number means days
    return gc_worktrees(ctx, execute=bool(a.apply), force=bool(a.force), older=older, rerun_flag="--apply")


# -- wg incomplete / wg wait --------------------------------------------------------------------


def run_incomplete(ctx: Ctx, a: Args) -> int:
    from ..maintenance import mark_incomplete, retry_delay_seconds

    cfg = ctx.config
    default_max = cfg.get_int("dispatcher.max_incomplete_retries", 3)
    delay = retry_delay_seconds(cfg.get("dispatcher.incomplete_retry_delay", "30s"))
    tid: str = a.task
    res = ctx.store.transaction(
        lambda g: mark_incomplete(g, tid, ctx.now, a.reason, default_max, delay), ctx.now
    )
    task = res["task"]
    if not res["changed"]:
        if ctx.json:
            ctx.emit_json({"id": tid, "status": "incomplete", "changed": False})
        else:
            ctx.out(f"Task '{tid}' is already incomplete")
        return 0
    ctx.mutated("incomplete", tid, kick=True, detail={"reason": a.reason} if a.reason else None)
    if ctx.json:
        ctx.emit_json(
            {
                "id": tid,
                "status": task["status"],
                "changed": True,
                "retry_count": task.get("retry_count", 0),
                "ready_after": task.get("ready_after"),
            }
        )
        return 0
    why = f" ({a.reason})" if a.reason else ""
    n, limit = res["attempt"], res["limit"]
    if res["exhausted"]:
        ctx.out(f"Task '{tid}' failed — retry exhausted after {n} attempts{why}")
        return 0
    ctx.out(f"Marked '{tid}' as incomplete{why} (attempt {n}/{limit or '∞'})")
    if res.get("ready_after"):
        ctx.out(f"  Cooldown active — dispatchable after {res['ready_after']}")
    ctx.out("  Task will appear in 'wg ready' for re-dispatch")
    return 0


def _mtime_seconds(path: str) -> int:
    try:
        return int(os.stat(path).st_mtime)
    except OSError:
        return 0


def run_wait(ctx: Ctx, a: Args) -> int:
    from ..errors import UsageError
    from ..maintenance import park

    tid: str = a.task
    if a.until is None:
        raise UsageError(
            "the following required arguments were not provided: --until <UNTIL>",
            "Usage: wg wait [OPTIONS] <TASK>",
        )
    expr: str = a.until
    task = ctx.store.transaction(lambda g: park(g, tid, expr, a.checkpoint, ctx.now, _mtime_seconds), ctx.now)
    ctx.mutated("wait", tid, detail={"until": expr})
    if ctx.json:
        ctx.emit_json({"id": tid, "status": task["status"], "wait_condition": task.get("wait_condition")})
    else:
        ctx.out(f"Parked task '{tid}'. Condition: {expr}", "Checkpoint saved. You should now exit cleanly.")
    return 0


_ARCHIVE_MAIN = Cmd(
    "tasks",
    "Archive done/abandoned tasks (the default: wg archive [IDS...])",
    run_archive,
    args=[
        Arg("ids", required=False, variadic=True, help="Tasks to archive (default: every archivable task)")
    ],
    opts=[
        flag("--dry-run", help="Show what would be archived"),
        Opt("--older", help="Only tasks finished longer ago than this (30d, 2w, 12h; a bare number = days)"),
        flag("--list", help="List archived tasks"),
        flag("-y", "--yes", help="Confirm a bulk archive"),
        flag("--undo", help="Restore the last archived batch"),
    ],
)

COMMANDS = {
    "archive": Cmd(
        "archive",
        "Move finished tasks to archive.jsonl",
        subs=[
            _ARCHIVE_MAIN,
            Cmd(
                "search",
                "Search archived tasks by title, description and tags",
                run_archive_search,
                args=[Arg("query", help="Text to look for (case-insensitive)")],
                opts=[Opt("--limit", type=int, default=50, help="At most this many results")],
            ),
            Cmd(
                "restore",
                "Put an archived task back into the graph",
                run_archive_restore,
                args=[Arg("id", help="Archived task id")],
                opts=[flag("--reopen", help="Restore it as open")],
            ),
        ],
        default_sub="tasks",
    ),
    "gc": Cmd(
        "gc",
        "Remove failed/abandoned tasks nothing depends on",
        run_gc,
        opts=[
            flag("--dry-run", help="Show what would be removed"),
            flag("--include-done", help="Also remove done tasks"),
            Opt(
                "--older",
                help="Only tasks finished (with --worktrees: worktrees unmodified) longer ago than this "
                "(30d, 2w, 12h; a bare number = days)",
            ),
            flag("--worktrees", help="Clean up agent worktrees instead of tasks (dry run unless --apply)"),
            flag("--apply", help="With --worktrees: actually archive and remove"),
            flag("--force", help="With --worktrees: snapshot and include worktrees with uncommitted changes"),
        ],
    ),
    "incomplete": Cmd(
        "incomplete",
        "Mark a task incomplete (retry later)",
        run_incomplete,
        args=[Arg("task", help="Task id")],
        opts=[Opt("--reason", help="Why the work is not finished")],
    ),
    "wait": Cmd(
        "wait",
        "Park an in-progress task until a condition holds",
        run_wait,
        args=[Arg("task", help="Task id")],
        opts=[
            Opt(
                "--until",
                help="task:<id>=<status>, timer:<dur>, human-input, message, file:<path>; , = all, | = any",
            ),
            Opt("--checkpoint", help="Text to resume from"),
        ],
    ),
}
