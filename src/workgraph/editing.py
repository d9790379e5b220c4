"""Editing the graph (spec core 11.2, 11.10-11.12): edit, reset, pause/resume/publish, add-dep/rm-dep.

Pure changes on a ``Graph``: each checks first and raises ``WgError`` before touching anything, then
applies its change and returns what the CLI reports. Time comes in as ``now`` (epoch ns).
"""

from __future__ import annotations

import heapq

from .addtask import cycle_config_from, parse_guard, validate_model
from .errors import WgError
from .graph import Graph, closure, find_cycles, would_create_cycle
from .ids import did_you_mean
from .model import CONTEXT_SCOPES, EXEC_MODES, VISIBILITIES, is_system, log_entry, status_name
from .timeutil import format_ts, parse_duration, parse_ts
from .transitions import SCAFFOLD_PREFIXES, require

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .cli.args import Args
    from .model import Record

# Keys an edit never reports as changed fields (bookkeeping, kept in sync elsewhere).
_UNREPORTED = ("log", "last_interaction_at", "before")


def _log(task: Record, entry: Record) -> list[Record]:
    return [*(task.get("log") or []), entry]


# -- edit ---------------------------------------------------------------------------------------


def validate_edit(a: Args) -> None:
    """Checks that need no graph (bad values), each raising WgError (exit 1)."""
    if a.visibility is not None and a.visibility not in VISIBILITIES:
        raise WgError(f"Invalid visibility '{a.visibility}'. Valid values: internal, public, peer")
    if a.context_scope is not None and a.context_scope not in CONTEXT_SCOPES:
        raise WgError(f"Invalid context scope '{a.context_scope}'. Valid values: {', '.join(CONTEXT_SCOPES)}")
    if a.exec_mode is not None and a.exec_mode not in EXEC_MODES:
        raise WgError(f"Invalid exec mode '{a.exec_mode}'. Valid values: {', '.join(EXEC_MODES)}")
    if a.model is not None:
        validate_model(a.model)
    if a.max_iterations is not None:
        cycle_config_from(a)  # validates guard, delay
    else:
        if a.cycle_guard is not None:
            parse_guard(a.cycle_guard)
        if a.cycle_delay is not None and parse_duration(a.cycle_delay) is None:
            raise WgError(f"Invalid cycle delay '{a.cycle_delay}'. Use format: 30s, 5m, 1h, 24h, 7d")
    if a.delay is not None and a.not_before is not None:
        raise WgError("Cannot specify both --delay and --not-before")
    if a.delay is not None and parse_duration(a.delay) is None:
        raise WgError(f"Invalid delay '{a.delay}'. Use format: 30s, 5m, 1h, 24h, 7d")
    if a.not_before is not None and parse_ts(a.not_before, naive_ok=True) is None:
        raise WgError(f"Invalid timestamp '{a.not_before}'. Use ISO 8601 format")
    if a.cron:
        from .cron import parse_cron

        try:
            parse_cron(a.cron)
        except ValueError as exc:
            raise WgError(f"Invalid cron expression '{a.cron}': {exc}") from None


def _check_new_deps(graph: Graph, task_id: str, a: Args) -> None:
    """Self-dependency, missing dependencies, and cycles without a cycle_config (11.2, 7.4)."""
    for dep in a.add_after:
        if dep == task_id:
            raise WgError(f"Task '{task_id}' cannot block itself")
    if not a.allow_phantom:
        for dep in a.add_after:
            if dep in graph:
                continue
            msg = f"Dependency '{dep}' does not exist."
            guess = did_you_mean(dep, graph.ids())
            if guess:
                msg += f"\n  → Did you mean '{guess}'?"
            raise WgError(msg + "\n  Hint: Use --allow-phantom to allow forward references.")
    if a.allow_cycle or not a.add_after:
        return
    scratch = Graph(dict(graph.records))  # records are copied on update: the real graph stays untouched
    for dep in a.add_after:
        after = scratch.records[task_id].get("after") or ()
        if dep in after or scratch.get(dep) is None:
            continue
        path = would_create_cycle(scratch, task_id, dep)
        if path is not None:
            configured = any(
                (m == task_id and a.max_iterations is not None)
                or bool((scratch.get(m) or {}).get("cycle_config"))
                for m in path
            )
            if not configured:
                raise WgError(
                    f"Adding dependency '{dep}' → '{task_id}' would create a cycle without CycleConfig: "
                    f"[{' → '.join(path)}]. Use --allow-cycle to override, or add --max-iterations to one "
                    "of the cycle members."
                )
        scratch.add_dependency(task_id, dep)


