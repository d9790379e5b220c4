"""Task records beside the status: ``wg log``, ``wg artifact`` and ``wg msg`` (spec core 11.12-11.13)."""

from __future__ import annotations

from ..errors import UsageError, WgError
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..graph import Graph
    from ..model import Record
    from .args import Args
    from .context import Ctx


def _find(ctx: Ctx, task_id: str, suggest: bool) -> Record:
    """The task from a lock-free read, or ``Task '<id>' not found[. Did you mean '<other>'?]``."""
    from ..transitions import require

    return require(ctx.store.load(), task_id, suggest=suggest)


# -- log ----------------------------------------------------------------------------------------


def _append_log(graph: Graph, task_id: str, entry: Record) -> Record:
    from ..transitions import require

    task = require(graph, task_id, suggest=False)
    return graph.update(task_id, log=[*(task.get("log") or []), entry])


def run_log(ctx: Ctx, a: Args) -> int:
    if a.operations:
        return _list_operations(ctx, a.task)
    if not a.task:
        raise WgError("Task ID is required (use --operations to view the operations log)")
    if a.message is None or a.list:
        return _list_log(ctx, a.task)
    from ..model import log_entry
    from ..timeutil import format_ts

    entry = log_entry(format_ts(ctx.now), a.message, actor=a.actor, user=ctx.user)
    ctx.store.transaction(lambda g: _append_log(g, a.task, entry), ctx.now)
    ctx.notify_kind = ctx.notify_kind or "graph_changed"
    if ctx.json:
        ctx.emit_json({"id": a.task, "entry": entry})
    else:
        ctx.out(f"Added log entry to '{a.task}'" + (f" ({a.actor})" if a.actor else ""))
    return 0


def _list_log(ctx: Ctx, task_id: str) -> int:
    task = _find(ctx, task_id, suggest=True)
    entries = task.get("log") or []
    if ctx.json:
        ctx.emit_json(entries)
        return 0
    if not entries:
        ctx.out(f"No log entries for task '{task_id}'")
        return 0
    ctx.out(f"Log entries for '{task_id}' ({task.get('title', '')}):", "")
    for e in entries:
        actor = f" [{e['actor']}]" if e.get("actor") else ""
        ctx.out(f"  {e.get('timestamp', '')}{actor}", f"    {e.get('message', '')}", "")
    return 0


def _list_operations(ctx: Ctx, task_id: str | None) -> int:
    import json

    from ..oplog import read_operations

    ctx.store  # noqa: B018  # raises "WG not initialized" when there is no graph
    ops = read_operations(ctx.wg_dir)
    if task_id:
        ops = [op for op in ops if op.get("task_id") == task_id]
    if ctx.json:
        ctx.emit_json(ops)
        return 0
    if not ops:
        ctx.out("No operations recorded.")
        return 0
    ctx.out(f"Operations log ({len(ops)} entries):")
    for op in ops:
        task = f" [{op['task_id']}]" if op.get("task_id") else ""
        actor = f" ({op['actor']})" if op.get("actor") else ""
        ctx.out(f"  {op.get('timestamp', '')} {op.get('op', '')}{task}{actor}")
        if op.get("detail") is not None:
            ctx.out("    " + json.dumps(op["detail"], ensure_ascii=False, separators=(",", ":")))
    return 0


# -- artifact -----------------------------------------------------------------------------------


def _add_artifact(graph: Graph, task_id: str, path: str) -> tuple[bool, list[str]]:
    from ..transitions import require

    task = require(graph, task_id, suggest=False)
    artifacts = list(task.get("artifacts") or [])
    if path in artifacts:
        return False, artifacts
    artifacts.append(path)
    graph.update(task_id, artifacts=artifacts)
    return True, artifacts


