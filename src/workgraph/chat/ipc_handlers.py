"""The daemon's chat IPC requests (spec chats.md 4.2). ``service/handlers.py`` merges ``CHAT_HANDLERS``."""

from __future__ import annotations

import os
import time

from ..errors import WgError
from ..service.ipc import InvalidRequest
from ..timeutil import format_ts, now_ns
from . import model as cm
from .ops import archive_chat, archive_files, create_chat, delete_chat
from .store import ChatStore, append_message, lock_holder

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..service.daemon import Daemon
    from .manager import ChatManager

    Handler = Callable[[Daemon, dict[str, Any]], dict[str, Any]]


def _mgr(daemon: Daemon) -> ChatManager:
    mgr = getattr(daemon, "chats", None)
    if mgr is None:
        raise WgError("Chat supervisors are not running in this daemon")
    return mgr  # type: ignore[no-any-return]


def _chat_id(req: dict[str, Any], default: int | None = None) -> int:
    value = req.get("chat_id", req.get("coordinator_id"))
    if value is None:
        if default is None:
            raise InvalidRequest("missing field 'chat_id'")
        return default
    if isinstance(value, bool):
        raise InvalidRequest("field 'chat_id' must be an integer")
    if isinstance(value, int) and 0 <= value <= cm.U32_MAX:
        return value
    if isinstance(value, str) and cm.parse_hint(value) is not None:
        return int(cm.parse_hint(value))  # type: ignore[arg-type]
    raise InvalidRequest("field 'chat_id' must be an integer")


def _opt_str(req: dict[str, Any], name: str) -> str | None:
    value = req.get(name)
    if value is not None and not isinstance(value, str):
        raise InvalidRequest(f"field '{name}' must be a string")
    return value or None


def _user() -> str:
    return os.environ.get("WG_USER") or os.environ.get("USER") or "unknown"


def _live_task(mgr: ChatManager, n: int) -> dict[str, Any]:
    task = cm.find_task(mgr.store.load(), n, bare=True)
    if task is None:
        raise WgError(f"Chat task '.chat-{n}' not found")
    bad = cm.state_error(n, task)
    if bad:
        raise WgError(bad)
    return task


def _bump(mgr: ChatManager, task_id: str, now: int) -> None:
    try:
        mgr.store.transaction(
            lambda g: g.update(task_id, last_interaction_at=format_ts(now)) if g.get(task_id) else None, now
        )
    except WgError:
        pass


