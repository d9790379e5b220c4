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
from ..timeutil import compact_duration
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph
    from ..model import Record
    from .args import Args
    from .context import Ctx


# -- status ---------------------------------------------------------------------------------------


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


def run_status(ctx: Ctx, a: Args) -> int:
    from ..graph import Readiness
    from .status_info import (
        agents_info,
        coordinator_info,
        cycles_info,
        recent_done,
        service_info,
        task_counts,
    )

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
