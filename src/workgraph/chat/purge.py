"""``purge_chats``: archive every live chat in one go (spec chats.md 4.7). Idempotent.

The selection and the graph change run inside one transaction on both paths; the file side effects
(session move, state file, tmux) follow per chat, and a failure there is recorded, not fatal.
"""

from __future__ import annotations

import os

from . import model as cm
from .ops import archive_files
from .store import ChatStore, is_idle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph
    from ..store.jsonl import JsonlStore

OFFLINE_ACTOR = "wg service purge-chats"


def caller_hint(env: dict[str, str] | None = None) -> int | None:
    """``WG_CHAT_REF``, else ``WG_CHAT_ID`` (spec 4.7 step 1)."""
    env = dict(os.environ) if env is None else env
    for name in ("WG_CHAT_REF", "WG_CHAT_ID"):
        value = env.get(name, "").strip()
        if value:
            return cm.parse_hint(value)
    return None


def select(
    graph: Graph, chats: ChatStore, include_active: bool, caller: int | None
) -> tuple[list[tuple[int, str]], list[dict[str, Any]]]:
    """(chats to purge as (N, task id), skipped entries {chat_id, reason, task_id})."""
    candidates: dict[int, str] = {}
    for task in graph.tasks():
        parsed = cm.parse_task_id(task["id"])
        if parsed is None or not cm.has_loop(task) or task.get("status") == "abandoned":
            continue
        n, legacy = parsed
        if n not in candidates or not legacy:
            candidates[n] = task["id"]
    purge: list[tuple[int, str]] = []
    skipped: list[dict[str, Any]] = []
    for n, tid in sorted(candidates.items()):
        if cm.is_archived(graph.get(tid) or {}):
            skipped.append({"chat_id": n, "reason": "already archived", "task_id": tid})
        elif not include_active and caller == n:
            skipped.append({"chat_id": n, "reason": "caller chat", "task_id": tid})
        elif not include_active and not is_idle(chats.chat_dir(n), cm.PURGE_ACTIVE_SECS):
            skipped.append({"chat_id": n, "reason": "active", "task_id": tid})
        else:
            purge.append((n, tid))
    return purge, skipped


def purge_graph(
    store: JsonlStore,
    chats: ChatStore,
    now: int,
    *,
    include_active: bool,
    caller: int | None,
    message: str,
    actor: str,
    user: str | None,
) -> tuple[list[tuple[int, str]], list[dict[str, Any]]]:
    """The graph half of a purge, in one transaction. Returns (purged, skipped)."""

    def change(g: Graph) -> tuple[list[tuple[int, str]], list[dict[str, Any]]]:
        purge, skipped = select(g, chats, include_active, caller)
        for n, _ in purge:
            cm.archive_change(g, n, now, message.format(n=n), actor, user, strict=False)
        return purge, skipped

    return store.transaction(change, now)


def finish_files(wg_dir: str, purged: list[tuple[int, str]], now: int) -> list[dict[str, Any]]:
    """Session moves and state-file removal for each purged chat; per-chat failures become errors."""
    errors: list[dict[str, Any]] = []
    for n, _ in purged:
        try:
            warning = archive_files(wg_dir, n, now)
        except OSError as exc:
            warning = str(exc)
        if warning and "already archived" not in warning:
            errors.append({"chat_id": n, "error": warning})
    return errors


def purge_offline(
    wg_dir: str, store: JsonlStore, now: int, include_active: bool, caller: int | None, user: str | None
) -> dict[str, Any]:
    """The daemon-down path (spec 4.7 step 6)."""
    chats = ChatStore(wg_dir)
    purged, skipped = purge_graph(
        store,
        chats,
        now,
        include_active=include_active,
        caller=caller,
        message="Chat {n} purged (daemon offline)",
        actor=OFFLINE_ACTOR,
        user=user,
    )
    errors = finish_files(wg_dir, purged, now)
    return {"purged": purged, "skipped": skipped, "errors": errors}


def summary(purged: int, skipped: list[dict[str, Any]], include_active: bool, *, offline: bool) -> str:
    active = [s for s in skipped if s["reason"] in ("active", "caller chat")]
    already = sum(1 for s in skipped if s["reason"] == "already archived")
    if offline:
        text = f"Daemon not running — purged {purged} chat agent(s) directly via graph"
    else:
        text = f"Purged {purged} chat(s)"
    if active:
        ids = ", ".join(f".chat-{s['chat_id']}" for s in active)
        text += f", skipped {len(active)} active chat(s) ({ids})"
        if not include_active:
            text += ". Pass --include-active to override."
    if already and not offline:
        text += f", skipped {already} already-archived"
    return text
