"""``wg show``: one task as text or JSON (spec core 11.3). Kept apart from ``list``/``ready`` so those do not
load what only ``show`` needs."""

from __future__ import annotations

from ..timeutil import countdown, parse_ts
from .args import Arg, Cmd
from .views import NS, future_seconds

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph
    from ..model import Record
    from .args import Args
    from .context import Ctx

FAILURE_HINTS = {
    "api-error-400-document": "fix the input (malformed/encrypted PDF or document) before retry — do not auto-retry",
    "api-error-429-rate-limit": "rate limit — back off and retry",
    "api-error-5xx-transient": "transient upstream error — retry is safe",
    "agent-hard-timeout": "agent exceeded hard timeout — split task or raise timeout",
    "agent-exit-nonzero": "generic non-zero exit — inspect agent output for details",
    "wrapper-internal": "wrapper-side issue — inspect the wrapper log (output.log)",
}


def fmt_tokens(n: int) -> str:
    if n >= 1_000_000:
        v = n / 1_000_000
        return f"{v:.1f}M" if v < 10 else f"{int(v)}M"
    if n >= 1000:
        v = n / 1000
        return f"{v:.1f}k" if v < 10 else f"{int(v)}k"
    return str(n)


def show_lines(ctx: Ctx, graph: Graph, task: Record) -> list[str]:
    from ..cycles import iteration_label
    from ..timeutil import compact_duration

    tid = task["id"]
    now = ctx.now
    status = task.get("status", "open")
    out = [
        f"Task: {tid}",
        f"Title: {task.get('title', '')}",
        f"Status: {status}" + (" (PAUSED)" if task.get("paused") else ""),
    ]
    if task.get("priority", 10) != 10:
        out.append(f"Priority: ⌁{task['priority']}")
    if task.get("visibility", "internal") != "internal":
        out.append(f"Visibility: {task['visibility']}")
    for key, label in (
        ("context_scope", "Context scope"),
        ("exec_mode", "Exec mode"),
        ("assigned", "Assigned"),
        ("agent", "Agent"),
    ):
        if task.get(key):
            out.append(f"{label}: {task[key]}")
    out += _runtime_block(task, newest_agent(ctx.wg_dir, tid))
    if status in ("failed", "abandoned", "failed-pending-eval") and task.get("failure_reason"):
        out.append(f"Failure reason: {task['failure_reason']}")
    if task.get("failure_class"):
        out.append(f"failure_class: {task['failure_class']}")
        hint = FAILURE_HINTS.get(task["failure_class"])
        if hint:
            out.append(f"  hint: {hint}")
    if task.get("superseded_by"):
        out.append(f"Superseded by: {', '.join(task['superseded_by'])}")
    if task.get("supersedes"):
        out.append(f"Supersedes: {task['supersedes']}")
    if task.get("retry_count", 0) > 0:
        mx = task.get("max_retries")
        out.append(f"Retry count: {task['retry_count']}" + (f"/{mx}" if mx is not None else ""))
    elif task.get("max_retries") is not None:
        out.append(f"Max retries: {task['max_retries']}")
    desc = task.get("description")
    if desc:
        out += ["", "Description:"] + [f"  {line}" for line in desc.split("\n")]
    out.append("")
    est = task.get("estimate")
    if isinstance(est, dict) and est:
        parts = []
        if "hours" in est:
            parts.append(f"{_num(est['hours'])}h")
        if "cost" in est:
            parts.append(f"${_num(est['cost'])}")
        out.append(f"Estimate: {', '.join(parts)}")
    for key, label in (
        ("tags", "Tags"),
        ("skills", "Skills"),
        ("inputs", "Inputs"),
        ("deliverables", "Deliverables"),
    ):
        if task.get(key):
            out.append(f"{label}: {', '.join(task[key])}")
    out += ["", "After:"]
    after = task.get("after") or []
    for d in after:
        dep = graph.get(d)
        if dep is None:
            ctx.err(f"Warning: blocker '{d}' referenced by '{tid}' not found in graph")
        out.append(f"  - {d} ({dep.get('status', 'open') if dep else 'open'})")
    if not after:
        out.append("  (none)")
    out += ["", "Before:"]
    dependents = graph.dependents(tid)
    for d in dependents:
        dep = graph.get(d)
        out.append(f"  - {d} ({dep.get('status', 'open') if dep else 'open'})")
    if not dependents:
        out.append("  (none)")
    cfg = task.get("cycle_config")
    if isinstance(cfg, dict):
        out += ["", "Cycle config (header):", f"  Max iterations: {cfg.get('max_iterations', 0)}"]
        guard = cfg.get("guard")
        if guard is not None:
            out.append(f"  Guard: {_guard_text(guard)}")
        if cfg.get("delay"):
            out.append(f"  Delay: {cfg['delay']}")
        if cfg.get("no_converge"):
            out.append("  No-converge: true (all iterations forced)")
        it = iteration_label(graph, tid)
        cur = it[0] if it else task.get("loop_iteration", 0) + 1
        mx = cfg.get("max_iterations", 0)
        out.append(f"  Current iteration: {cur}/{mx if mx else 'unlimited'}")
        last = parse_ts(task.get("last_iteration_completed_at"))
        if last is not None:
            out.append(
                f"  Last iteration completed: {task['last_iteration_completed_at']} ({compact_duration((now - last) // NS)} ago)"
            )
        ra = future_seconds(task.get("ready_after"), now)
        out.append(
            f"  Next iteration due: in {compact_duration(ra)}" if ra else "  Next iteration due: ready now"
        )
    out.append("")
    for key, label in (
        ("created_at", "Created"),
        ("started_at", "Started"),
        ("completed_at", "Completed"),
        ("last_interaction_at", "Last interaction"),
    ):
        if task.get(key):
            out.append(f"{label}: {task[key]}")
    for key, label in (("not_before", "Not before"), ("ready_after", "Ready after")):
        if task.get(key):
            t = parse_ts(task[key], naive_ok=True)
            suffix = ""
            if t is not None:
                suffix = f" (in {countdown((t - now) // NS)})" if t > now else " (elapsed)"
            out.append(f"{label}: {task[key]}{suffix}")
    usage = task.get("token_usage")
    if isinstance(usage, dict) and usage:
        cache_read = int(usage.get("cache_read_input_tokens", 0))
        cached = cache_read
        tin = int(usage.get("input_tokens", 0)) - cache_read
        line = f"Tokens: {fmt_tokens(max(tin, 0))}/{fmt_tokens(int(usage.get('output_tokens', 0)))} (in/out)"
        if cached:
            line += f" +{fmt_tokens(cached)} cached"
        out += ["", line]
        if float(usage.get("cost_usd", 0) or 0) > 0:
            out.append(f"Cost: ${float(usage['cost_usd']):.2f}")
    state = worktree_state(ctx.wg_dir, tid)
    if state is not None:
        from ..worktree.show import worktree_block

        out += ["", *worktree_block(state, int(task.get("retry_count", 0) or 0))]
    from ..agency.evalfiles import show_block

    out += show_block(ctx.wg_dir, task["id"])
    log = task.get("log") or []
    if log:
        out += ["", "Log:"]
        for e in log:
            actor = f" [{e['actor']}]" if e.get("actor") else ""
            out.append(f"  {e.get('timestamp', '')} {e.get('message', '')}{actor}")
    return out