def _edit_list(
    graph: Graph, task_id: str, key: str, add: list[str], remove: list[str], noun: str, lines: list[str]
) -> None:
    values = list(graph.records[task_id].get(key) or [])
    for v in add:
        if v in values:
            lines.append(f"Already has {noun}: {v}")
        else:
            values.append(v)
            lines.append(f"Added {noun}: {v}")
    for v in remove:
        if v in values:
            values.remove(v)
            lines.append(f"Removed {noun}: {v}")
        else:
            lines.append(f"Does not have {noun}: {v}")
    if add or remove:
        graph.update(task_id, **{key: values or None})


def _edit_cycle(graph: Graph, task_id: str, a: Args, lines: list[str]) -> None:
    cfg_now = graph.records[task_id].get("cycle_config")
    if a.max_iterations is not None:
        cfg = cycle_config_from(a) or {}
        if isinstance(cfg_now, dict):  # keep the existing guard and delay unless given
            for key in ("guard", "delay"):
                if key not in cfg and key in cfg_now:
                    cfg[key] = cfg_now[key]
            ordered = ("max_iterations", "guard", "delay", "no_converge", "restart_on_failure")
            cfg = {k: cfg[k] for k in (*ordered, "max_failure_restarts") if k in cfg}
        graph.update(task_id, cycle_config=cfg)
        suffix = " (no-converge)" if a.no_converge else ""
        lines.append(f"Set cycle_config: max_iterations={a.max_iterations}{suffix}")
        return
    wanted = (
        a.cycle_guard is not None
        or a.cycle_delay is not None
        or a.no_converge
        or a.no_restart_on_failure
        or a.max_failure_restarts is not None
    )
    if not wanted:
        return
    if not isinstance(cfg_now, dict):
        return  # edit_task already refused (the `wg add` message: ... require --max-iterations)
    cfg = dict(cfg_now)
    if a.cycle_guard is not None:
        cfg["guard"] = parse_guard(a.cycle_guard)
        lines.append("Updated cycle guard")
    if a.cycle_delay is not None:
        cfg["delay"] = a.cycle_delay
        lines.append(f"Updated cycle delay: {a.cycle_delay}")
    if a.no_converge:
        cfg["no_converge"] = True
        lines.append("Set no-converge on cycle")
    if a.no_restart_on_failure:
        cfg["restart_on_failure"] = False
        lines.append("Disabled restart-on-failure for cycle")
    if a.max_failure_restarts is not None:
        cfg["max_failure_restarts"] = a.max_failure_restarts
        lines.append(f"Set max-failure-restarts: {a.max_failure_restarts}")
    graph.update(task_id, cycle_config=cfg)


def _set_scalar(graph: Graph, task_id: str, key: str, value: str | None, line: str, lines: list[str]) -> None:
    if value is None or graph.records[task_id].get(key) == value:
        return
    graph.update(task_id, **{key: value})
    lines.append(line)


