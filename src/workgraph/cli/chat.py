"""``wg chat ...``, the chat forms of ``wg service`` and ``wg migrate chat-rename`` (spec chats.md 4)."""

from __future__ import annotations

import os

from ..errors import UsageError, WgError
from .args import Arg, Cmd, Opt, flag
from .chat_admin import run_purge
from .chat_handler import run_attach

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..model import Record
    from .args import Args
    from .context import Ctx


# -- helpers ------------------------------------------------------------------------------------


def _socket(ctx: Ctx) -> str | None:
    """The daemon socket when a ``connect()`` succeeds (spec 4.1 "Dispatcher up"), else None."""
    import socket

    from ..service.files import ServicePaths

    path = ServicePaths(ctx.wg_dir).socket_from_state()
    if not os.path.exists(path):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(path)
    except OSError:
        return None
    return path


def _ipc(sock: str, req: dict[str, Any]) -> dict[str, Any]:
    from ..service.ipc import request

    try:
        reply = request(sock, req)
    except (OSError, ValueError) as exc:
        raise WgError(f"IPC request '{req['cmd']}' failed: {exc}") from None
    if not reply.get("ok"):
        raise WgError(str(reply.get("error") or "request failed"))
    reply.pop("ok", None)
    return reply


def _resolve(ctx: Ctx, ref: str, *, live: bool = False) -> tuple[int, Record]:
    from ..chat import model as cm
    from ..chat.ops import resolve_ref

    n, task = resolve_ref(ctx.store.load(), ref)
    if live:
        bad = cm.state_error(n, task)
        if bad:
            raise WgError(bad)
    return n, task


def _ref(a: Args) -> str:
    return str(a.get("chat") if a.get("chat") is not None else a.get("ref"))


# -- create / list / show -----------------------------------------------------------------------


def run_new(ctx: Ctx, a: Args) -> int:
    from ..chat.ops import create_chat

    if a.command and (a.executor or a.model or a.endpoint):
        raise UsageError("--command cannot be combined with --exec/--executor, --model, or --endpoint")
    ctx.store  # noqa: B018  (not initialized -> error before anything else)
    sock = _socket(ctx)
    if sock is not None:
        req = {"cmd": "create_chat"}
        for key in ("name", "model", "executor", "endpoint", "command"):
            if a[key]:
                req[key] = a[key]
        ctx.emit_json(_ipc(sock, req))
        return 0
    n, task_id = create_chat(
        ctx.wg_dir,
        ctx.store,
        ctx.now,
        name=a.name,
        executor=a.executor,
        model=a.model,
        endpoint=a.endpoint,
        command=a.command,
        user=ctx.user,
    )
    ctx.mutated("chat_create", task_id)
    if ctx.json:
        ctx.emit_json(
            {
                "chat_id": n,
                "coordinator_id": n,
                "task_id": task_id,
                "name": a.name,
                "service": "down",
                "status": "dormant",
            }
        )
    else:
        ctx.out(
            f"Created chat {n} (task {task_id}). Service is not running — chat is dormant.",
            "Start the service ('wg service start') and the supervisor will spawn the handler.",
        )
    return 0


def _runtime(task: Record, n: int, up: bool, supervised: set[int]) -> str:
    from ..chat import model as cm

    if task.get("status") == "abandoned":
        return "deleted"
    if cm.is_archived(task):
        return "archived"
    if not up:
        return "dormant"
    if n in supervised:
        return "supervised"
    if task.get("status") == "open":
        return "stopped"
    return "dormant"


def _supervised(sock: str | None) -> set[int]:
    if sock is None:
        return set()
    try:
        rows = _ipc(sock, {"cmd": "list_chats"}).get("coordinators") or []
    except WgError:
        return set()
    return {int(r["coordinator_id"]) for r in rows if r.get("supervised")}


