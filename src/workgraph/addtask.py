"""``wg add`` (spec core 11.1): request validation (before any lock) and the pure graph change."""

from __future__ import annotations

from .errors import WgError
from .graph import Graph
from .ids import did_you_mean, slugify, unique_id
from .model import (
    CHAT_TAGS,
    CONTEXT_SCOPES,
    DEFAULT_PRIORITY,
    EXEC_MODES,
    PRIORITY_NAMES,
    VISIBILITIES,
    log_entry,
    new_task,
)
from .timeutil import format_ts, parse_duration, parse_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .cli.args import Args
    from .cli.context import Ctx
    from .model import Record

GUARD_STATUSES = ("open", "in-progress", "done", "blocked", "failed", "abandoned", "pending-review")


class AddRequest:
    """Everything ``wg add`` needs, read from the command line and the environment up front."""

    def __init__(self, **kw: Any) -> None:
        self.__dict__.update(kw)

    title: str
    explicit_id: str | None
    description: str | None
    after: list[str]
    no_place: bool
    paused: bool
    subtask: bool
    agent_context: bool
    task_env: str
    agent_env: str
    user: str
    opts: Args
    warnings: list[str]
    wg_dir: str
    cycle_config: dict[str, Any] | None = None
    max_depth: int = 0

    @classmethod
    def from_args(cls, a: Args, ctx: Ctx) -> AddRequest:
        return cls(
            title=a.title,
            explicit_id=a.id,
            description=a.description,
            after=list(a.after),
            no_place=bool(a.no_place),
            paused=bool(a.paused),
            subtask=bool(a.subtask),
            agent_context=ctx.agent_context,
            task_env=ctx.env("WG_TASK_ID"),
            agent_env=ctx.env("WG_AGENT_ID"),
            user=ctx.user,
            opts=a,
            warnings=[],
            wg_dir=ctx.wg_dir,
        )


def parse_priority(raw: str | None, warnings: list[str]) -> int:
    if raw is None:
        return DEFAULT_PRIORITY
    s = raw.strip()
    if s.lstrip("-").isdigit():
        return int(s)
    if s.lower() in PRIORITY_NAMES:
        return PRIORITY_NAMES[s.lower()]
    warnings.append(f"Warning: Invalid priority '{raw}', using default (10)")
    return DEFAULT_PRIORITY


def raise_tier(priority: int) -> int:
    if priority <= 0:
        return 5
    if priority <= 5:
        return 10
    if priority <= 10:
        return 50
    if priority <= 50:
        return 100
    return priority


def parse_guard(expr: str) -> Any:
    s = expr.strip()
    if s.lower() == "always":
        return "Always"
    if not s.startswith("task:"):
        raise WgError(f"Invalid guard expression '{expr}'. Expected 'task:<id>=<status>' or 'always'")
    body = s[5:]
    if "=" not in body or not body.split("=", 1)[0] or not body.split("=", 1)[1]:
        raise WgError(f"Invalid guard format. Expected 'task:<id>=<status>', got '{expr}'")
    tid, status = body.split("=", 1)
    if status not in GUARD_STATUSES:
        raise WgError(f"Unknown status '{status}' in guard expression")
    return {"TaskStatus": {"task": tid, "status": "done" if status == "pending-review" else status}}


def cycle_config_from(a: Args) -> dict[str, Any] | None:
    """Validated ``cycle_config`` from the cycle flags (shared by add and edit)."""
    if a.max_iterations is None:
        if a.cycle_guard is not None or a.cycle_delay is not None:
            raise WgError("--cycle-guard and --cycle-delay require --max-iterations")
        if a.no_converge:
            raise WgError("--no-converge requires --max-iterations")
        if a.no_restart_on_failure or a.max_failure_restarts is not None:
            raise WgError("--no-restart-on-failure and --max-failure-restarts require --max-iterations")
        return None
    cfg: dict[str, Any] = {"max_iterations": a.max_iterations}
    if a.cycle_guard is not None:
        cfg["guard"] = parse_guard(a.cycle_guard)
    if a.cycle_delay is not None:
        if parse_duration(a.cycle_delay) is None:
            raise WgError(f"Invalid cycle delay '{a.cycle_delay}'. Use format: 30s, 5m, 1h, 24h, 7d")
        cfg["delay"] = a.cycle_delay
    if a.no_converge:
        cfg["no_converge"] = True
    if a.no_restart_on_failure:
        cfg["restart_on_failure"] = False
    if a.max_failure_restarts is not None:
        cfg["max_failure_restarts"] = a.max_failure_restarts
    return cfg


def validate_model(model: str) -> None:
    provider, sep, name = model.partition(":")
    if not sep or not provider or not name:
        raise WgError(f"Invalid --model format: expected 'provider:model', got '{model}'")