def _remove_artifact(graph: Graph, task_id: str, path: str) -> list[str]:
    from ..transitions import require

    task = require(graph, task_id, suggest=False)
    artifacts = list(task.get("artifacts") or [])
    if path not in artifacts:
        raise WgError(f"Artifact '{path}' not found on task '{task_id}'")
    artifacts = [p for p in artifacts if p != path]
    graph.update(task_id, artifacts=artifacts or None)
    return artifacts


def run_artifact(ctx: Ctx, a: Args) -> int:
    tid, path = a.task, a.path
    if path is None:
        if a.remove:
            raise UsageError(
                "the following required arguments were not provided: <PATH>", ARTIFACT.usage("artifact")
            )
        return _list_artifacts(ctx, tid)
    if a.remove:
        artifacts = ctx.store.transaction(lambda g: _remove_artifact(g, tid, path), ctx.now)
        changed = True
        ctx.mutated("artifact_rm", tid, detail={"path": path})
        line = f"Removed artifact '{path}' from task '{tid}'"
    else:
        changed, artifacts = ctx.store.transaction(lambda g: _add_artifact(g, tid, path), ctx.now)
        if changed:
            ctx.mutated("artifact_add", tid, detail={"path": path})
            line = f"Registered artifact '{path}' for task '{tid}'"
        else:
            line = f"Artifact '{path}' already registered for task '{tid}'"
    if ctx.json:
        ctx.emit_json({"id": tid, "path": path, "changed": changed, "artifacts": artifacts})
    else:
        ctx.out(line)
    return 0


def _list_artifacts(ctx: Ctx, task_id: str) -> int:
    task = _find(ctx, task_id, suggest=True)
    deliverables: list[str] = list(task.get("deliverables") or [])
    artifacts: list[str] = list(task.get("artifacts") or [])
    if ctx.json:
        ctx.emit_json({"task_id": task_id, "deliverables": deliverables, "artifacts": artifacts})
        return 0
    ctx.out(f"Task: {task_id} - {task.get('title', '')}", "")
    if deliverables:
        ctx.out("Expected deliverables:")
        ctx.out(*(f"  {d}" + (" [produced]" if d in artifacts else "") for d in deliverables))
        ctx.out("")
    if artifacts:
        ctx.out("Produced artifacts:")
        ctx.out(*(f"  {p}" + ("" if p in deliverables else " [extra]") for p in artifacts))
    else:
        ctx.out("No artifacts produced yet.")
    return 0


# -- msg ----------------------------------------------------------------------------------------


def _bump_interaction(graph: Graph, task_id: str, now: int) -> None:
    """``wg msg send`` stamps the target explicitly (never moving the stamp backwards)."""
    from ..timeutil import format_ts, parse_ts

    task = graph.get(task_id)
    if task is None:
        return  # removed since the message was written: nothing to bump
    current = parse_ts(task.get("last_interaction_at"))
    if current is None or current < now:
        graph.update(task_id, last_interaction_at=format_ts(now))


def _message_body(a: Args) -> str:
    if a.stdin:
        import sys

        body = sys.stdin.read().rstrip()
    elif a.message is None:
        raise WgError("Message body required (or use --stdin)")
    else:
        body = a.message
    if not body.strip():
        raise WgError("Message body cannot be empty")
    return str(body)


def run_msg_send(ctx: Ctx, a: Args) -> int:
    from ..messages import send_message

    tid = a.task
    _find(ctx, tid, suggest=True)
    body = _message_body(a)
    sender = a.sender or "user"
    if sender == "user" and ctx.env("WG_TASK_ID"):
        sender = ctx.env("WG_TASK_ID")
    msg = send_message(ctx.wg_dir, tid, body, sender, a.priority or "normal", ctx.now)
    # Lock order (spec core 8): the message file is written and released before the graph lock.
    ctx.store.transaction(lambda g: _bump_interaction(g, tid, ctx.now), ctx.now)
    ctx.notify_kind = ctx.notify_kind or "graph_changed"
    if ctx.json:
        ctx.emit_json({"task_id": tid, "message_id": msg["id"]})
    else:
        ctx.out(f"Message #{msg['id']} sent to '{tid}'")
    return 0


