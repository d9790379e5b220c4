"""The agent directory ``$WG/agents/agent-N/`` (spec service 7) and what the dispatcher starts (5.3 step 4-5).

``prepare_agent`` writes ``prompt.txt`` (plus ``user_message.txt``/``resume_message.txt`` when used),
``run.sh`` (0755) and ``metadata.json`` (pid null until ``record_pid``), and returns a ``Launch``: argv
``bash run.sh``, the environment of 6.5 and the explicit cwd. No secret is written to any of these files.
"""

from __future__ import annotations

import json
import os

from .commands import build_invocation, resume_message, user_message
from .environment import agent_env
from .executor_files import render_template
from .prompt import build_prompt, choose_scope, identity_section, shell_prompt
from .wrapper import render_run_sh

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from ..config import Config
    from ..graph import Graph
    from ..model import Record
    from .plan import SpawnPlan


class Launch:
    def __init__(self, agent_dir: str, argv: list[str], env: dict[str, str], cwd: str) -> None:
        self.agent_dir = agent_dir
        self.argv = argv
        self.env = env
        self.cwd = cwd
        self.output = os.path.join(agent_dir, "output.log")
        self.metadata = os.path.join(agent_dir, "metadata.json")


def _write(path: str, text: str, mode: int = 0o644) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)
    os.chmod(path, mode)


def placeholder_values(
    graph: Graph,
    task: Record,
    plan: SpawnPlan,
    wg_dir: str,
    cwd: str,
    cfg: Config | None,
    identity: str | None = None,
) -> dict[str, str]:
    """Values of the 6.3 placeholders."""
    from .prompt import dependencies_section

    def guard(key: str, default: int) -> object:
        return cfg.get(f"guardrails.{key}", default) if cfg is not None else default

    iteration = task.get("loop_iteration")
    return {
        "task_id": str(task["id"]),
        "task_title": str(task.get("title") or ""),
        "task_description": str(task.get("description") or ""),
        "task_context": dependencies_section(graph, task),
        "task_identity": identity_section(wg_dir, task) if identity is None else identity,
        "working_dir": cwd,
        "skills_preamble": "",
        "model": plan.model or "",
        "task_loop_info": f"iteration {iteration}" if isinstance(iteration, int) and iteration > 0 else "",
        "task_verify": str(task.get("verify") or ""),
        "max_child_tasks": str(guard("max_child_tasks_per_agent", 10)),
        "max_task_depth": str(guard("max_task_depth", 8)),
    }


def agent_cwd(plan: SpawnPlan, root: str, worktree: Mapping[str, str] | None) -> str:
    """The worktree when isolated, else the executor file's ``working_dir``, else the project root."""
    if worktree and worktree.get("WG_WORKTREE_PATH"):
        return worktree["WG_WORKTREE_PATH"]
    if plan.file is not None and plan.file.working_dir:
        wd = plan.file.working_dir
        return wd if os.path.isabs(wd) else os.path.join(root, wd)
    return root


def metadata(
    plan: SpawnPlan, task: Record, agent_id: str, worktree_meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "agent_id": agent_id,
        "pid": None,
        "task_id": task["id"],
        "executor": plan.executor,
        "model": plan.model,
        "started_at": task.get("started_at"),
        "timeout_secs": plan.timeout_secs,
        "artifacts_at_spawn": list(task.get("artifacts") or []),
    }
    for key in ("worktree_path", "worktree_branch", "target_branch", "base_commit"):
        value = (worktree_meta or {}).get(key)
        if value:
            meta[key] = value
    return meta


def write_metadata(agent_dir: str, meta: Mapping[str, Any]) -> None:
    from ..atomic import write_text_atomic

    text = json.dumps(meta, indent=2, ensure_ascii=False) + "\n"
    write_text_atomic(os.path.join(agent_dir, "metadata.json"), text, fsync=False)  # as before: no fsync


def record_pid(agent_dir: str, pid: int) -> None:
    path = os.path.join(agent_dir, "metadata.json")
    try:
        with open(path, encoding="utf-8") as fh:
            meta = json.load(fh)
    except (OSError, ValueError):
        return
    if isinstance(meta, dict):
        meta["pid"] = pid
        write_metadata(agent_dir, meta)


def prepare_agent(
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
    role_scope: str | None = None,
    warn: Callable[[str], None] | None = None,
) -> Launch:
    """Create ``$WG/agents/<agent_id>/`` (never reused: it must not exist, or hold only the metadata its
    worktree recorded) and its files. ``warn`` receives the identity section's warnings."""
    root = os.path.dirname(wg_dir)
    adir = os.path.join(wg_dir, "agents", agent_id)
    os.makedirs(os.path.dirname(adir), exist_ok=True)
    try:
        os.mkdir(adir)
    except FileExistsError:
        if not worktree or any(not n.startswith("metadata.json") for n in os.listdir(adir)):
            raise
    cwd = agent_cwd(plan, root, worktree)
    identity = identity_section(wg_dir, task, warn) if plan.kind != "shell" else ""
    values = placeholder_values(graph, task, plan, wg_dir, cwd, cfg, identity)
    if plan.kind == "shell":
        prompt = shell_prompt(str(task.get("exec") or ""))
    elif plan.file is not None and plan.file.prompt_template:
        prompt = render_template(plan.file.prompt_template, values)
    else:
        scope = choose_scope(
            task, role_scope, cfg.get("dispatcher.default_context_scope", None) if cfg else None
        )
        project = cfg.get("project", None) if cfg is not None else None
        retry_tokens = cfg.get_int("dispatcher.retry_context_tokens", 2000) if cfg is not None else 2000
        prompt = build_prompt(
            graph,
            task,
            wg_dir=wg_dir,
            scope=scope,
            worktree=worktree,
            project=project if isinstance(project, dict) else None,
            retry_context_tokens=retry_tokens,
            identity=identity,
        )
    _write(os.path.join(adir, "prompt.txt"), prompt)
    inv = build_invocation(plan, task, adir, values)
    if plan.kind == "claude" and plan.exec_mode == "bare":
        _write(os.path.join(adir, "user_message.txt"), user_message(task))
    if inv.fallback is not None:
        _write(os.path.join(adir, "resume_message.txt"), resume_message(task))
    run_sh = os.path.join(adir, "run.sh")
    text = render_run_sh(
        agent_id=agent_id,
        task_id=task["id"],
        executor=plan.executor,
        kind=plan.kind,
        agent_dir=adir,
        inv=inv,
        timeout_secs=plan.timeout_secs,
        worktree=(worktree or {}).get("WG_WORKTREE_PATH"),
        project_root=root,
        wg_dir=wg_dir,
    )
    _write(run_sh, text, 0o755)
    write_metadata(adir, metadata(plan, task, agent_id, worktree_meta))
    env = agent_env(
        base_env,
        plan,
        task,
        agent_id=agent_id,
        wg_dir=wg_dir,
        spawn_epoch=spawn_epoch,
        worktree=worktree,
        values=values,
    )
    return Launch(adir, ["bash", run_sh], env, cwd)
