"""What ``wg status`` reports, gathered from the graph and the service's files (spec core 11.14).

Reads ``service/state.json`` and ``service/registry.json`` directly (no IPC), so it works without a daemon.
"""

from __future__ import annotations

import os

from ..timeutil import compact_duration, parse_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph, Readiness
    from ..model import Record
    from .context import Ctx

_NS = 1_000_000_000
IN_PROGRESS = ("in-progress", "pending-eval", "failed-pending-eval")
LIVE_AGENT = ("starting", "working", "idle", "stopping", "parked", "frozen")


def _future_secs(ts: object, now: int) -> int | None:
    t = parse_ts(ts, naive_ok=True)
    if t is None or t <= now:
        return None
    return -(-(t - now) // _NS)


def _read_json(path: str) -> Any:
    import json

    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return None


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except PermissionError:
        return True
    except OSError:
        return False
    try:  # a zombie is not alive
        with open(f"/proc/{pid}/stat", encoding="utf-8") as fh:
            return fh.read().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def service_info(wg_dir: str, now: int) -> dict[str, Any]:
    state = _read_json(os.path.join(wg_dir, "service", "state.json"))
    if not isinstance(state, dict) or not _pid_alive(state.get("pid")):
        return {"running": False, "pid": None, "uptime": None, "socket": None}
    started = parse_ts(state.get("started_at"))
    uptime = compact_duration((now - started) // _NS) if started is not None else None
    return {
        "running": True,
        "pid": state["pid"],
        "uptime": uptime,
        "socket": state.get("socket_path") or state.get("socket"),
    }


def coordinator_info(ctx: Ctx) -> dict[str, Any]:
    from ..config import handler_for_model

    cfg = ctx.config
    model = cfg.get("agent.model")
    model = model if isinstance(model, str) and model else None
    return {
        "max_agents": cfg.get_int("dispatcher.max_agents", 8),
        "executor": handler_for_model(model or ""),
        "model": model,
        "poll_interval": cfg.get_int("dispatcher.poll_interval", 60),
    }


def agents_info(wg_dir: str, now: int) -> dict[str, Any]:
    reg = _read_json(os.path.join(wg_dir, "service", "registry.json"))
    entries = reg.get("agents") if isinstance(reg, dict) else None
    rows: list[dict[str, Any]] = []
    alive = dead = 0
    for aid, entry in (entries or {}).items() if isinstance(entries, dict) else ():
        if not isinstance(entry, dict):
            continue
        live = entry.get("status") in LIVE_AGENT and _pid_alive(entry.get("pid"))
        alive += live
        dead += not live
        started = parse_ts(entry.get("started_at"))
        status = str(entry.get("status", "?"))
        if entry.get("status") in LIVE_AGENT and not live:
            status = "dead (process exited)"
        rows.append(
            {
                "id": str(entry.get("id", aid)),
                "task_id": str(entry.get("task_id", "")),
                "executor": str(entry.get("executor", "")),
                "pid": entry.get("pid"),
                "uptime": compact_duration((now - started) // _NS) if started is not None else "-",
                "status": status,
            }
        )
    return {"alive": alive, "dead": dead, "active": rows}


def task_counts(graph: Graph, readiness: Readiness, tasks: list[Record], now: int) -> dict[str, int]:
    from ..graph import unsatisfied_deps

    today = _local_midnight_ns(now)
    c = {"in_progress": 0, "ready": 0, "blocked": 0, "delayed": 0, "done_today": 0, "done_total": 0}
    for t in tasks:
        status = t.get("status", "open")
        if status in IN_PROGRESS:
            c["in_progress"] += 1
        elif status in ("open", "incomplete"):
            if t["id"] in readiness.ready_ids:
                c["ready"] += 1
            elif (
                not t.get("paused")
                and any(_future_secs(t.get(k), now) for k in ("not_before", "ready_after"))
                and not unsatisfied_deps(graph, t)
            ):
                c["delayed"] += 1
            else:
                c["blocked"] += 1
        elif status == "blocked":
            c["blocked"] += 1
        elif status == "done":
            c["done_total"] += 1
            done_at = parse_ts(t.get("completed_at"))
            if done_at is not None and done_at >= today:
                c["done_today"] += 1
    return c


def _local_midnight_ns(now: int) -> int:
    import time

    lt = time.localtime(now // _NS)
    return int(time.mktime((lt.tm_year, lt.tm_mon, lt.tm_mday, 0, 0, 0, 0, 0, -1))) * _NS


def cycles_info(graph: Graph, tasks: list[Record], now: int) -> list[dict[str, Any]]:
    from ..cycles import iteration_label

    out: list[dict[str, Any]] = []
    for t in tasks:
        cfg = t.get("cycle_config")
        if not isinstance(cfg, dict):
            continue
        label = iteration_label(graph, t["id"])
        cur, mx = label if label else (int(t.get("loop_iteration", 0)) + 1, int(cfg.get("max_iterations", 0)))
        last = parse_ts(t.get("last_iteration_completed_at"))
        nxt = _future_secs(t.get("ready_after"), now)
        out.append(
            {
                "id": t["id"],
                "status": t.get("status", "open"),
                "iteration": cur,
                "max_iterations": mx or None,
                "last_completed_secs_ago": (now - last) // _NS if last is not None else None,
                "next_in_secs": nxt,
                "next_ready": t.get("status") in ("open", "incomplete") and nxt is None,
            }
        )
    return out


def recent_done(tasks: list[Record]) -> list[dict[str, Any]]:
    import time

    done: list[tuple[int, Record]] = []
    for t in tasks:
        ts = parse_ts(t.get("completed_at")) if t.get("status") == "done" else None
        if ts is not None:
            done.append((ts, t))
    done.sort(key=lambda p: p[0], reverse=True)
    out = []
    for ts, t in done[:5]:
        lt = time.localtime(ts // _NS)
        out.append(
            {
                "time": f"{lt.tm_hour:02d}:{lt.tm_min:02d}",
                "task_id": t["id"],
                "title": t.get("title", ""),
                "completed_at": t.get("completed_at"),
            }
        )
    return out
