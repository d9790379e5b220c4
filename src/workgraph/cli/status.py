"""Overview and diagnosis commands: status, check, viz, why-blocked (spec core 11.14-11.15, 6).

``wg why-blocked <task>`` wording (exit 0 whenever the task exists):

- a ready task prints ``Task '<id>' is ready: nothing blocks it``;
- otherwise ``Task '<id>' is not ready:`` and one ``  - <reason>`` line per reason, in this order:
  ``paused (run 'wg resume <id>')``; ``status is <status> (only open or incomplete tasks become ready)``;
  ``not before <ts> (in <countdown>)``; ``ready after <ts> (in <countdown>)``;
  ``cron schedule not due until <ts> (in <countdown>)``; for each unsatisfied dependency
  ``waiting on '<dep>' (<status>)``, ``waiting on '<dep>' (done, evaluation '.evaluate-<dep>' is <status>)``
  or ``waiting on '<dep>' (missing: no such task)``. A dependency that is itself blocked has its own
  reasons indented two more spaces under it (a task already explained prints ``(see above)``);
- then ``Root blockers:`` and ``  - <id>: <state>``, one per task at the bottom of the chains, where
  ``<state>`` is ``failed (a failed dependency never satisfies; 'wg retry <id>' or 'wg abandon <id>')``,
  ``missing (no such task; 'wg rm-dep' to drop it)``, ``in progress[ (assigned to <a>)]``,
  ``ready, not started yet``, ``<status>`` for the other states, or its own reasons joined by ``; ``.

``--json``: ``{"id","title","status","ready","reasons","root_blockers"}``; each reason has ``kind``
(``paused``, ``status``, ``not_before``, ``ready_after``, ``cron``, ``dependency``, ``missing_dependency``,
``evaluation_gate``) and its fields (``status``, ``until``, ``seconds``, ``id``, ``gate``); dependency
reasons carry the dependency's own ``reasons``. Root blockers are ``{"id","status","reason"}``.
"""

from __future__ import annotations

import os

from ..errors import UsageError
from ..model import is_system
from ..timeutil import compact_duration, parse_ts
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph, Readiness
    from ..model import Record
    from .args import Args
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


# -- status ---------------------------------------------------------------------------------------


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


def _cycle_line(c: dict[str, Any]) -> str:
    mx = c["max_iterations"] or "unlimited"
    ago = c["last_completed_secs_ago"]
    line = f"  {c['id']} [{c['status']}] iter {c['iteration']}/{mx} — last: "
    line += f"{compact_duration(ago)} ago" if ago is not None else "never"
    if c["next_in_secs"] is not None:
        line += f", next: in {compact_duration(c['next_in_secs'])}"
    elif c["next_ready"]:
        line += ", next: ready"
    return line


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


def run_status(ctx: Ctx, a: Args) -> int:
    from ..graph import Readiness

    graph = ctx.store.load()
    now = ctx.now
    tasks = [t for t in graph.tasks() if a.all or not is_system(t["id"])]
    readiness = Readiness(graph, now, exempt_back_edges=False)
    service = service_info(ctx.wg_dir, now)
    coordinator = coordinator_info(ctx)
    agents = agents_info(ctx.wg_dir, now)
    counts = task_counts(graph, readiness, tasks, now)
    cycles = cycles_info(graph, tasks, now)
    recent = recent_done(tasks)
    dangling = [{"task": t["id"], "dep": d} for t in tasks for d in t.get("after") or () if d not in graph]
    verify_failing = [
        {"id": t["id"], "verify_failures": t["verify_failures"]} for t in tasks if t.get("verify_failures")
    ]
    if ctx.json:
        ctx.emit_json(
            {
                "service": service,
                "coordinator": coordinator,
                "agents": agents,
                "tasks": counts,
                "cycles": cycles,
                "recent": recent,
                "dangling_deps": dangling,
                "verify_failing": verify_failing,
            }
        )
        return 0
    out: list[str] = []
    if service["running"]:
        out.append(f"Service: running (PID {service['pid']}, {service['uptime'] or '?'} uptime)")
    else:
        out.append("Service: stopped")
    c = coordinator
    out.append(
        f"Dispatcher: max={c['max_agents']}, executor={c['executor']}, model={c['model'] or 'default'}, "
        f"poll={c['poll_interval']}s"
    )
    out.append("")
    if not agents["active"]:
        out.append("Agents: none")
    else:
        out.append(f"Agents ({agents['alive']} alive, {agents['dead']} dead):")
        for r in agents["active"]:
            task = r["task_id"] if len(r["task_id"]) <= 24 else r["task_id"][:21] + "..."
            out.append(
                f"  {r['id']:<10}  {task:<24}  {r['executor']:<8}  {r['pid'] or '-'!s:>7}  "
                f"{r['uptime']:>5}  {r['status']}"
            )
    out.append("")
    delayed = f", {counts['delayed']} delayed" if counts["delayed"] else ""
    out.append(
        f"Tasks: {counts['in_progress']} in-progress, {counts['ready']} ready, {counts['blocked']} blocked"
        f"{delayed}, {counts['done_total']} done (today: {counts['done_today']})"
    )
    if cycles:
        out += ["", "Cycles:"] + [_cycle_line(cy) for cy in cycles]
    if dangling:
        n = len({d["task"] for d in dangling})
        out += ["", f"⚠ Attention: {n} task(s) have unresolved dependencies:"]
        out += [f"  {d['task']} → {d['dep']} (missing)" for d in dangling]
        out.append("  Run 'wg check' for details.")
    if recent:
        out += ["", "Recent:"]
        for r in recent:
            title = r["title"] if len(r["title"]) <= 50 else r["title"][:47] + "..."
            out.append(f"  {r['time']}  {title} [done]")
    ctx.out(*out)
    return 0