def run_msg_list(ctx: Ctx, a: Args) -> int:
    from ..messages import list_messages, listing

    tid = a.task
    _find(ctx, tid, suggest=True)
    msgs = list_messages(ctx.wg_dir, tid)
    if ctx.json:
        ctx.emit_json(msgs)
    elif not msgs:
        ctx.out(f"No messages for task '{tid}'")
    else:
        ctx.out(f"Messages for '{tid}' ({len(msgs)} total):", "", *listing(msgs))
    return 0


def _reader(ctx: Ctx, a: Args) -> str:
    return str(a.agent or ctx.env("WG_AGENT_ID") or "user")


def _plural(n: int) -> str:
    return "" if n == 1 else "s"


def run_msg_read(ctx: Ctx, a: Args) -> int:
    from ..messages import listing, read_unread

    tid, reader = a.task, _reader(ctx, a)
    _find(ctx, tid, suggest=True)
    msgs = read_unread(ctx.wg_dir, tid, reader, ctx.now)
    if ctx.json:
        ctx.emit_json(msgs)
    elif not msgs:
        ctx.out(f"No unread messages for task '{tid}' (agent: {reader})")
    else:
        n = len(msgs)
        ctx.out(f"{n} unread message{_plural(n)} for '{tid}' (agent: {reader}):", "", *listing(msgs))
    return 0


def run_msg_poll(ctx: Ctx, a: Args) -> int:
    """Exit 0 when something is new, 1 when not (spec core 1.1: kept for shell loops)."""
    from ..messages import listing, poll_messages

    tid, reader = a.task, _reader(ctx, a)
    _find(ctx, tid, suggest=True)
    msgs = poll_messages(ctx.wg_dir, tid, reader)
    if ctx.json:
        ctx.emit_json(msgs)
    elif not msgs:
        ctx.out(f"No new messages for task '{tid}'")
    else:
        n = len(msgs)
        ctx.out(f"{n} new message{_plural(n)} for '{tid}' (agent: {reader}):", "", *listing(msgs))
    return 0 if msgs else 1


_TASK = Arg("task", help="Task id")
_AGENT = Opt("--agent", help="Reader id (default: $WG_AGENT_ID, else user)")

LOG = Cmd(
    "log",
    "Add to or show a task's log",
    run_log,
    args=[Arg("task", required=False, help="Task id"), Arg("message", required=False, help="Log message")],
    opts=[
        Opt("--actor", help="Who is logging"),
        flag("--list", help="List the task's log entries"),
        flag("--operations", help="Show the operations log"),
    ],
)

ARTIFACT = Cmd(
    "artifact",
    "Register, remove or list artifacts",
    run_artifact,
    args=[_TASK, Arg("path", required=False, help="Artifact path (omit to list)")],
    opts=[flag("--remove", help="Remove the artifact instead of registering it")],
)

MSG = Cmd(
    "msg",
    "Task message queues",
    subs=[
        Cmd(
            "send",
            "Send a message to a task",
            run_msg_send,
            args=[_TASK, Arg("message", required=False, help="Message body")],
            opts=[
                Opt("--from", dest="sender", default="user", help="Sender (default: $WG_TASK_ID, else user)"),
                Opt("--priority", default="normal", choices=("normal", "urgent"), help="normal or urgent"),
                flag("--stdin", help="Read the body from stdin"),
            ],
        ),
        Cmd("list", "List a task's messages", run_msg_list, args=[_TASK]),
        Cmd("read", "Read unread messages (advances the cursor)", run_msg_read, args=[_TASK], opts=[_AGENT]),
        Cmd("poll", "Check for new messages (exit 1 when none)", run_msg_poll, args=[_TASK], opts=[_AGENT]),
    ],
)

COMMANDS: dict[str, Cmd] = {"log": LOG, "artifact": ARTIFACT, "msg": MSG}
