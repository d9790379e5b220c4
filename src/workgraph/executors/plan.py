"""Choosing executor, model, endpoint, exec mode and timeout for one task (spec service 6.1).

``plan_spawn`` reads nothing but the executor files and ``PATH``; configuration comes in as a ``Config``.
"""

from __future__ import annotations

import os
import shutil

from .executor_files import ExecutorFile, ExecutorFileError, configured_names, load_executor_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..config import Config
    from ..model import Record

BUILTIN = ("claude", "codex", "native", "shell")
CLAUDE_ALIASES = ("claude", "opus", "sonnet", "haiku")
TIERS = ("fast", "standard", "premium")
EXEC_MODES = ("full", "light", "bare", "shell")
DEFAULT_MODEL = "claude:opus"
DEFAULT_TIMEOUT = "30m"
# Bare model names that no Anthropic CLI can run (6.1: "claude with a clearly non-Anthropic model").
_FOREIGN_MARKERS = (
    "gpt", "o1", "o3", "o4", "qwen", "llama", "gemini", "gemma", "mistral", "mixtral", "deepseek", "phi",
    "grok", "kimi", "glm", "command-r", "codestral", "nemotron", "minimax",
)  # fmt: skip
_PROGRAMS = {"claude": "claude", "codex": "codex", "native": "wg", "shell": "bash"}


class PlanError(Exception):
    """The task cannot be planned (counts as a spawn failure, spec service 5.8)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ExecutorNotFound(PlanError):
    """The executor's program is not on PATH: the task fails at once (5.8)."""

    def __init__(self, executor: str, program: str) -> None:
        super().__init__(f"Executor '{executor}' not found: '{program}' is not on PATH")
        self.executor = executor
        self.program = program


class SpawnPlan:
    """What one agent will run. ``kind`` is the built-in behaviour, ``executor`` the name as chosen."""

    def __init__(self) -> None:
        self.executor = "shell"
        self.kind = "shell"
        self.executor_source = "default"
        self.model: str | None = None
        self.model_source = "none"
        self.tier: str | None = None
        self.timeout_secs: int | None = None
        self.exec_mode = "full"
        self.endpoint: dict[str, Any] | None = None
        self.provider: str | None = None
        self.program = "bash"
        self.file: ExecutorFile | None = None

    @property
    def endpoint_name(self) -> str | None:
        name = (self.endpoint or {}).get("name")
        return str(name) if name else None

    @property
    def endpoint_url(self) -> str | None:
        url = (self.endpoint or {}).get("url")
        return str(url) if url else None

    def log_line(self, task_id: str) -> str:
        return (
            f"[dispatcher] {task_id}: SpawnPlan executor={self.executor} (from {self.executor_source}), "
            f"model={self.model or 'none'} (from {self.model_source}), endpoint={self.endpoint_name or 'none'}"
        )


# -- models -----------------------------------------------------------------------------------------


def split_model(model: str) -> tuple[str | None, str]:
    """``provider:name`` → (provider, name); a bare name has no provider."""
    if ":" in model:
        provider, name = model.split(":", 1)
        return provider, name
    return None, model


def cli_model(model: str | None) -> str | None:
    """The model as the claude and codex CLIs get it: without the provider prefix."""
    return split_model(model)[1] if model else None


def is_foreign_bare(name: str) -> bool:
    low = name.lower()
    if "claude" in low or any(alias in low for alias in CLAUDE_ALIASES):
        return False
    return "/" in low or any(low.startswith(m) or f"-{m}" in low for m in _FOREIGN_MARKERS)


def handler_for(model: str) -> str:
    """Rules 6-7 of 6.1: the executor a resolved model implies."""
    provider, name = split_model(model)
    if provider is None:
        return "native" if is_foreign_bare(name) else "claude"
    if provider == "claude":
        return "claude"
    if provider == "codex":
        return "codex"
    return "native"