def handle_user_chat(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    mgr = _mgr(daemon)
    n = _chat_id(req, 0)
    message = req.get("message")
    if not isinstance(message, str) or not message:
        raise InvalidRequest("field 'message' must be a non-empty string")
    request_id = _opt_str(req, "request_id") or f"ipc-{int(time.time() * 1000)}"
    task = _live_task(mgr, n)
    now = now_ns()
    chat_dir = mgr.chats.register(n, now)
    inbox_id = append_message(chat_dir, "inbox", "user", message, request_id, now, _opt_str(req, "user"))
    _bump(mgr, str(task["id"]), now)
    mgr.start(n, revive=True)
    return {"ok": True, "status": "accepted", "request_id": request_id, "inbox_id": inbox_id, "chat_id": n}


def handle_create_chat(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    mgr = _mgr(daemon)
    name, model = _opt_str(req, "name"), _opt_str(req, "model")
    executor, endpoint, command = (
        _opt_str(req, "executor"),
        _opt_str(req, "endpoint"),
        _opt_str(req, "command"),
    )
    if command and (executor or model or endpoint):
        raise WgError("--command cannot be combined with --exec/--executor, --model, or --endpoint")
    now = now_ns()
    n, task_id = create_chat(
        mgr.wg_dir,
        mgr.store,
        now,
        name=name,
        executor=executor,
        model=model,
        endpoint=endpoint,
        command=command,
        user=_user(),
        settings=mgr.settings,
    )
    daemon.log("INFO", f"Chat {n} created via IPC (task {task_id})")
    mgr.start(n, lazy=False)
    return {"ok": True, "coordinator_id": n, "chat_id": n, "task_id": task_id, "name": name}


def handle_list_chats(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    from ..model import status_name

    mgr = _mgr(daemon)
    rows = []
    for task in mgr.store.load().tasks():
        parsed = cm.parse_task_id(task["id"])
        if parsed is None:
            continue
        n = parsed[0]
        sup = mgr.get(n)
        rows.append(
            {
                "coordinator_id": n,
                "task_id": task["id"],
                "title": task.get("title"),
                "status": status_name(str(task.get("status", "open"))),
                "loop_iteration": task.get("loop_iteration", 0),
                "supervised": sup is not None,
                "handler_pid": sup.handler_pid() if sup is not None else None,
            }
        )
    rows.sort(key=lambda r: (r["coordinator_id"], str(r["task_id"]).startswith(".coordinator")))
    return {"ok": True, "coordinators": rows}


def _set_status(daemon: Daemon, req: dict[str, Any], status: str, word: str) -> tuple[ChatManager, int, str]:
    mgr = _mgr(daemon)
    n = _chat_id(req)
    now = now_ns()
    task_id = mgr.store.transaction(
        lambda g: cm.set_status_change(g, n, now, status, f"Chat {n} {word} via IPC", _user()), now
    )
    return mgr, n, task_id


def handle_stop_chat(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    mgr, n, task_id = _set_status(daemon, req, "open", "stopped")
    mgr.stop_many([n], remember=True)
    daemon.log("INFO", f"Chat {n} stopped via IPC")
    return {"ok": True, "coordinator_id": n, "chat_id": n, "task_id": task_id}


def handle_resume_chat(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    mgr, n, task_id = _set_status(daemon, req, "in-progress", "resumed")
    mgr.start(n, revive=True)
    return {"ok": True, "chat_id": n, "task_id": task_id, "resumed": True}


def handle_wake_chat(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    mgr = _mgr(daemon)
    n = _chat_id(req)
    return {"ok": True, "chat_id": n, "supervisor_started": mgr.start(n)}


def handle_archive_chat(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    mgr = _mgr(daemon)
    n = _chat_id(req)
    now = now_ns()
    task_id = archive_chat(mgr.wg_dir, mgr.store, now, n, f"Chat {n} archived via IPC", "daemon", _user())
    mgr.stop_many([n])
    warning = archive_files(mgr.wg_dir, n, now)
    if warning:
        daemon.log("WARN", f"Chat {n} archived, but its history was not moved: {warning}")
    daemon.log("INFO", f"Chat {n} archived via IPC")
    return {"ok": True, "coordinator_id": n, "chat_id": n, "task_id": task_id}


def handle_delete_chat(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    mgr = _mgr(daemon)
    n = _chat_id(req)
    now = now_ns()
    task_id = delete_chat(mgr.wg_dir, mgr.store, now, n, f"Chat {n} deleted via IPC", "daemon", _user())
    mgr.stop_many([n])
    daemon.log("INFO", f"Chat {n} deleted via IPC")
    return {"ok": True, "coordinator_id": n, "chat_id": n, "task_id": task_id}


def handle_interrupt_chat(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    mgr = _mgr(daemon)
    n = _chat_id(req)
    _live_task(mgr, n)
    if mgr.interrupt(n) is None:
        raise WgError(f"Chat {n} has no running handler")
    return {"ok": True, "chat_id": n, "interrupted": True}


def handle_set_chat_executor(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    import signal

    mgr = _mgr(daemon)
    n = _chat_id(req)
    executor, model = _opt_str(req, "executor"), _opt_str(req, "model")
    if not executor and not model:
        raise InvalidRequest("one of 'executor' or 'model' is required")
    _live_task(mgr, n)
    mgr.chats.write_overrides(n, executor=executor, model=model)
    sup = mgr.get(n)
    pid = sup.hot_swap() if sup is not None else None
    if sup is None:
        pid = lock_holder(mgr.chats.chat_dir(n))
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
    note = "handler restarting with the new settings" if pid else "applies at the next handler start"
    return {
        "ok": True,
        "coordinator_id": n,
        "executor": executor,
        "model": model,
        "signaled_pid": pid,
        "note": note,
    }


def handle_purge_chats(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    from .purge import finish_files, purge_graph

    mgr = _mgr(daemon)
    include = req.get("include_active", False)
    if not isinstance(include, bool):
        raise InvalidRequest("field 'include_active' must be a boolean")
    caller = req.get("caller_chat_id")
    caller_n = _chat_id({"chat_id": caller}) if caller is not None else None
    now = now_ns()
    purged, skipped = purge_graph(
        mgr.store,
        ChatStore(mgr.wg_dir),
        now,
        include_active=include,
        caller=caller_n,
        message="Chat {n} purged via IPC",
        actor="daemon",
        user=_user(),
    )
    mgr.stop_many([n for n, _ in purged])
    errors = finish_files(mgr.wg_dir, purged, now)
    daemon.log("INFO", f"Purged {len(purged)} chat(s) via IPC; skipped {len(skipped)}")
    return {
        "ok": True,
        "purged": [{"chat_id": n, "task_id": tid} for n, tid in purged],
        "skipped": skipped,
        "errors": errors,
    }


CHAT_HANDLERS: dict[str, Handler] = {
    "user_chat": handle_user_chat,
    "create_chat": handle_create_chat,
    "create_coordinator": handle_create_chat,
    "list_chats": handle_list_chats,
    "list_coordinators": handle_list_chats,
    "stop_chat": handle_stop_chat,
    "stop_coordinator": handle_stop_chat,
    "resume_chat": handle_resume_chat,
    "wake_chat": handle_wake_chat,
    "archive_chat": handle_archive_chat,
    "archive_coordinator": handle_archive_chat,
    "delete_chat": handle_delete_chat,
    "delete_coordinator": handle_delete_chat,
    "interrupt_chat": handle_interrupt_chat,
    "interrupt_coordinator": handle_interrupt_chat,
    "set_chat_executor": handle_set_chat_executor,
    "set_coordinator_executor": handle_set_chat_executor,
    "purge_chats": handle_purge_chats,
}