def run_list(ctx: Ctx, a: Args) -> int:
    from ..chat import model as cm
    from ..model import status_name

    chats = cm.chat_numbers(ctx.store.load())
    sock = _socket(ctx)
    supervised = _supervised(sock)
    rows = []
    for n, task in chats.items():
        rows.append(
            {
                "chat_id": n,
                "task_id": task["id"],
                "title": task.get("title"),
                "status": _runtime(task, n, sock is not None, supervised),
                "task_status": status_name(str(task.get("status", "open"))),
                "service_running": sock is not None,
            }
        )
    if ctx.json:
        ctx.emit_json({"chats": rows})
        return 0
    if not rows:
        ctx.out("No chats. Create one with 'wg chat create --name <NAME>'.")
        return 0
    ctx.out(f"{'ID':<6}  {'STATUS':<14}  {'TASK':<24}  TITLE")
    for r in rows:
        tail = " — service stopped" if r["status"] == "dormant" and sock is None else ""
        ctx.out(f"{r['chat_id']:<6}  {r['status']:<14}  {r['task_id']:<24}  {r['title']}{tail}")
    return 0


def run_show(ctx: Ctx, a: Args) -> int:
    from ..chat.store import ChatStore
    from ..model import status_name

    n, task = _resolve(ctx, _ref(a))
    sock = _socket(ctx)
    state = ChatStore(ctx.wg_dir).read_state(n)
    data = {
        "chat_id": n,
        "task_id": task["id"],
        "title": task.get("title"),
        "task_status": status_name(str(task.get("status", "open"))),
        "runtime_status": _runtime(task, n, sock is not None, _supervised(sock)),
        "service_running": sock is not None,
        "executor": state.get("executor_override"),
        "model": state.get("model_override"),
    }
    if ctx.json:
        ctx.emit_json(data)
    else:
        for key, value in data.items():
            ctx.out(f"{key}: {value if value is not None else '-'}")
    return 0


# -- send / ask ---------------------------------------------------------------------------------


def _bump(ctx: Ctx, task_id: str) -> None:
    from ..timeutil import format_ts

    stamp = format_ts(ctx.now)
    ctx.store.transaction(lambda g: g.update(task_id, last_interaction_at=stamp), ctx.now)


def run_send(ctx: Ctx, a: Args) -> int:
    import time

    from ..chat.store import ChatStore, append_message

    n, task = _resolve(ctx, _ref(a), live=True)
    if not a.message or not a.message.strip():
        raise WgError("Message is empty")
    chat_dir = ChatStore(ctx.wg_dir).register(n, ctx.now)
    request_id = f"wg-chat-send-{int(time.time() * 1000)}"
    inbox_id = append_message(chat_dir, "inbox", "user", a.message, request_id, ctx.now, ctx.user)
    _bump(ctx, str(task["id"]))
    sock = _socket(ctx)
    if sock is not None:
        try:
            _ipc(sock, {"cmd": "wake_chat", "chat_id": n})
        except WgError:
            pass
    if ctx.json:
        ctx.emit_json(
            {
                "chat_id": n,
                "inbox_id": inbox_id,
                "request_id": request_id,
                "service_running": sock is not None,
            }
        )
    else:
        tail = "" if sock else " Service is not running — message will be processed when daemon starts."
        ctx.out(f"Appended message #{inbox_id} to chat {n} inbox.{tail}")
    return 0


def run_ask(ctx: Ctx, a: Args) -> int:
    """One-shot ``wg chat "<msg>" [--coordinator N] [--timeout S]``: send, then wait for the reply."""
    import time

    from ..chat.store import CURSOR, ChatStore, read_messages, write_cursor

    words = a.message or []
    if not words:
        raise UsageError(
            "a message is required (or a subcommand: new, list, show, send, ...)", "Usage: wg chat <MESSAGE>"
        )
    text = " ".join(words)
    if len(text.encode()) > 100 * 1024:
        raise WgError("Message exceeds the 100 KiB limit")
    n, _task = _resolve(ctx, str(a.coordinator if a.coordinator is not None else 0), live=True)
    sock = _socket(ctx)
    if sock is None:
        raise WgError("Service is not running. Start it with 'wg service start', or use 'wg chat send'.")
    request_id = f"wg-chat-{int(time.time() * 1000)}-{os.getpid()}"
    chats = ChatStore(ctx.wg_dir)
    chat_dir = chats.register(n, ctx.now)
    seen = max((m["id"] for m in read_messages(os.path.join(chat_dir, "outbox.jsonl"))), default=0)
    write_cursor(chat_dir, CURSOR, seen)
    _ipc(sock, {"cmd": "user_chat", "chat_id": n, "message": text, "request_id": request_id})
    deadline = time.monotonic() + (a.timeout or 120)
    while time.monotonic() < deadline:
        for m in read_messages(os.path.join(chat_dir, "outbox.jsonl")):
            if m["id"] > seen:
                seen = m["id"]
                write_cursor(chat_dir, CURSOR, seen)
            if m.get("request_id") == request_id:
                if ctx.json:
                    ctx.emit_json({"chat_id": n, "request_id": request_id, "reply": m.get("content")})
                else:
                    ctx.out(str(m.get("content")))
                return 0
        write_cursor(chat_dir, CURSOR, seen)
        time.sleep(0.2)
    raise WgError(f"No reply from chat {n} within {a.timeout or 120}s (request {request_id})")