def _edit_schedule(graph: Graph, task_id: str, a: Args, now: int, lines: list[str]) -> None:
    if a.delay is not None:
        ts = format_ts(now + (parse_duration(a.delay) or 0) * 1_000_000_000)
        graph.update(task_id, not_before=ts)
        lines.append(f"Set not_before: {ts} (delay {a.delay})")
    elif a.not_before is not None:
        _set_scalar(graph, task_id, "not_before", a.not_before, f"Set not_before: {a.not_before}", lines)
    if a.cron is None:
        return
    if a.cron == "":
        graph.update(task_id, cron_schedule=None, cron_enabled=None, next_cron_fire=None, last_cron_fire=None)
        lines.append("Cleared cron schedule")
        return
    from .cron import next_fire

    nxt = format_ts(next_fire(a.cron, now, task_id))
    graph.update(task_id, cron_schedule=a.cron, cron_enabled=True, next_cron_fire=nxt)
    lines.append(f"Set cron schedule: {a.cron} (next fire: {nxt})")


def _after_deps_added(graph: Graph, task_id: str, now: int, lines: list[str]) -> None:
    """New dependencies invalidate an assignment made before them (11.2)."""
    assign_id = ".assign-" + task_id
    assign = graph.get(assign_id)
    if assign is not None and assign.get("status", "open") in ("open", "in-progress"):
        stamp = format_ts(now)
        graph.update(
            assign_id,
            status="abandoned",
            failure_reason=f"Dependencies of '{task_id}' changed",
            log=_log(assign, log_entry(stamp, f"Abandoned: dependencies of '{task_id}' changed")),
        )
        lines.append(f"Abandoned assignment task '{assign_id}' (dependencies changed)")
    if graph.records[task_id].get("agent"):
        graph.update(task_id, agent=None)
        lines.append("Cleared agent assignment (dependencies changed, will re-assign when ready)")


def field_changes(old: Record, new: Record) -> list[dict[str, Any]]:
    """``[{"field","old","new"}]`` for the operations log, in record key order."""
    keys = list(dict.fromkeys([*old, *new]))
    return [
        {"field": k, "old": old.get(k), "new": new.get(k)}
        for k in keys
        if k not in _UNREPORTED and old.get(k) != new.get(k)
    ]


def edit_task(graph: Graph, task_id: str, a: Args, now: int) -> dict[str, Any]:
    """``wg edit``: returns ``{"lines", "changed", "fields"}``; writes nothing when nothing changed."""
    old = dict(require(graph, task_id, suggest=False))
    _check_new_deps(graph, task_id, a)
    if a.max_iterations is None and not old.get("cycle_config"):
        cycle_config_from(a)  # --cycle-guard etc. without a cycle to configure
    lines: list[str] = []
    if a.title is not None and a.title != old.get("title"):
        graph.update(task_id, title=a.title)
        lines.append(f"Updated title: {a.title}")
    if a.description is not None and a.description != old.get("description"):
        graph.update(task_id, description=a.description)
        lines.append("Updated description")
    added = False
    for dep in dict.fromkeys(a.add_after):
        if dep in (graph.records[task_id].get("after") or ()):
            lines.append(f"Already blocked by: {dep}")
        else:
            graph.add_dependency(task_id, dep)
            lines.append(f"Added after: {dep}")
            added = True
    for dep in dict.fromkeys(a.remove_after):
        if graph.remove_dependency(task_id, dep):
            lines.append(f"Removed after: {dep}")
        else:
            lines.append(f"Not blocked by: {dep}")
    _edit_list(graph, task_id, "tags", a.add_tag, a.remove_tag, "tag", lines)
    _set_scalar(graph, task_id, "model", a.model, f"Updated model: {a.model}", lines)
    _edit_list(graph, task_id, "skills", a.add_skill, a.remove_skill, "skill", lines)
    _edit_cycle(graph, task_id, a, lines)
    _set_scalar(graph, task_id, "visibility", a.visibility, f"Updated visibility: {a.visibility}", lines)
    _set_scalar(
        graph, task_id, "context_scope", a.context_scope, f"Updated context_scope: {a.context_scope}", lines
    )
    _set_scalar(graph, task_id, "exec_mode", a.exec_mode, f"Updated exec_mode: {a.exec_mode}", lines)
    _edit_schedule(graph, task_id, a, now, lines)
    if added:
        _after_deps_added(graph, task_id, now, lines)
    new = graph.records[task_id]
    changed = any(graph.records.get(r) != graph.loaded.get(r) for r in graph.touched)
    return {"lines": lines, "changed": changed, "fields": field_changes(old, new)}