def _nonempty(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _models_table(cfg: Config, role: str) -> str | None:
    value = cfg.get(f"models.{role}", None)
    if isinstance(value, dict):
        return _nonempty(value.get("model"))
    return _nonempty(value)


def _tag_route(cfg: Config, task: Record) -> str | None:
    """``[[tag_routing]]`` rules ``{tag = "x", model = "m"}`` (also ``tags = [...]``): the first match."""
    rules = cfg.get("tag_routing", None) or cfg.get("dispatcher.tag_routing", None)
    if isinstance(rules, dict):
        rules = [{"tag": k, "model": v} for k, v in rules.items()]
    if not isinstance(rules, list):
        return None
    tags = set(task.get("tags") or ())
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        wanted = rule.get("tags") or [rule.get("tag")]
        if isinstance(wanted, list) and tags.intersection(w for w in wanted if isinstance(w, str)):
            model = _nonempty(rule.get("model"))
            if model:
                return model
    return None


def choose_model(
    task: Record,
    cfg: Config,
    *,
    spawn_model: str | None = None,
    agent_model: str | None = None,
    file_model: str | None = None,
    daemon_model: str | None = None,
) -> tuple[str, str, str | None]:
    """(model, source, tier): the first non-empty of 6.1's model chain, and the tier when known."""
    tier = _nonempty(task.get("tier"))
    tiers = cfg.get("tiers", None)
    tiers = tiers if isinstance(tiers, dict) else {}
    chain: list[tuple[str | None, str]] = [
        (_nonempty(task.get("model")), "task.model"),
        (_nonempty(tiers.get(tier)) if tier else None, f"tiers.{tier}"),
        (_tag_route(cfg, task), "tag_routing"),
        (_nonempty(spawn_model), "spawn --model"),
        (_nonempty(agent_model), "agent.preferred_model"),
        (_nonempty(file_model), "executor file"),
        (_nonempty(daemon_model), "daemon --model"),
        (_nonempty(cfg.get("dispatcher.model", None)), "dispatcher.model"),
        (_models_table(cfg, "task_agent"), "models.task_agent"),
        (_models_table(cfg, "default"), "models.default"),
        (
            _nonempty(cfg.get("agent.model", None)) if cfg.source("agent.model") != "default" else None,
            "agent.model",
        ),
    ]
    model, source = next(((v, src) for v, src in chain if v), (DEFAULT_MODEL, "default"))
    if tier not in TIERS:
        tier = next((t for t in TIERS if tiers.get(t) == model), None)
    return model, source, tier


# -- timeout and exec mode --------------------------------------------------------------------------


def parse_timeout(value: object) -> int | None:
    """Seconds; None when disabled (``0`` or empty). Raises PlanError when malformed."""
    from ..timeutil import parse_duration

    if value is None:
        return None
    if isinstance(value, bool):
        raise PlanError(f"Invalid timeout '{value}'")
    if isinstance(value, int | float):
        return int(value) if value > 0 else None
    text = str(value).strip()
    if not text or text == "0":
        return None
    secs = parse_duration(text, bare_unit="s")
    if secs is None:
        raise PlanError(f"Invalid timeout '{text}' (use N, Ns, Nm, Nh or Nd)")
    return secs or None


def choose_timeout(
    task: Record, cfg: Config, file: ExecutorFile | None, spawn_timeout: str | None = None
) -> int | None:
    for value in (spawn_timeout, task.get("timeout"), file.timeout if file else None):
        if value is not None and value != "":
            return parse_timeout(value)
    return parse_timeout(cfg.get("dispatcher.agent_timeout", DEFAULT_TIMEOUT))


def choose_exec_mode(task: Record, role_exec_mode: str | None = None) -> str:
    if task.get("exec"):
        return "shell"
    for value in (task.get("exec_mode"), role_exec_mode):
        if isinstance(value, str) and value in EXEC_MODES:
            return value
    return "full"


# -- executor ---------------------------------------------------------------------------------------


def _canonical(name: str) -> str:
    return "native" if name == "nex" else name


def choose_executor(
    task: Record,
    cfg: Config,
    model: str | None,
    *,
    spawn_executor: str | None = None,
    agent_executor: str | None = None,
    daemon_executor: str | None = None,
) -> tuple[str, str]:
    """(executor name, source) by 6.1's rules 1-7 (the non-Anthropic switch is applied by ``plan_spawn``)."""
    if task.get("exec"):
        return "shell", "task.exec"
    if task.get("exec_mode") == "shell":
        return "shell", "task.exec_mode"
    agent_executor = agent_executor if agent_executor != "claude" else None  # the agency default
    for value, source in (
        (spawn_executor, "spawn --executor"),
        (agent_executor, "agent.executor"),
        (daemon_executor, "daemon --executor"),
        (cfg.get("dispatcher.executor", None), "dispatcher.executor"),
        (cfg.get("agent.executor", None), "agent.executor (config)"),
    ):
        if _nonempty(value):
            return _canonical(str(value)), source
    if model:
        return handler_for(model), f"model {model}"
    return "claude", "default"


def find_program(program: str, path: str | None = None) -> str | None:
    if os.sep in program:
        return program if os.access(program, os.X_OK) else None
    return shutil.which(program, path=path)


def _endpoint(cfg: Config, task: Record, provider: str | None) -> dict[str, Any] | None:
    table = cfg.get("llm_endpoints", None)
    entries = table.get("endpoints") if isinstance(table, dict) else None
    if not isinstance(entries, list):
        return None
    eps = [e for e in entries if isinstance(e, dict)]
    wanted = _nonempty(task.get("endpoint"))
    if wanted:
        for ep in eps:
            if ep.get("name") == wanted:
                return ep
        raise PlanError(
            f"Unknown endpoint '{wanted}' (configured: {', '.join(str(e.get('name')) for e in eps)})"
        )
    by_provider = [e for e in eps if provider and e.get("provider") == provider]
    for group in (by_provider, eps):
        for ep in group:
            if ep.get("is_default"):
                return ep
    return by_provider[0] if by_provider else (eps[0] if len(eps) == 1 else None)


def plan_spawn(
    task: Record,
    cfg: Config,
    wg_dir: str,
    *,
    daemon_executor: str | None = None,
    daemon_model: str | None = None,
    spawn_executor: str | None = None,
    spawn_model: str | None = None,
    spawn_timeout: str | None = None,
    agent_profile: dict[str, Any] | None = None,
    role_exec_mode: str | None = None,
    path: str | None = None,
) -> SpawnPlan:
    """The whole plan of 6.1; raises PlanError (or ExecutorNotFound) when the task cannot run."""
    profile = agent_profile or {}
    plan = SpawnPlan()
    plan.exec_mode = choose_exec_mode(task, role_exec_mode)
    # The executor decides whether a model matters (shell: none) and the file's model joins the chain,
    # so choose with the model the chain gives without the file, then redo the model with the file.
    pre_model = None if task.get("exec") or task.get("exec_mode") == "shell" else "x"
    if pre_model:
        pre_model = choose_model(
            task, cfg, spawn_model=spawn_model, agent_model=profile.get("preferred_model"),
            daemon_model=daemon_model,
        )[0]  # fmt: skip
    name, source = choose_executor(
        task,
        cfg,
        pre_model,
        spawn_executor=spawn_executor,
        agent_executor=_nonempty(profile.get("executor")),
        daemon_executor=daemon_executor,
    )
    try:
        file = load_executor_file(wg_dir, name)
    except ExecutorFileError as exc:
        raise PlanError(exc.message) from None
    if name not in BUILTIN and file is None:
        names = ", ".join([*BUILTIN, *(n for n in configured_names(wg_dir) if n not in BUILTIN)])
        raise PlanError(f"Unknown executor '{name}'. Available: {names}")
    plan.file = file
    plan.executor, plan.executor_source = name, source
    plan.kind = file.kind if file else name
    if plan.kind != "shell":
        plan.model, plan.model_source, plan.tier = choose_model(
            task,
            cfg,
            spawn_model=spawn_model,
            agent_model=profile.get("preferred_model"),
            file_model=file.model if file else None,
            daemon_model=daemon_model,
        )
        if plan.kind == "claude" and handler_for(plan.model) == "native":
            plan.kind = plan.executor = "native"
            plan.executor_source = f"{source}; claude cannot run non-Anthropic model {plan.model}"
            plan.file = file = None
        if plan.kind == "native":
            provider = split_model(plan.model)[0]
            plan.endpoint = _endpoint(cfg, task, provider)
            ep_provider = _nonempty((plan.endpoint or {}).get("provider"))
            plan.provider = provider if provider not in (None, "native", "nex") else ep_provider
    plan.timeout_secs = choose_timeout(task, cfg, file, spawn_timeout)
    program = (file.command if file and file.command else None) or _PROGRAMS.get(plan.kind, plan.kind)
    if find_program(program, path) is not None:
        plan.program = program  # as named: argv[0] stays `claude`, resolved on the agent's PATH
    elif plan.kind == "native" and program == "wg" and _wg_beside_python():
        plan.program = str(_wg_beside_python())
    else:
        raise ExecutorNotFound(plan.executor, program)
    return plan


def _wg_beside_python() -> str | None:
    import sys

    candidate = os.path.join(os.path.dirname(sys.executable), "wg")
    return candidate if os.access(candidate, os.X_OK) else None
