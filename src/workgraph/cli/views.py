"""Read commands: list, ready (spec core 11.4); ``wg show`` is in show.py."""

from __future__ import annotations

from ..errors import WgError
from ..model import STATUSES, status_name
from ..timeutil import countdown, human_duration, parse_ts
from .args import Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph
    from ..model import Record
    from .args import Args
    from .context import Ctx

LIST_STATUSES = ("open", "in-progress", "done", "blocked", "failed", "abandoned", "incomplete")
NS = 1_000_000_000


def future_seconds(ts: object, now: int) -> int | None:
    """Whole seconds until ``ts`` (rounded down, as the original) when it lies in the future."""
    t = parse_ts(ts, naive_ok=True)
    if t is None or t <= now:
        return None
    return (t - now) // NS


# -- list ---------------------------------------------------------------------------------------


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def list_line(task: Record, now: int, colour: bool = False) -> str:
    parts = [
        f"{STATUSES.get(task.get('status', 'open'), ('[?]',))[0]} {task['id']} - {task.get('title', '')}"
    ]
    prio = task.get("priority", 10)
    if prio != 10:
        parts.append(f"⌁{prio}")
    if task.get("paused"):
        parts.append("[PAUSED]")
    if task.get("verify_failures"):
        parts.append(_paint(f"[V!{task['verify_failures']}]", "33", colour))  # yellow
    nb = future_seconds(task.get("not_before"), now)
    if nb is not None:
        parts.append(f"[delayed {countdown(nb)}]")
    ra = future_seconds(task.get("ready_after"), now)
    if ra is not None:
        parts.append(f"[ready in {countdown(ra)}]")
    if task.get("cron_schedule"):
        parts.append(_paint(f"[cron: {task['cron_schedule']}]", "36", colour))  # cyan
    if task.get("tags"):
        parts.append(f"[{', '.join(task['tags'])}]")
    return " ".join(parts)


def list_json(task: Record) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": task["id"],
        "title": task.get("title", ""),
        "status": task.get("status", "open"),
        "priority": task.get("priority", 10),
        "assigned": task.get("assigned"),
        "after": task.get("after") or [],
    }
    for key in ("tags", "not_before", "ready_after"):
        if task.get(key):
            out[key] = task[key]
    if task.get("paused"):
        out["paused"] = True
    for key in ("verify_failures", "cron_enabled", "cron_schedule", "next_cron_fire"):
        if task.get(key):
            out[key] = task[key]
    return out


def run_list(ctx: Ctx, a: Args) -> int:
    if a.status is not None and a.status not in LIST_STATUSES:
        raise WgError(f"Unknown status: '{a.status}'. Valid values: {', '.join(LIST_STATUSES)}")
    graph = ctx.store.load()
    rows = [
        t
        for t in graph.tasks()
        if (a.all or not t["id"].startswith("."))
        and (a.status is None or t.get("status", "open") == a.status)
        and (not a.paused or t.get("paused"))
        and all(tag in (t.get("tags") or ()) for tag in a.tag)
        and (not a.cron or t.get("cron_enabled"))
    ]
    if ctx.json:
        ctx.emit_json([list_json(t) for t in rows])
        return 0
    if not rows:
        ctx.out("No tasks found")
        return 0
    import sys

    colour = ctx.colour
    sys.stdout.write("".join(list_line(t, ctx.now, colour) + "\n" for t in rows))
    return 0


# -- ready --------------------------------------------------------------------------------------


def _waiting_on_delay(graph: Graph, now: int) -> list[tuple[Record, int]]:
    from ..model import TERMINAL

    out: list[tuple[Record, int]] = []
    for t in graph.tasks():
        if t.get("status") not in ("open", "incomplete") or t.get("paused"):
            continue
        secs = future_seconds(t.get("ready_after"), now)
        if secs is None:
            continue
        deps = [graph.get(d) for d in t.get("after") or ()]
        if all(d is None or d.get("status") in TERMINAL for d in deps):
            out.append((t, secs))
    return out


def run_ready(ctx: Ctx, a: Args) -> int:
    from ..graph import Readiness

    graph = ctx.store.load()
    readiness = Readiness(graph, ctx.now)
    for msg in readiness.break_in_messages:
        ctx.err(msg)
    ready = readiness.ready
    waiting = _waiting_on_delay(graph, ctx.now)
    if ctx.json:
        rows: list[dict[str, Any]] = [
            {
                "id": t["id"],
                "title": t.get("title", ""),
                "assigned": t.get("assigned"),
                "estimate": t.get("estimate"),
                "priority": t.get("priority", 10),
                "ready": True,
            }
            for t in ready
        ]
        rows += [
            {
                "id": t["id"],
                "title": t.get("title", ""),
                "assigned": t.get("assigned"),
                "estimate": t.get("estimate"),
                "priority": t.get("priority", 10),
                "ready": False,
                "ready_after": t["ready_after"],
            }
            for t, _ in waiting
        ]
        ctx.emit_json(rows)
        return 0
    if not ready and not waiting:
        ctx.out("No tasks ready")
        return 0
    lines: list[str] = []
    if ready:
        lines.append("Ready tasks:")
        for t in ready:
            line = f"  {t['id']} - {t.get('title', '')}"
            if t.get("priority", 10) != 10:
                line += f" ⌁{t['priority']}"
            if t.get("assigned"):
                line += f" ({t['assigned']})"
            lines.append(line)
    if ready and waiting:
        lines.append("")
    if waiting:
        lines.append("Waiting on delay:")
        lines += [f"  {t['id']} - {t.get('title', '')} (ready in {human_duration(s)})" for t, s in waiting]
    ctx.out(*lines)
    return 0


COMMANDS = {
    "list": Cmd(
        "list",
        "List tasks",
        run_list,
        opts=[
            Opt("--status", help=f"Only this status ({', '.join(LIST_STATUSES)})"),
            flag("--paused", help="Only paused tasks"),
            Opt("--tag", multiple=True, help="Only tasks with this tag (repeatable, all must match)"),
            flag("--cron", help="Only cron tasks"),
            flag("--all", help="Include system tasks"),
        ],
    ),
    "ready": Cmd("ready", "List ready tasks", run_ready),
}

__all__ = ["COMMANDS", "status_name"]
