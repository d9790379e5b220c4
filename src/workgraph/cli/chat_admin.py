"""``wg service purge-chats`` and ``wg migrate chat-rename`` (spec chats.md 4.7, 4.8)."""

from __future__ import annotations

from .args import Cmd, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .args import Args
    from .context import Ctx


# -- purge / migrate ----------------------------------------------------------------------------------


def run_purge(ctx: Ctx, a: Args) -> int:
    from ..chat.purge import caller_hint, purge_offline, summary

    ctx.store  # noqa: B018
    include = bool(a.include_active)
    caller = caller_hint()
    from .chat import _ipc, _socket

    sock = _socket(ctx)
    if sock is not None:
        req: dict[str, Any] = {"cmd": "purge_chats", "include_active": include}
        if caller is not None:
            req["caller_chat_id"] = caller
        data = _ipc(sock, req)
        if ctx.json:
            ctx.emit_json(data)
        else:
            ctx.out(summary(len(data.get("purged") or []), data.get("skipped") or [], include, offline=False))
            for e in data.get("errors") or []:
                ctx.err(f"Warning: chat {e.get('chat_id')}: {e.get('error')}")
        return 0
    res = purge_offline(ctx.wg_dir, ctx.store, ctx.now, include, caller, ctx.user)
    for _n, tid in res["purged"]:
        ctx.mutated("chat_purge", tid)
    skipped_active = [s["chat_id"] for s in res["skipped"] if s["reason"] in ("active", "caller chat")]
    if ctx.json:
        ctx.emit_json(
            {
                "purged": [n for n, _ in res["purged"]],
                "skipped_active": skipped_active,
                "daemon_running": False,
            }
        )
    else:
        ctx.out(summary(len(res["purged"]), res["skipped"], include, offline=True))
    for e in res["errors"]:
        ctx.err(f"Warning: chat {e['chat_id']}: {e['error']}")
    return 0


def run_migrate(ctx: Ctx, a: Args) -> int:
    from ..chat.migrate import chat_rename, text_report

    if a.dry_run:
        report = chat_rename(ctx.store.load(), ctx.now)
    else:
        report = ctx.store.transaction(lambda g: chat_rename(g, ctx.now), ctx.now)
        for old, new in report["renamed_ids"]:
            ctx.mutated("chat_rename", new, old_id=old)
    keys = ("renamed_ids", "rewritten_edges", "renamed_tags", "renamed_titles")
    report = {
        **{k: report[k] for k in keys},
        "dry_run": bool(a.dry_run),
        "skipped_conflicts": report["skipped_conflicts"],
    }
    if ctx.json:
        ctx.emit_json(report)
    else:
        ctx.out(*text_report(report, bool(a.dry_run)))
    return 0


MIGRATE = Cmd(
    "migrate",
    "Migrations of legacy data",
    subs=[
        Cmd(
            "chat-rename",
            "Rename legacy .coordinator-N chat tasks to .chat-N",
            run_migrate,
            opts=[flag("--dry-run", help="Count without writing")],
        )
    ],
)

COMMANDS = {"migrate": MIGRATE}
