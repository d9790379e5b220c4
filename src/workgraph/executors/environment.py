"""The agent's environment (spec service 6.5). Secrets travel only here, never on argv or in a file."""

from __future__ import annotations

from .executor_files import render_template

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ..model import Record
    from .plan import SpawnPlan

# Never inherited from the daemon's caller (spec service 3.1 step 2, 6.5): each agent gets its own.
SCRUBBED = (
    "WG_AGENT_ID", "WG_TASK_ID", "WG_WORKTREE_PATH", "WG_BRANCH", "WG_PROJECT_ROOT", "WG_TARGET_BRANCH",
    "WG_WORKTREE_ACTIVE", "WG_SPAWN_EPOCH", "WG_CHAT_REF", "WG_CHAT_ID", "WG_EXECUTOR_TYPE", "WG_MODEL",
    "WG_TIER", "WG_TASK_TIMEOUT_SECS", "WG_LLM_PROVIDER", "WG_ENDPOINT", "WG_ENDPOINT_NAME", "WG_ENDPOINT_URL",
    "WG_API_KEY", "CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT",
)  # fmt: skip
_PROVIDER_KEY_VARS = {
    "openrouter": "OPENROUTER_API_KEY",
    "openai": "OPENAI_API_KEY",
    "anthropic": "ANTHROPIC_API_KEY",
    "gemini": "GEMINI_API_KEY",
}


def provider_key_var(provider: str | None, endpoint: Mapping[str, Any] | None) -> str | None:
    var = (endpoint or {}).get("api_key_env")
    if isinstance(var, str) and var:
        return var
    if not provider or provider in ("native", "nex", "local", "oai-compat"):
        return None
    return _PROVIDER_KEY_VARS.get(provider, f"{provider.upper().replace('-', '_')}_API_KEY")


def native_api_key(plan: SpawnPlan, base: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(key, provider variable): the endpoint's ``api_key``, else its ``api_key_env``, else the provider's
    usual variable, else an inherited ``WG_API_KEY``."""
    var = provider_key_var(plan.provider, plan.endpoint)
    literal = (plan.endpoint or {}).get("api_key")
    if isinstance(literal, str) and literal:
        return literal, var
    if var and base.get(var):
        return base[var], var
    return base.get("WG_API_KEY") or None, var


def agent_env(
    base: Mapping[str, str],
    plan: SpawnPlan,
    task: Record,
    *,
    agent_id: str,
    wg_dir: str,
    spawn_epoch: int,
    worktree: Mapping[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> dict[str, str]:
    env = {k: v for k, v in base.items() if k not in SCRUBBED}
    env.update(
        WG_TASK_ID=str(task["id"]),
        WG_AGENT_ID=agent_id,
        WG_DIR=wg_dir,
        WG_EXECUTOR_TYPE=plan.kind,
        WG_USER=base.get("WG_USER") or base.get("USER") or "unknown",
        WG_SPAWN_EPOCH=str(spawn_epoch),
    )
    if plan.model:
        env["WG_MODEL"] = plan.model
    if plan.tier:
        env["WG_TIER"] = plan.tier
    if plan.timeout_secs:
        env["WG_TASK_TIMEOUT_SECS"] = str(plan.timeout_secs)
    if plan.kind == "native":
        if plan.provider:
            env["WG_LLM_PROVIDER"] = plan.provider
        if plan.endpoint_name:
            env["WG_ENDPOINT"] = env["WG_ENDPOINT_NAME"] = plan.endpoint_name
        if plan.endpoint_url:
            env["WG_ENDPOINT_URL"] = plan.endpoint_url
        key, var = native_api_key(plan, base)
        if key:
            env["WG_API_KEY"] = key
            if var:
                env[var] = key
    if worktree:
        env.update({k: v for k, v in worktree.items() if v})
    if plan.kind == "shell":
        env["TASK_ID"] = str(task["id"])
        env["TASK_TITLE"] = str(task.get("title") or "")
    if plan.file is not None:
        for key, value in plan.file.env.items():
            env[key] = render_template(value, values or {})
    return env