# -- reset --------------------------------------------------------------------------------------

DIRECTIONS = {
    "forward": "forward",
    "down": "forward",
    "downstream": "forward",
    "backward": "backward",
    "up": "backward",
    "upstream": "backward",
    "both": "both",
}


def parse_direction(raw: str) -> str:
    direction = DIRECTIONS.get(raw.lower())
    if direction is None:
        raise WgError(f"invalid direction '{raw}' — must be one of: forward, backward, both")
    return direction


def reset_plan(graph: Graph, seeds: list[str], direction: str, strip_meta: bool) -> dict[str, list[str]]:
    """The closure (id order, no system tasks) and the scaffolding tasks to strip (11.10)."""
    missing = [s for s in seeds if graph.get(s) is None]
    if missing:
        raise WgError(f"seed task(s) not found: {', '.join(missing)}")
    starts = [s for s in seeds if not is_system(s)]
    reach = closure(graph, starts, forward=direction != "backward", backward=direction != "forward")
    tasks = sorted(t for t in reach if not is_system(t) and graph.get(t) is not None)
    meta: list[str] = []
    if strip_meta:
        meta = sorted({p + t for t in tasks for p in SCAFFOLD_PREFIXES if graph.get(p + t) is not None})
    return {"tasks": tasks, "meta": meta}


def apply_reset(
    graph: Graph, seeds: list[str], plan: dict[str, list[str]], strip_meta: bool, now: int
) -> None:
    stamp = format_ts(now)
    via = ",".join(seeds)
    strip = set(plan["meta"])
    for tid in plan["tasks"]:
        task = graph.records[tid]
        msg = f"reset via `wg reset {via}`; was {status_name(task.get('status', 'open'))}"
        if task.get("assigned"):
            msg += f" (cleared claim from @{task['assigned']})"
        changes: dict[str, Any] = {
            "status": "open",
            "completed_at": None,
            "failure_reason": None,
            "assigned": None,
            "started_at": None,
            "retry_count": None,
            "log": _log(task, log_entry(stamp, msg, "reset")),
        }
        if strip_meta and "eval-scheduled" in (task.get("tags") or ()):
            changes["tags"] = [t for t in task["tags"] if t != "eval-scheduled"] or None
        graph.update(tid, **changes)
    for mid in plan["meta"]:
        graph.remove(mid)
    if strip:
        for rec in list(graph.tasks()):
            for key in ("after", "before"):
                vals = rec.get(key) or ()
                if any(v in strip for v in vals):
                    kept = [v for v in vals if v not in strip]
                    rec = graph.update(rec["id"], **{key: kept or None})


# -- pause / resume / publish -------------------------------------------------------------------


def pause(graph: Graph, task_id: str, now: int, user: str | None) -> bool:
    task = require(graph, task_id, suggest=False)
    if task.get("paused"):
        return False
    graph.update(task_id, paused=True, log=_log(task, log_entry(format_ts(now), "Task paused", user=user)))
    return True


def weak_component(graph: Graph, task_id: str) -> list[str]:
    seen = {task_id}
    stack = [task_id]
    while stack:
        node = stack.pop()
        task = graph.get(node)
        near = [d for d in (task.get("after") or ()) if graph.get(d) is not None] if task else []
        near += graph.dependents(node)
        for n in near:
            if n not in seen:
                seen.add(n)
                stack.append(n)
    return sorted(seen)