def validate_request(req: AddRequest) -> None:
    """All checks that need no graph, in the spec's order; each raises WgError (exit 1)."""
    a = req.opts
    if not req.title.strip():
        raise WgError("Task title cannot be empty")
    if a.visibility is not None and a.visibility not in VISIBILITIES:
        raise WgError(f"Invalid visibility '{a.visibility}'. Valid values: internal, public, peer")
    if a.context_scope is not None and a.context_scope not in CONTEXT_SCOPES:
        raise WgError(f"Invalid context scope '{a.context_scope}'. Valid values: {', '.join(CONTEXT_SCOPES)}")
    if a.timeout is not None and parse_duration(a.timeout) is None:
        raise WgError(f"Invalid timeout '{a.timeout}'. Use format: 30s, 5m, 1h, 4h, 1d")
    if a.exec_mode is not None and a.exec_mode not in EXEC_MODES:
        raise WgError(f"Invalid exec mode '{a.exec_mode}'. Valid values: {', '.join(EXEC_MODES)}")
    req.cycle_config = cycle_config_from(a)
    if a.delay is not None and a.not_before is not None:
        raise WgError("Cannot specify both --delay and --not-before")
    if a.delay is not None and parse_duration(a.delay) is None:
        raise WgError(f"Invalid delay '{a.delay}'. Use format: 30s, 5m, 1h, 24h, 7d")
    if a.not_before is not None and parse_ts(a.not_before, naive_ok=True) is None:
        raise WgError(f"Invalid timestamp '{a.not_before}'. Use ISO 8601 format")
    if a.verify is not None:
        raise WgError(
            "--verify is deprecated and no longer accepted.\n"
            "Describe how to validate the work in a '## Validation' section of the description instead."
        )
    if req.subtask and not req.task_env:
        raise WgError(
            "--subtask requires an active task context (WG_TASK_ID must be set). "
            "This flag is designed for agents to delegate blocking child tasks."
        )
    if a.cron is not None:
        from .cron import parse_cron

        try:
            parse_cron(a.cron)
        except ValueError as exc:
            raise WgError(f"Invalid cron expression '{a.cron}': {exc}") from None
    if a.model is not None:
        validate_model(a.model)
    if a.provider is not None:
        req.warnings.append(
            "Warning: --provider is deprecated. Use provider:model format in --model instead."
        )
        req.warnings.append(f'Example: wg add "..." --model {a.provider}:MODEL')
    if req.agent_context and req.agent_env:
        _check_agent_budget(req)


def _check_agent_budget(req: AddRequest) -> None:
    from .config import load_config
    from .oplog import read_operations

    cfg = load_config(req.wg_dir, quiet=True)
    maximum = cfg.get_int("guardrails.max_child_tasks_per_agent", 10)
    n = sum(
        1
        for op in read_operations(req.wg_dir)
        if op.get("op") == "add_task" and (op.get("detail") or {}).get("agent_id") == req.agent_env
    )
    if maximum and n >= maximum:
        raise WgError(
            f"Agent {req.agent_env} has already created {n}/{maximum} tasks. "
            "Use wg fail or wg log to explain why more decomposition is needed."
        )
    req.max_depth = cfg.get_int("guardrails.max_task_depth", 8)


def _depth(graph: Graph, after: list[str]) -> int:
    """User-visible depth: longest chain of non-system ancestors, plus one."""
    memo: dict[str, int] = {}

    def depth_of(tid: str, seen: frozenset[str]) -> int:
        if tid in memo:
            return memo[tid]
        task = graph.get(tid)
        if task is None or tid in seen:
            return 0
        parents = [p for p in task.get("after") or () if not p.startswith(".")]
        d = 1 + max((depth_of(p, seen | {tid}) for p in parents), default=0)
        memo[tid] = d
        return d

    return 1 + max((depth_of(p, frozenset()) for p in after if not p.startswith(".")), default=0)