# -- check ----------------------------------------------------------------------------------------


def run_check(ctx: Ctx, a: Args) -> int:
    from ..graph import find_cycles

    graph = ctx.store.load()
    cycles, _ = find_cycles(graph)
    orphans = [(t["id"], d) for t in graph.tasks() for d in t.get("after") or () if d not in graph]
    warnings, errors = len(cycles), len(orphans)
    if ctx.json:
        ctx.emit_json(
            {
                "ok": errors == 0,
                "nodes": len(graph),
                "cycles": cycles,
                "orphan_refs": [{"from": f, "relation": "after", "to": t} for f, t in orphans],
                "warnings": warnings,
                "errors": errors,
            }
        )
    else:
        if cycles:
            ctx.err("Warning: Cycles detected (this is OK for recurring tasks):")
            ctx.err(*[f"  {' -> '.join(cy)}" for cy in cycles])
        if orphans:
            ctx.err("Error: Orphan references (dependencies on non-existent tasks):")
            ctx.err(*[f"  {f} --[after]--> {t} (not found)" for f, t in orphans])
    if errors:
        ctx.err(f"Error: Found {errors} error(s) and {warnings} warning(s)")
        return 1
    if not ctx.json:
        tail = f"{warnings} warning(s)" if warnings else "no issues found"
        ctx.out(f"Graph OK: {len(graph)} nodes, {tail}")
    return 0


# -- viz ------------------------------------------------------------------------------------------


def run_viz(ctx: Ctx, a: Args) -> int:
    from ..render import textgraph

    fmt = a.format or ("dot" if a.dot else "mermaid" if a.mermaid else "text")
    if a.output is not None and fmt != "dot":
        raise UsageError("--output requires --format dot", "Usage: wg viz [OPTIONS] [TASK_ID...]")
    graph = ctx.store.load()
    for tid in a.task_id:
        if tid not in graph:
            from ..transitions import not_found

            raise not_found(graph, tid)
    ids = textgraph.select(
        graph,
        show_all=a.all,
        show_internal=a.show_internal,
        status=a.status,
        tags=a.tag,
        roots=a.task_id,
    )
    if ctx.json:
        ctx.emit_json(_viz_json(graph, ids))
        return 0
    if fmt == "dot":
        text = textgraph.render_dot(graph, ids)
        if a.output is not None:
            _write_dot(text, a.output)
            ctx.out(f"Wrote {a.output}")
            return 0
        ctx.out(text)
        return 0
    if fmt == "mermaid":
        ctx.out(textgraph.render_mermaid(graph, ids))
        return 0
    from ..cycles import iteration_label

    has_cycles = any(isinstance(t.get("cycle_config"), dict) for t in graph.tasks())

    def label(task: Record) -> str:
        it = iteration_label(graph, task["id"]) if has_cycles else None
        return textgraph.node_text(task, ctx.now, it)

    ctx.out(*textgraph.render_text(graph, ids, label))
    return 0