def dependency_order(graph: Graph, ids: list[str]) -> list[str]:
    """Dependencies first, ties by id; members of a cycle follow in id order."""
    scope = set(ids)
    indegree = {i: 0 for i in ids}
    for i in ids:
        for d in dict.fromkeys((graph.get(i) or {}).get("after") or ()):
            if d in scope and d != i:
                indegree[i] += 1
    heap = [i for i, n in indegree.items() if n == 0]
    heapq.heapify(heap)
    out: list[str] = []
    while heap:
        node = heapq.heappop(heap)
        out.append(node)
        for child in dict.fromkeys(graph.dependents(node)):
            if child in scope and child != node:
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(heap, child)
    placed = set(out)
    return out + sorted(i for i in ids if i not in placed)


def _dangling(graph: Graph, task: Record) -> list[tuple[str, str | None]]:
    return [
        (d, did_you_mean(d, (t["id"] for t in graph.tasks())))
        for d in task.get("after") or ()
        if d not in graph
    ]


def _check_structure(graph: Graph, scope: list[str], verb: str) -> None:
    errors: list[str] = []
    for tid in scope:
        for dep, guess in _dangling(graph, graph.records[tid]):
            hint = f" (did you mean '{guess}'?)" if guess else ""
            errors.append(f"Task '{tid}': dangling dependency '{dep}'{hint}")
    in_scope = set(scope)
    cycles, _ = find_cycles(graph)
    for members in cycles:
        inside = [m for m in members if m in in_scope]
        if len(inside) > 1 and not any((graph.get(m) or {}).get("cycle_config") for m in inside):
            errors.append(f"Cycle without --max-iterations: [{', '.join(inside)}]")
    if errors:
        raise WgError(f"Cannot {verb} subgraph — structural errors:\n  " + "\n  ".join(errors))


def unpause(graph: Graph, task_id: str, mode: str, publish: bool, now: int, user: str | None) -> list[str]:
    """Resume/publish (11.11). ``mode``: ``downstream`` (default), ``only`` or ``wcc``. Returns the
    unpaused ids in the order they were unpaused (dependencies first); entry ``i`` is stamped now + i ns."""
    task = require(graph, task_id, suggest=False)
    if not task.get("paused"):
        raise WgError(f"Task '{task_id}' is not paused")
    verb = "publish" if publish else "resume"
    if mode == "only":
        missing = _dangling(graph, task)
        if missing:
            lines = [f"'{d}'" for d, _guess in missing]  # spec 11.11: bare ids here, hints only for subgraphs
            raise WgError(f"Cannot {verb} task '{task_id}': dangling dependencies:\n  " + "\n  ".join(lines))
        scope = [task_id]
    else:
        if mode == "wcc":
            scope = weak_component(graph, task_id)
        else:
            scope = sorted(t for t in closure(graph, [task_id]) if graph.get(t) is not None)
        _check_structure(graph, scope, verb)
    message = "Task published" if publish else "Task resumed"
    unpaused: list[str] = []
    for tid in dependency_order(graph, scope):
        rec = graph.records[tid]
        if not rec.get("paused"):
            continue
        entry = log_entry(format_ts(now + len(unpaused)), message, user=user)
        graph.update(tid, paused=None, log=_log(rec, entry))
        unpaused.append(tid)
    return unpaused


# -- add-dep / rm-dep ---------------------------------------------------------------------------


def add_dep(graph: Graph, task_id: str, dep: str) -> bool:
    if task_id == dep:
        raise WgError("A task cannot depend on itself")
    require(graph, task_id, suggest=False)
    require(graph, dep, suggest=False)
    already = dep in (graph.records[task_id].get("after") or ())
    graph.add_dependency(task_id, dep)  # also repairs a missing `before` entry
    return not already


def rm_dep(graph: Graph, task_id: str, dep: str) -> bool:
    if task_id == dep:
        raise WgError("A task cannot depend on itself")
    require(graph, task_id, suggest=False)
    return graph.remove_dependency(task_id, dep)