def add_task(graph: Graph, req: AddRequest, now: int) -> dict[str, Any]:
    """The transaction body: pick the id, check the graph, insert the task and its edges."""
    a = req.opts
    stamp = format_ts(now)
    warnings = list(req.warnings)
    dot_title = req.title.startswith(".")
    implicit_parent = (
        req.agent_context and req.task_env and not req.after and not req.subtask and not a.independent
    )
    after = list(dict.fromkeys(req.after))
    if implicit_parent:
        parent = graph.get(req.task_env)
        if parent is not None and not any(t in (parent.get("tags") or ()) for t in CHAT_TAGS):
            after = [req.task_env]
    max_depth = req.max_depth
    if max_depth and req.agent_context:
        depth = _depth(graph, after)
        if depth > max_depth:
            raise WgError(
                f"Task would be at user-visible depth {depth} (configured max_task_depth: {max_depth}). "
                "Flatten the plan: add it beside its parent instead of below it."
            )
    if req.explicit_id is not None:
        tid = req.explicit_id
        if tid in graph:
            raise WgError(f"Task with ID '{tid}' already exists")
    else:
        tid = unique_id(slugify(req.title), graph, now // 1_000_000_000)
    if tid in after:
        raise WgError(f"Task '{tid}' cannot block itself")
    draft = not req.agent_context and not req.no_place and not dot_title and not req.subtask
    paused = draft or req.paused
    for dep in after:
        if dep in graph:
            continue
        # Only an explicit --paused defers validation (the hint says so); a draft's pause does not.
        if req.paused or a.allow_phantom:
            warnings.append(
                f"Warning: dependency '{dep}' does not exist yet (will be validated at publish time)"
            )
            continue
        msg = f"Dependency '{dep}' does not exist."
        guess = did_you_mean(dep, graph.ids())
        if guess:
            msg += f"\n  → Did you mean '{guess}'?"
        raise WgError(
            msg
            + "\n  Hint: Use --paused to defer validation, or --allow-phantom to allow forward references."
        )
    parent_id = None
    if req.subtask:
        parent = graph.get(req.task_env)
        status = parent.get("status", "open") if parent else "missing"
        if parent is None or status != "in-progress":
            raise WgError(
                f"Cannot set subtask wait on parent '{req.task_env}': status is '{status}', expected 'in-progress'"
            )
        parent_id = req.task_env
        after = [d for d in after if d != parent_id]
    task = new_task(tid, req.title, stamp)
    _fill_fields(task, a, req, now, warnings)
    if after:
        task["after"] = after
    if paused:  # a draft or --paused (the original logs both)
        task["paused"] = True
        task["log"] = [log_entry(stamp, "Task paused", user=req.user)]
    if req.agent_context or req.no_place or req.subtask or dot_title:
        task["unplaced"] = True
    if req.cycle_config is not None:
        task["cycle_config"] = req.cycle_config
    graph.put(task)
    for dep in after:
        graph.add_dependency(tid, dep)
    if req.cycle_config is not None:  # close the loop: X goes into each Y.after
        for dep in after:
            if dep in graph:
                graph.add_dependency(dep, tid)
    for other in graph.referrers(tid):  # earlier forward references to this id
        graph.add_dependency(other, tid)
    if parent_id is not None:
        _park_parent(graph, parent_id, tid, stamp)
    return {"id": tid, "paused": paused, "draft": draft, "warnings": warnings, "parent": parent_id}


def _fill_fields(task: Record, a: Args, req: AddRequest, now: int, warnings: list[str]) -> None:
    if req.description:
        task["description"] = req.description
    priority = parse_priority(a.priority, warnings)
    if any(t.lower() in ("urgent", "triage") for t in a.tag):
        priority = raise_tier(priority)
    task["priority"] = priority
    if a.assign:
        task["assigned"] = a.assign
    estimate: dict[str, float] = {}
    if a.hours is not None:
        estimate["hours"] = float(a.hours)
    if a.cost is not None:
        estimate["cost"] = float(a.cost)
    if estimate:
        task["estimate"] = estimate
    for key, dest in (
        ("tags", "tag"),
        ("skills", "skill"),
        ("inputs", "input"),
        ("deliverables", "deliverable"),
    ):
        values = list(dict.fromkeys(a[dest]))
        if values:
            task[key] = values
    if a.exec_cmd is not None:
        task["exec"] = a.exec_cmd
        task["exec_mode"] = a.exec_mode or "shell"
    elif a.exec_mode is not None:
        task["exec_mode"] = a.exec_mode
    if a.timeout is not None:
        task["timeout"] = a.timeout
    if a.delay is not None:
        task["not_before"] = format_ts(now + (parse_duration(a.delay) or 0) * 1_000_000_000)
    elif a.not_before is not None:
        task["not_before"] = a.not_before
    if a.max_retries is not None:
        task["max_retries"] = a.max_retries
    if a.model is not None:
        task["model"] = a.model
    if a.provider is not None:
        task["provider"] = a.provider
    if a.visibility is not None:
        task["visibility"] = a.visibility
    if a.context_scope is not None:
        task["context_scope"] = a.context_scope
    if a.no_tier_escalation:
        task["no_tier_escalation"] = True
    if a.independent:
        task["independent"] = True
    if a.place_near:
        task["place_near"] = list(a.place_near)
    if a.place_before:
        task["place_before"] = list(a.place_before)
    if a.cron is not None:
        from .cron import next_fire

        task["cron_schedule"] = a.cron
        task["cron_enabled"] = True
        task["next_cron_fire"] = format_ts(next_fire(a.cron, now, task["id"]))


def _park_parent(graph: Graph, parent_id: str, child: str, stamp: str) -> None:
    parked = graph.records[parent_id]
    cond = {
        "mode": "any",
        "conditions": [
            {"type": "task-status", "task_id": child, "status": "done"},
            {"type": "task-status", "task_id": child, "status": "failed"},
        ],
    }
    entry = log_entry(
        stamp, f"Agent parked. Waiting for subtask '{child}' to complete.", parked.get("assigned")
    )
    graph.update(parent_id, status="waiting", wait_condition=cond, log=[*(parked.get("log") or []), entry])
