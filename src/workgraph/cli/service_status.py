"""``wg service status`` (spec service 3.4): the daemon's reply, recent log errors, chat supervisors."""

from __future__ import annotations

import os

from .service_proc import agency_agents_defined, daemon_request, fmt_secs, service_paths, tail_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .args import Args
    from .context import Ctx


def _recent_errors(log: str) -> list[str]:
    lines = tail_lines(log, 2000)
    fatal = [ln for ln in lines if "[FATAL]" in ln][-5:]
    errors = [ln for ln in lines if "[ERROR]" in ln][-5:]
    return fatal + errors


def run_status(ctx: Ctx, a: Args) -> int:
    import time

    from ..service.files import remove_stale, running_pid
    from ..timeutil import human_duration, parse_ts

    paths = service_paths(ctx)
    pid = running_pid(paths)
    if pid is None:
        cleaned = remove_stale(paths)
        if ctx.json:
            ctx.emit_json(
                {"status": "not_running", **({"note": "Cleaned up stale state"} if cleaned else {})}
            )
        else:
            ctx.out("Service: not running (cleaned up stale state)" if cleaned else "Service: not running")
        return 0
    reply = daemon_request(paths, {"cmd": "status"})
    reply.pop("ok", None)
    coord = reply.get("coordinator") or {}
    agents = reply.get("agents") or {}
    started = parse_ts(reply.get("started_at"))
    uptime = human_duration(int(time.time() - started / 1e9)) if started else "unknown"
    defined = agency_agents_defined(ctx.wg_dir)
    errors = _recent_errors(paths.log)
    if ctx.json:
        reply["uptime"] = uptime
        agents["agents_defined"] = defined
        reply["agents"] = agents
        coord.setdefault("frozen", False)
        coord.setdefault("frozen_pids", [])
        log: dict[str, Any] = {"path": paths.log, "exists": os.path.exists(paths.log)}
        if errors:
            log["recent_errors"] = errors
        reply["log"] = log
        ctx.emit_json(reply)
        return 0
    flags = (", FROZEN" if coord.get("frozen") else "") + (", PAUSED" if coord.get("paused") else "")
    lines = [
        f"Service: running (PID {reply.get('pid')})",
        f"Socket: {reply.get('socket')}",
        f"Uptime: {uptime}",
        f"Agents: {agents.get('alive', 0)} alive, {agents.get('idle', 0)} idle, {agents.get('total', 0)} total"
        if defined or not ctx.config.agency_flag("auto_assign")
        else "Agents: No agents defined — run 'wg agency init' or 'wg agent create'",
        f"Dispatcher: enabled{flags}, max_agents={coord.get('max_agents')}, "
        f"poll_interval={fmt_secs(coord.get('poll_interval'))}s, executor={coord.get('executor')}, "
        f"model={coord.get('model') or 'default'}",
    ]
    if coord.get("paused"):
        lines.append(f"  Pause reason: {coord.get('pause_reason') or 'paused by user'}")
    if coord.get("frozen"):
        lines.append(f"  Frozen PIDs: {coord.get('frozen_pids') or []}")
    if coord.get("last_tick"):
        lines.append(
            f"  Last tick: {coord['last_tick']} (#{coord.get('ticks')}, agents_alive={coord.get('agents_alive')}/"
            f"{coord.get('max_agents')}, tasks_ready={coord.get('tasks_ready')}, "
            f"spawned={coord.get('agents_spawned_last_tick')})"
        )
    else:
        lines.append("  No ticks yet")
    lines += _chat_lines(reply.get("chats"))
    lines.append(f"Log: {paths.log}")
    if errors:
        lines.append("  Recent errors:")
        lines += [f"    {e}" for e in errors]
    ctx.out(*lines)
    return 0


def _chat_lines(chats: object) -> list[str]:
    """Chat supervisors in ``wg service status`` (spec chats.md 3); a crash-paused chat says so."""
    import time

    if not isinstance(chats, dict):
        return []
    sups = chats.get("supervisors") or []
    if not sups:
        return []
    lines = [f"Chats: {len(sups)} supervised"]
    for s in sups:
        if s.get("state") == "crash-paused":
            left = max(0, int((s.get("paused_until") or 0) - time.time()))
            lines.append(
                f"  Chat {s.get('chat_id')}: crash budget exhausted (3 crashes in last 10 minutes), "
                f"paused for {left}s"
            )
    return lines