def worktree_state(wg_dir: str, task_id: str) -> dict[str, Any] | None:
    """worktrees.md 8's facts for ``wg show``; a project without ``.wg-worktrees/`` pays one ``stat`` and
    imports nothing (no git subprocess, no registry read)."""
    import os

    root = os.path.dirname(os.path.realpath(wg_dir))
    if not os.path.isdir(os.path.join(root, ".wg-worktrees")):
        return None
    from ..worktree.show import state_for_show

    return state_for_show(wg_dir, task_id)


def newest_agent(wg_dir: str, task_id: str) -> dict[str, Any] | None:
    """The task's newest agent in ``service/registry.json`` (highest ``agent-N``), if any."""
    import json
    import os

    try:
        with open(os.path.join(wg_dir, "service", "registry.json"), encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, dict):
        return None
    best: tuple[int, str] | None = None
    found: dict[str, Any] | None = None
    for key, entry in agents.items():
        if not isinstance(entry, dict) or entry.get("task_id") != task_id:
            continue
        num = key.rpartition("-")[2]
        rank = (int(num) if num.isdigit() else -1, str(entry.get("started_at", "")))
        if best is None or rank > best:
            best, found = rank, entry
    return found


def _runtime_block(task: Record, agent: dict[str, Any] | None) -> list[str]:
    """service.md 8.1: executor, model (actual vs configured) and session of the newest agent."""
    if agent is None:
        return []
    lines = ["", "Runtime:"]
    if agent.get("executor"):
        lines.append(f"  Executor: {agent['executor']}")
    actual, configured = agent.get("model"), task.get("model")
    if actual and configured and actual != configured:
        lines.append(f"  Model: {actual} (configured: {configured})")
    elif actual or configured:
        lines.append(f"  Model: {actual or configured}")
    if task.get("session_id"):
        lines.append(f"  Session: {task['session_id']}")
    return lines


