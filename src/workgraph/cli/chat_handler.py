"""The processes the chat supervisor runs (spec chats.md 3.1, 3.5): ``wg spawn-task <task-id>``, which
becomes ``wg claude-handler --chat chat-N [-m M]`` or ``wg codex-handler --chat chat-N [-m M]`` in the
same process, so the pid the supervisor holds is the handler's.
"""

from __future__ import annotations

import os

from ..errors import UsageError, WgError
from .args import Arg, Cmd, Opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .args import Args
    from .context import Ctx


def _chat(a: Args) -> str:
    if not a.chat:
        raise UsageError("the following required arguments were not provided: --chat <REF>")
    return str(a.chat)


def _wg_dir(ctx: Ctx) -> str:
    ctx.store  # noqa: B018  (not initialized -> the usual error)
    return ctx.wg_dir


def run_claude_handler(ctx: Ctx, a: Args) -> int:
    from ..chat.handler import run_handler

    return run_handler(_wg_dir(ctx), _chat(a), "claude", a.model)


def run_codex_handler(ctx: Ctx, a: Args) -> int:
    from ..chat.handler import run_handler

    return run_handler(_wg_dir(ctx), _chat(a), "codex", a.model)


def run_spawn_task(ctx: Ctx, a: Args) -> int:
    """Map ``.chat-N`` to ``chat-N`` (``.coordinator-N`` to ``coordinator-N``) and run the handler of the
    executor the supervisor chose (``WG_EXECUTOR_TYPE``/``WG_MODEL``, else the chat's effective settings)."""
    from ..chat import model as cm
    from ..chat.handler import run_handler
    from ..chat.ops import chat_settings, effective_settings
    from ..chat.store import ChatStore

    task_id = str(a.task_id)
    parsed = cm.parse_task_id(task_id)
    if parsed is None:
        raise WgError(f"'{task_id}' is not a chat task (expected .chat-N)")
    n, legacy = parsed
    wg_dir = _wg_dir(ctx)
    task = ctx.store.load().get(task_id)
    if task is None:
        raise WgError(f"Chat task '{task_id}' not found")
    executor = os.environ.get("WG_EXECUTOR_TYPE") or ""
    model: str | None = os.environ.get("WG_MODEL") or None
    if not executor:
        try:
            executor, planned, _ = effective_settings(ChatStore(wg_dir), chat_settings(wg_dir), n, task)
        except ValueError as exc:
            raise WgError(str(exc)) from None
        model = model or planned
    ref = f"coordinator-{n}" if legacy else f"chat-{n}"
    if executor == "shell":
        raise WgError("the shell executor cannot run a chat")
    if executor in ("nex", "native"):
        raise WgError("the native chat handler (wg nex) is not available in this version; use --exec claude")
    if executor not in ("claude", "codex"):
        raise WgError(f"Unknown chat executor '{executor}'. Available: claude, codex")
    return run_handler(wg_dir, ref, executor, model)


def run_attach(ctx: Ctx, a: Args) -> int:
    """``wg chat attach <ref>``: a consumer (spec 1, 4.4) printing replies as they arrive. It writes
    ``.cursor`` on every outbox read and at least every 15 s, so the chat is not idle while attached."""
    import json
    import sys
    import time

    from ..chat import model as cm
    from ..chat.ops import resolve_ref
    from ..chat.store import CURSOR, ChatStore, read_messages, write_cursor

    n, task = resolve_ref(ctx.store.load(), str(a.ref))
    bad = cm.state_error(n, task)
    if bad:
        raise WgError(bad)
    chat_dir = ChatStore(ctx.wg_dir).register(n, ctx.now)
    outbox = os.path.join(chat_dir, "outbox.jsonl")
    seen = max((m["id"] for m in read_messages(outbox)), default=0)
    written = -1
    if not ctx.json:
        ctx.err(f"Attached to chat {n} (Ctrl-C to detach).")
    deadline = time.monotonic() + a.timeout if a.timeout else None
    touched = 0.0
    try:
        while deadline is None or time.monotonic() < deadline:
            for m in read_messages(outbox):
                if m["id"] <= seen:
                    continue
                seen = m["id"]
                if ctx.json:
                    sys.stdout.write(json.dumps(m, ensure_ascii=False) + "\n")
                else:
                    role = m.get("role")
                    sys.stdout.write(
                        f"{'' if role == 'coordinator' else f'[{role}] '}{m.get('content', '')}\n"
                    )
                sys.stdout.flush()
            if seen != written or time.monotonic() - touched >= 1:  # spec 8: refresh within 15 s
                write_cursor(chat_dir, CURSOR, seen)
                written, touched = seen, time.monotonic()
            time.sleep(0.25)
    except KeyboardInterrupt:
        pass
    return 0


def _handler_cmd(cli: str, run: Callable[[Ctx, Args], int]) -> Cmd:
    """``wg <cli>-handler``: the same options for every chat CLI."""
    return Cmd(
        f"{cli}-handler",
        f"Chat handler bridging a chat's inbox to the {cli} CLI (run by the supervisor)",
        run,
        opts=[
            Opt("--chat", help="Chat reference (chat-N)", metavar="REF"),
            Opt("-m", "--model", dest="model", help=f"Model ({cli}: prefix stripped)"),
        ],
        json=False,
    )


COMMANDS = {
    "claude-handler": _handler_cmd("claude", run_claude_handler),
    "codex-handler": _handler_cmd("codex", run_codex_handler),
    "spawn-task": Cmd(
        "spawn-task",
        "Run the handler of a chat task in this process (used by the chat supervisor)",
        run_spawn_task,
        args=[Arg("task_id", help="Chat task id (.chat-N)")],
        json=False,
    ),
}