# -- stop / resume / archive / delete / interrupt ---------------------------------------------------


def _need_up(ctx: Ctx, text: str) -> str:
    sock = _socket(ctx)
    if sock is None:
        raise WgError(text)
    return sock


def run_stop(ctx: Ctx, a: Args) -> int:
    n, _ = _resolve(ctx, _ref(a), live=True)
    sock = _need_up(
        ctx,
        f"Cannot stop chat {n}: service daemon is not running. The handler is supervised by the daemon — without "
        "it there is no handler to stop. Start the daemon ('wg service start') first.",
    )
    ctx.emit_json(_ipc(sock, {"cmd": "stop_chat", "chat_id": n}))
    return 0


def run_resume(ctx: Ctx, a: Args) -> int:
    n, _ = _resolve(ctx, _ref(a), live=True)
    sock = _need_up(
        ctx,
        f"Cannot resume chat {n}: service daemon is not running. Resume requires the supervisor (which lives in "
        "the daemon) to spawn the handler. Start the daemon ('wg service start') and the supervisor will pick up "
        "this chat automatically.",
    )
    data = _ipc(sock, {"cmd": "resume_chat", "chat_id": n})
    if ctx.json:
        ctx.emit_json(data)
    else:
        ctx.out(f"Resumed chat {n} (task {data.get('task_id')}).")
    return 0


def run_interrupt(ctx: Ctx, a: Args) -> int:
    n, _ = _resolve(ctx, _ref(a), live=True)
    sock = _need_up(ctx, f"Cannot interrupt chat {n}: service daemon is not running.")
    ctx.emit_json(_ipc(sock, {"cmd": "interrupt_chat", "chat_id": n}))
    return 0


def run_archive(ctx: Ctx, a: Args) -> int:
    from ..chat import model as cm
    from ..chat.ops import archive_chat, archive_files

    n, _ = _resolve(ctx, _ref(a))
    graph = ctx.store.load()
    cm.archive_change(graph, n, ctx.now, "", "")  # the state checks only; this copy is dropped
    sock = _socket(ctx)
    if sock is not None:
        ctx.emit_json(_ipc(sock, {"cmd": "archive_chat", "chat_id": n}))
        return 0
    task_id = archive_chat(
        ctx.wg_dir, ctx.store, ctx.now, n, f"Chat {n} archived (service down)", "wg-chat-archive", ctx.user
    )
    warning = archive_files(ctx.wg_dir, n, ctx.now)
    if warning:
        ctx.err(f"Warning: {warning}")
    ctx.mutated("chat_archive", task_id)
    if ctx.json:
        ctx.emit_json({"chat_id": n, "archived": True, "service": "down"})
    else:
        ctx.out(f"Archived chat {n} (service was not running).")
    return 0


