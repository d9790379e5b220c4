"""What the dispatcher calls (spec service 5.3 steps 1 and 4, 5.8): plan a task, fail it when its program is
missing, prepare its agent directory. The task's agency agent gives spawn defaults (agency.md 5).
"""

from __future__ import annotations

from ..model import log_entry
from ..timeutil import format_ts
from .plan import ExecutorNotFound, PlanError, SpawnPlan, plan_spawn

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from ..config import Config
    from ..graph import Graph
    from ..model import Record
    from .prepare import Launch

__all__ = [
    "ExecutorNotFound", "PlanError", "SpawnPlan", "audits_dispatch", "awaits_assignment", "fail_missing_program",
    "load",
    "plan_failure_change", "plan_task", "prepare",
]  # fmt: skip


def agency_profile(wg_dir: str, task: Record) -> dict[str, Any]:
    """The task's agency agent's spawn defaults (``agency.identity.agent_spawn_defaults``: keys ``executor``,
    ``preferred_model``, ``preferred_provider``, ``default_exec_mode``, ``default_context_scope``), or {}."""
    agent = task.get("agent")
    if not isinstance(agent, str) or not agent:
        return {}
    try:
        from ..agency.identity import agent_spawn_defaults

        value = agent_spawn_defaults(wg_dir, agent)
    except Exception:
        return {}
    return dict(value) if isinstance(value, dict) else {}


def _flag_value(settings: object, key: str, configured: object, default: object) -> str | None:
    """The daemon's ``--executor``/``--model`` (start or reload); the settings also hold the configured value,
    which 6.1 ranks elsewhere, so a value equal to it is not a flag."""
    flags = getattr(settings, "flag_overrides", None)
    if isinstance(flags, dict):
        value = flags.get(key)
        return str(value) if value else None
    value = getattr(settings, key, None)
    if not value or value == (configured or default):
        return None
    return str(value)


def plan_task(
    task: Record,
    wg_dir: str,
    settings: object,
    cfg: Config | None = None,
    *,
    spawn_executor: str | None = None,
    spawn_model: str | None = None,
    spawn_timeout: str | None = None,
    path: str | None = None,
) -> tuple[SpawnPlan, Config]:
    """Step 1 of 5.3. Raises PlanError, or ExecutorNotFound when the program is not on PATH."""
    from ..config import load_config

    cfg = cfg or load_config(wg_dir, quiet=True)
    profile = agency_profile(wg_dir, task)
    plan = plan_spawn(
        task,
        cfg,
        wg_dir,
        daemon_executor=_flag_value(settings, "executor", cfg.get("dispatcher.executor", None), "claude"),
        daemon_model=_flag_value(settings, "model", cfg.get("dispatcher.model", None), None),
        spawn_executor=spawn_executor,
        spawn_model=spawn_model,
        spawn_timeout=spawn_timeout,
        agent_profile=profile,
        role_exec_mode=profile.get("default_exec_mode"),
        path=path,
    )
    return plan, cfg


def fail_missing_program(graph: Graph, task_id: str, exc: ExecutorNotFound, now: int) -> bool:
    """5.8: an unclaimed task whose executor program is missing fails at once, class ``spawn-failed``."""
    cur = graph.get(task_id)
    if cur is None or cur.get("status") not in ("open", "incomplete") or cur.get("assigned"):
        return False
    entry = log_entry(format_ts(now), f"Spawn failed: {exc.message}")
    graph.update(
        task_id,
        status="failed",
        failure_class="spawn-failed",
        failure_reason=exc.message,
        retry_count=int(cur.get("retry_count") or 0) + 1,
        log=[*(cur.get("log") or []), entry],
    )
    return True


def prepare(
    plan: SpawnPlan,
    task: Record,
    graph: Graph,
    *,
    agent_id: str,
    wg_dir: str,
    base_env: Mapping[str, str],
    spawn_epoch: int,
    cfg: Config | None = None,
    worktree: Mapping[str, str] | None = None,
    worktree_meta: Mapping[str, Any] | None = None,
    warn: Callable[[str], None] | None = None,
) -> Launch:
    """Step 4 of 5.3: the agent directory and what to start."""
    from .prepare import prepare_agent

    profile = agency_profile(wg_dir, task)
    scope = profile.get("default_context_scope")
    return prepare_agent(
        plan,
        task,
        graph,
        agent_id=agent_id,
        wg_dir=wg_dir,
        base_env=base_env,
        spawn_epoch=spawn_epoch,
        cfg=cfg,
        worktree=worktree,
        worktree_meta=worktree_meta,
        role_scope=scope if isinstance(scope, str) else None,
        warn=warn,
    )


def load(wg_dir: str) -> Config:
    from ..config import load_config

    return load_config(wg_dir, quiet=True)


def _agentless(task: Record) -> bool:
    """A non-system, non-shell task without an agency ``agent`` (spec service 9.3)."""
    from ..model import is_system

    shell = bool(task.get("exec")) or task.get("exec_mode") == "shell"
    return not task.get("agent") and not shell and not is_system(task["id"])


def _auto_assign(cfg: Config) -> bool:
    try:
        return cfg.agency_flag("auto_assign")
    except Exception:
        return False


def awaits_assignment(task: Record, cfg: Config) -> bool:
    """5.2: with ``agency.auto_assign`` on, a non-system task without ``agent`` waits for its ``.assign-*``
    (shell tasks need no agent identity, and tasks tagged evaluation/assignment/evolution get none)."""
    from ..agency.scaffold import NO_ASSIGN_TAGS

    if not _agentless(task) or NO_ASSIGN_TAGS.intersection(task.get("tags") or ()):
        return False
    return _auto_assign(cfg)


def audits_dispatch(task: Record, cfg: Config) -> bool:
    """9.3: with ``auto_assign`` on, a task spawned without an agent gets a ``done`` audit ``.assign-*``."""
    return _agentless(task) and _auto_assign(cfg)


def plan_failure_change(
    graph: Graph, task_id: str, err: str, now: int, max_failures: int, executor: str, exec_mode: str
) -> int:
    """5.8 for an error while planning (nothing claimed yet): count it; at the limit the task goes
    ``incomplete``. Returns the new count (0 when the task is no longer spawnable)."""
    cur = graph.get(task_id)
    if cur is None or cur.get("status") not in ("open", "incomplete") or cur.get("assigned"):
        return 0
    stamp = format_ts(now)
    k = int(cur.get("spawn_failures") or 0) + 1
    shown = max_failures if max_failures > 0 else "unlimited"
    log = [
        *(cur.get("log") or []),
        log_entry(
            stamp, f"Spawn failed (attempt {k}/{shown}): {err}. exec_mode={exec_mode}, executor={executor}"
        ),
    ]
    status = cur.get("status")
    if max_failures > 0 and k >= max_failures:
        log.append(
            log_entry(
                stamp,
                f"Circuit breaker tripped: spawn failed {k} times. Last error: {err}. "
                "Task marked incomplete for evaluator review.",
            )
        )
        status = "incomplete"
    graph.update(task_id, status=status, spawn_failures=k, failure_reason=err, log=log)
    return k