def _viz_json(graph: Graph, ids: list[str]) -> dict[str, Any]:
    inside = set(ids)
    nodes = []
    edges = []
    for tid in ids:
        t = graph.get(tid) or {}
        nodes.append({"id": tid, "title": t.get("title", ""), "status": t.get("status", "open")})
        edges += [{"from": d, "to": tid} for d in t.get("after") or () if d in inside]
    return {"nodes": nodes, "edges": edges}


def _write_dot(text: str, output: str) -> None:
    import shutil
    import subprocess

    from ..errors import WgError

    ext = os.path.splitext(output)[1].lstrip(".").lower()
    if ext in ("dot", "gv", ""):
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        return
    dot = shutil.which("dot")
    if dot is None:
        raise WgError("Graphviz 'dot' not found in PATH (needed to render --output); install graphviz")
    proc = subprocess.run([dot, f"-T{ext}", "-o", output], input=text, text=True, capture_output=True)
    if proc.returncode != 0:
        raise WgError(f"dot failed: {proc.stderr.strip()}")


# -- why-blocked ----------------------------------------------------------------------------------


def run_why_blocked(ctx: Ctx, a: Args) -> int:
    from ..blockers import explain, reason_lines
    from ..graph import Readiness
    from ..transitions import require

    graph = ctx.store.load()
    task = require(graph, a.task)
    readiness = Readiness(graph, ctx.now)
    ready = task["id"] in readiness.ready_ids
    roots: dict[str, dict[str, Any]] = {}
    reasons = [] if ready else explain(graph, task, ctx.now, readiness.back_edges, set(), roots)
    if ctx.json:
        ctx.emit_json(
            {
                "id": task["id"],
                "title": task.get("title", ""),
                "status": task.get("status", "open"),
                "ready": ready,
                "reasons": reasons,
                "root_blockers": list(roots.values()),
            }
        )
        return 0
    if ready:
        note = ""
        if any(f"'{task['id']}'" in m.split(" to break", 1)[0] for m in readiness.break_in_messages):
            note = " (selected by auto-break-in of an unconfigured cycle)"
        ctx.out(f"Task '{task['id']}' is ready: nothing blocks it{note}")
        return 0
    out = [f"Task '{task['id']}' is not ready:", *reason_lines(task["id"], reasons, "  ")]
    if roots:
        out += ["", "Root blockers:"] + [f"  - {r['id']}: {r['reason']}" for r in roots.values()]
    ctx.out(*out)
    return 0


COMMANDS = {
    "status": Cmd(
        "status",
        "Service, agents and task counts",
        run_status,
        opts=[flag("--all", help="Include system tasks")],
    ),
    "check": Cmd("check", "Check the graph for problems", run_check),
    "viz": Cmd(
        "viz",
        "Draw the graph as text",
        run_viz,
        args=[Arg("task_id", required=False, variadic=True, help="Limit to these tasks' components")],
        opts=[
            flag("--all", help="Include components whose tasks are all done or abandoned"),
            Opt("--status", help="Only tasks with this status"),
            Opt("--tag", multiple=True, help="Only tasks with this tag (repeatable, all must match)"),
            flag("--show-internal", help="Include system tasks (ids starting with '.')"),
            flag("--dot", help="Graphviz DOT output"),
            flag("--mermaid", help="Mermaid flowchart output"),
            flag("--graph", help="Text graph output (the default)"),
            Opt("--format", choices=("text", "dot", "mermaid"), help="Output format"),
            Opt("-o", "--output", help="Write the DOT drawing to this file (dot only)", metavar="FILE"),
            flag("--critical-path", help="Accepted; highlighting is the TUI's"),
            Opt("--layout", choices=("diamond", "tree"), help="Accepted; the static text is a tree"),
            Opt("--edge-color", help="Accepted; no colour in static text"),
            Opt("--columns", type=int, help="Accepted; static text does not wrap"),
        ],
        conflicts=[("--dot", "--mermaid")],
    ),
    "why-blocked": Cmd(
        "why-blocked",
        "Explain why a task is not ready",
        run_why_blocked,
        args=[Arg("task", help="Task id")],
    ),
}