def _num(v: Any) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)


def _guard_text(guard: Any) -> str:
    if guard == "Always":
        return "always"
    if isinstance(guard, dict) and "TaskStatus" in guard:
        g = guard["TaskStatus"]
        return f"task:{g.get('task')}={g.get('status')}"
    if isinstance(guard, dict) and "IterationLessThan" in guard:
        return f"iteration<{guard['IterationLessThan']}"
    return str(guard)


_SHOW_JSON_SKIP = {
    "provider",
    "endpoint",
    "command_argv",
    "working_dir",
    "executor_preset_name",
    "requires",
    "timeout",
    "kind",
}


def show_json(graph: Graph, task: Record, agent: dict[str, Any] | None = None) -> dict[str, Any]:
    """11.3 ``--json``: record order, with ``after``/``before`` as ``{id,status}`` right after ``exec``'s
    place, ``not_before`` after ``last_interaction_at`` and ``estimate`` flattened to ``hours``/``cost``."""
    from ..model import RANK

    def rel(ids: list[str]) -> list[dict[str, str]]:
        rows = []
        for d in ids:
            dep = graph.get(d)
            rows.append({"id": d, "status": dep.get("status", "open") if dep else "open"})
        return rows

    known: list[tuple[float, str, Any]] = [
        (RANK["exec"] + 0.5, "after", rel(task.get("after") or [])),
        (RANK["exec"] + 0.6, "before", rel(graph.dependents(task["id"]))),
    ]
    if agent is not None:
        known.append((RANK["model"] + 0.1, "actual_executor", agent.get("executor")))
        known.append((RANK["model"] + 0.2, "actual_model", agent.get("model") or task.get("model")))
    unknown: dict[str, Any] = {}
    for key, value in task.items():
        if key in _SHOW_JSON_SKIP or key in ("after", "before"):
            continue
        if key not in RANK:
            unknown[key] = value
        elif key == "estimate":
            if isinstance(value, dict):
                for i, sub in enumerate(("hours", "cost")):
                    if sub in value:
                        known.append((RANK["estimate"] + i / 10, sub, value[sub]))
        elif key == "not_before":
            known.append((RANK["last_interaction_at"] + 0.5, key, value))
        else:
            known.append((RANK[key], key, value))
    known.sort(key=lambda item: item[0])
    out = {key: value for _, key, value in known}
    out.update(unknown)
    return out


def run_show(ctx: Ctx, a: Args) -> int:
    from ..transitions import require

    graph = ctx.store.load()
    task = require(graph, a.task)
    if ctx.json:
        from ..agency.evalfiles import show_json as evaluations_json

        obj = show_json(graph, task, newest_agent(ctx.wg_dir, task["id"]))
        evaluations = evaluations_json(ctx.wg_dir, task["id"])
        if evaluations:
            obj["evaluations"] = evaluations
        state = worktree_state(ctx.wg_dir, task["id"])
        if state is not None:
            obj["worktree_state"] = state
        ctx.emit_json(obj)
    else:
        ctx.out(*show_lines(ctx, graph, task))
    return 0


COMMANDS = {"show": Cmd("show", "Show a task", run_show, [Arg("task", help="Task id")])}