def run_delete(ctx: Ctx, a: Args) -> int:
    import sys

    from ..chat.ops import delete_chat

    n, task = _resolve(ctx, _ref(a))
    if task.get("status") == "abandoned":
        raise WgError(f"Chat {n} is already deleted")
    if not a.get("yes") and not ctx.json and a.cmd_path.startswith("chat"):
        sys.stderr.write(f"Delete chat {n} (graph task abandoned, chat dir preserved)? [y/N] ")
        sys.stderr.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            ctx.out("Aborted.")
            return 0
    sock = _socket(ctx)
    if sock is not None:
        ctx.emit_json(_ipc(sock, {"cmd": "delete_chat", "chat_id": n}))
        return 0
    task_id = delete_chat(
        ctx.wg_dir, ctx.store, ctx.now, n, f"Chat {n} deleted (service down)", "wg-chat-delete", ctx.user
    )
    ctx.mutated("chat_delete", task_id)
    if ctx.json:
        ctx.emit_json({"chat_id": n, "deleted": True, "service": "down"})
    else:
        ctx.out(f"Deleted chat {n} (service was not running).")
    return 0


# -- command tables ------------------------------------------------------------------------------------

_CREATE_OPTS = [
    Opt("--name", help="Chat name (title 'Chat: <name>')"),
    Opt("--exec", "--executor", dest="executor", help="Executor preset: claude, codex, nex"),
    Opt("-m", "--model", dest="model", help="Model (provider:model)"),
    Opt("-e", "--endpoint", dest="endpoint", help="Endpoint name"),
    Opt("--command", help="Custom command run by the TUI (no handler from the daemon)"),
]
_REF = Arg("ref", help="Chat number, id (.chat-N, chat-N) or name")
_CHAT = Arg("chat", help="Chat number")
_PURGE_FLAG = flag(
    "--include-active",
    "--force",
    "--all",
    dest="include_active",
    help="Also purge active and the caller's chat",
)

CHAT = Cmd(
    "chat",
    "Chat agents: create, list, send, stop, resume, archive, delete",
    subs=[
        Cmd(
            "ask",
            "Send a message and wait for the reply",
            run_ask,
            args=[Arg("message", required=False, variadic=True, help="The message")],
            opts=[
                Opt("--coordinator", "--chat", dest="coordinator", help="Chat number (default 0)"),
                Opt("--timeout", type=int, help="Seconds to wait (default 120)"),
            ],
        ),
        Cmd("new", "Create a chat", run_new, opts=_CREATE_OPTS),
        Cmd("create", "Create a chat", run_new, opts=_CREATE_OPTS),
        Cmd("list", "List chats", run_list),
        Cmd("ls", "List chats", run_list),
        Cmd("show", "Show one chat", run_show, args=[_REF]),
        Cmd("send", "Append a message to a chat's inbox", run_send, args=[_REF, Arg("message")]),
        Cmd(
            "attach",
            "Print a chat's replies as they arrive (keeps the chat awake)",
            run_attach,
            args=[_REF],
            opts=[Opt("--timeout", type=int, help="Detach after this many seconds (default: never)")],
        ),
        Cmd("stop", "Stop a chat's supervisor", run_stop, args=[_REF]),
        Cmd("resume", "Resume a stopped chat", run_resume, args=[_REF]),
        Cmd("archive", "Archive a chat (history kept)", run_archive, args=[_REF]),
        Cmd(
            "delete",
            "Delete a chat (task abandoned, history kept)",
            run_delete,
            args=[_REF],
            opts=[flag("-y", "--yes", help="Do not ask")],
        ),
    ],
    default_sub="ask",
)

SERVICE_SUBS = [
    Cmd("create-chat", "Create a chat", run_new, opts=_CREATE_OPTS),
    Cmd("create-coordinator", "Create a chat (legacy name)", run_new, opts=_CREATE_OPTS),
    Cmd("stop-chat", "Stop a chat's supervisor", run_stop, args=[_CHAT]),
    Cmd("resume-chat", "Resume a stopped chat", run_resume, args=[_CHAT]),
    Cmd("archive-chat", "Archive a chat", run_archive, args=[_CHAT]),
    Cmd("delete-chat", "Delete a chat", run_delete, args=[_CHAT]),
    Cmd("interrupt-chat", "Interrupt a chat's current turn", run_interrupt, args=[_CHAT]),
    Cmd("purge-chats", "Archive every live chat (history kept)", run_purge, opts=[_PURGE_FLAG]),
]

COMMANDS = {"chat": CHAT}
