"""The choice of executor, model, exec mode and timeout (spec service 6.1), without a daemon."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from workgraph.config import Config
from workgraph.executors.dispatch import awaits_assignment, fail_missing_program, plan_task
from workgraph.executors.plan import (
    ExecutorNotFound,
    PlanError,
    choose_executor,
    choose_model,
    handler_for,
    parse_timeout,
    plan_spawn,
)
from workgraph.graph import Graph


def cfg(data: dict[str, Any] | None = None) -> Config:
    return Config({}, data or {}, (None, "config.toml"))


@pytest.fixture
def env(tmp_path: Path) -> tuple[str, str]:
    """(wg_dir, PATH) with fake claude and codex programs."""
    wg = tmp_path / ".wg"
    (wg / "executors").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("claude", "codex", "my-agent-bin"):
        p = bin_dir / name
        p.write_text("#!/bin/sh\nexit 0\n")
        p.chmod(0o755)
    return str(wg), f"{bin_dir}:/usr/bin:/bin"


def task(**kw: Any) -> dict[str, Any]:
    return {"id": "t", "title": "T", "status": "open", **kw}


@pytest.mark.parametrize(
    ("model", "handler"),
    [
        ("claude:opus", "claude"),
        ("opus", "claude"),
        ("sonnet", "claude"),
        ("haiku", "claude"),
        ("claude-3-5-sonnet", "claude"),
        ("codex:gpt-5", "codex"),
        ("native:qwen3", "native"),
        ("nex:qwen3-coder", "native"),
        ("openrouter:anthropic/claude-3", "native"),
        ("ollama:llama3", "native"),
        ("local:foo", "native"),
        ("oai-compat:foo", "native"),
        ("gemini:gemini-2.5", "native"),
        ("someprovider:x", "native"),
        ("some-bare-name", "claude"),
        ("gpt-4o", "native"),
        ("qwen3-coder", "native"),
    ],
)
def test_handler_for_model(model: str, handler: str) -> None:
    assert handler_for(model) == handler


def test_executor_rules_in_order() -> None:
    c = cfg({"dispatcher": {"executor": "codex"}, "agent": {"executor": "native"}})
    assert choose_executor(task(exec="true"), c, "claude:opus") == ("shell", "task.exec")
    assert choose_executor(task(exec_mode="shell"), c, "claude:opus") == ("shell", "task.exec_mode")
    assert (
        choose_executor(task(), c, None, spawn_executor="x", agent_executor="y", daemon_executor="z")[0]
        == "x"
    )
    assert choose_executor(task(), c, None, agent_executor="y", daemon_executor="z")[0] == "y"
    # the agency default executor (claude) does not count
    assert choose_executor(task(), c, None, agent_executor="claude", daemon_executor="z")[0] == "z"
    assert choose_executor(task(), c, None) == ("codex", "dispatcher.executor")
    assert choose_executor(task(), cfg({"agent": {"executor": "nex"}}), None)[0] == "native"
    assert choose_executor(task(), cfg(), "codex:gpt-5")[0] == "codex"
    assert choose_executor(task(), cfg(), "openrouter:x")[0] == "native"
    assert choose_executor(task(), cfg(), "opus")[0] == "claude"


def test_model_chain() -> None:
    full = cfg(
        {
            "tiers": {"fast": "claude:haiku", "standard": "claude:sonnet", "premium": "claude:opus"},
            "dispatcher": {"model": "claude:disp"},
            "models": {"task_agent": {"model": "claude:ta"}, "default": {"model": "claude:def"}},
            "agent": {"model": "claude:agent"},
        }
    )
    assert choose_model(task(model="codex:x", tier="fast"), full)[:2] == ("codex:x", "task.model")
    assert choose_model(task(tier="fast"), full) == ("claude:haiku", "tiers.fast", "fast")
    kw = {
        "spawn_model": "m:spawn",
        "agent_model": "m:agent",
        "file_model": "m:file",
        "daemon_model": "m:daemon",
    }
    assert choose_model(task(), full, **kw)[0] == "m:spawn"
    kw.pop("spawn_model")
    assert choose_model(task(), full, **kw)[0] == "m:agent"
    kw.pop("agent_model")
    assert choose_model(task(), full, **kw)[0] == "m:file"
    kw.pop("file_model")
    assert choose_model(task(), full, **kw)[0] == "m:daemon"
    assert choose_model(task(), full)[:2] == ("claude:disp", "dispatcher.model")
    full.data["dispatcher"].pop("model")
    assert choose_model(task(), full)[0] == "claude:ta"
    full.data["models"].pop("task_agent")
    assert choose_model(task(), full)[0] == "claude:def"
    full.data["models"].pop("default")
    # a model equal to a tier's value names that tier
    assert choose_model(task(), full) == ("claude:agent", "agent.model", None)
    assert choose_model(task(), cfg())[0] == "claude:opus"
    routed = cfg({"tag_routing": [{"tag": "docs", "model": "claude:haiku"}]})
    assert choose_model(task(tags=["docs"]), routed)[:2] == ("claude:haiku", "tag_routing")


def test_timeout_forms() -> None:
    assert parse_timeout("90") == 90
    assert parse_timeout("30m") == 1800
    assert parse_timeout("2h") == 7200
    assert parse_timeout("1d") == 86400
    assert parse_timeout("0") is None
    assert parse_timeout("") is None
    assert parse_timeout(0) is None
    with pytest.raises(PlanError):
        parse_timeout("soon")


def test_plan_defaults_claude_full(env: tuple[str, str]) -> None:
    wg, path = env
    plan = plan_spawn(task(), cfg(), wg, path=path)
    assert (plan.executor, plan.kind, plan.model, plan.exec_mode) == (
        "claude",
        "claude",
        "claude:opus",
        "full",
    )
    assert plan.timeout_secs == 1800
    assert plan.log_line("t") == (
        "[dispatcher] t: SpawnPlan executor=claude (from model claude:opus), model=claude:opus (from default), "
        "endpoint=none"
    )


def test_plan_shell_has_no_model(env: tuple[str, str]) -> None:
    wg, path = env
    plan = plan_spawn(task(exec="echo hi", model="claude:opus"), cfg(), wg, path=path)
    assert (plan.executor, plan.model, plan.exec_mode) == ("shell", None, "shell")
    assert plan.log_line("t").endswith(
        "executor=shell (from task.exec), model=none (from none), endpoint=none"
    )


def test_plan_timeout_precedence(env: tuple[str, str]) -> None:
    wg, path = env
    Path(wg, "executors", "claude.toml").write_text('[executor]\ntype = "claude"\ntimeout = 120\n')
    c = cfg({"dispatcher": {"agent_timeout": "1h"}})
    assert plan_spawn(task(), c, wg, path=path).timeout_secs == 120
    assert plan_spawn(task(timeout="5m"), c, wg, path=path).timeout_secs == 300
    assert plan_spawn(task(timeout="5m"), c, wg, path=path, spawn_timeout="7s").timeout_secs == 7
    os.unlink(Path(wg, "executors", "claude.toml"))
    assert plan_spawn(task(), c, wg, path=path).timeout_secs == 3600
    assert plan_spawn(task(), cfg({"dispatcher": {"agent_timeout": 0}}), wg, path=path).timeout_secs is None


def test_plan_claude_with_foreign_model_becomes_native(env: tuple[str, str]) -> None:
    wg, path = env
    plan = plan_spawn(task(model="openrouter:qwen/qwen3"), cfg(), wg, daemon_executor="claude", path=path)
    assert plan.kind == "native" and plan.executor == "native"
    assert "non-Anthropic" in plan.executor_source


def test_plan_native_endpoint(env: tuple[str, str]) -> None:
    wg, path = env
    c = cfg(
        {
            "llm_endpoints": {
                "endpoints": [
                    {"name": "local", "url": "http://localhost:11434/v1"},
                    {
                        "name": "or",
                        "provider": "openrouter",
                        "url": "https://openrouter.ai/api/v1",
                        "api_key_env": "OPENROUTER_API_KEY",
                        "is_default": True,
                    },
                ]
            }
        }
    )
    plan = plan_spawn(task(model="openrouter:qwen/qwen3"), c, wg, path=path)
    assert (plan.kind, plan.provider, plan.endpoint_name) == ("native", "openrouter", "or")
    assert plan.log_line("t").endswith("endpoint=or")
    plan = plan_spawn(task(model="nex:qwen", endpoint="local"), c, wg, path=path)
    assert (plan.endpoint_name, plan.endpoint_url, plan.provider) == (
        "local",
        "http://localhost:11434/v1",
        None,
    )
    with pytest.raises(PlanError, match="Unknown endpoint 'nope'"):
        plan_spawn(task(model="nex:qwen", endpoint="nope"), c, wg, path=path)


def test_unknown_executor_and_files(env: tuple[str, str]) -> None:
    wg, path = env
    with pytest.raises(PlanError) as err:
        plan_spawn(task(), cfg(), wg, spawn_executor="mystery", path=path)
    assert err.value.message == "Unknown executor 'mystery'. Available: claude, codex, native, shell"
    Path(wg, "executors", "mine.toml").write_text(
        '[executor]\ntype = "command"\ncommand = "my-agent-bin"\nargs = ["--task", "{{task_id}}"]\n'
        'model = "claude:sonnet"\n'
    )
    plan = plan_spawn(task(), cfg(), wg, spawn_executor="mine", path=path)
    assert (plan.executor, plan.kind, plan.model, plan.model_source) == (
        "mine",
        "command",
        "claude:sonnet",
        "executor file",
    )
    with pytest.raises(PlanError, match=r"Available: claude, codex, native, shell, mine$"):
        plan_spawn(task(), cfg(), wg, spawn_executor="other", path=path)
    assert plan_spawn(task(), cfg(), wg, spawn_executor="nex", path=path).kind == "native"


def test_missing_program(env: tuple[str, str], tmp_path: Path) -> None:
    wg, _ = env
    with pytest.raises(ExecutorNotFound) as err:
        plan_spawn(task(), cfg(), wg, path=str(tmp_path / "empty"))
    assert err.value.message == "Executor 'claude' not found: 'claude' is not on PATH"
    g = Graph({"t": task(kind="task")})
    assert fail_missing_program(g, "t", err.value, 1_700_000_000 * 10**9)
    t = g.get("t")
    assert t is not None
    assert (t["status"], t["failure_class"], t["failure_reason"]) == (
        "failed",
        "spawn-failed",
        "Executor 'claude' not found: 'claude' is not on PATH",
    )


def test_executor_file_swaps_binary(env: tuple[str, str], tmp_path: Path) -> None:
    wg, _path = env
    fake = tmp_path / "bin" / "claude"
    Path(wg, "executors", "claude.toml").write_text(f'[executor]\ntype = "claude"\ncommand = "{fake}"\n')
    plan = plan_spawn(task(), cfg(), wg, path="/usr/bin:/bin")
    assert plan.program == str(fake)


def test_daemon_flags_versus_config(env: tuple[str, str]) -> None:
    """The settings hold a configured value or a start flag: only a flag ranks as the daemon's choice."""
    wg, path = env

    class S:
        executor = "claude"
        model: str | None = "claude:disp"

    c = cfg({"dispatcher": {"model": "claude:disp"}})
    plan, _ = plan_task(task(model=None), wg, S(), c, path=path)
    assert (plan.model, plan.model_source) == ("claude:disp", "dispatcher.model")
    s = S()
    s.model = "claude:haiku"
    plan, _ = plan_task(task(), wg, s, c, path=path)
    assert (plan.model, plan.model_source) == ("claude:haiku", "daemon --model")
    plan, _ = plan_task(task(model="claude:sonnet"), wg, s, c, path=path)
    assert plan.model == "claude:sonnet"
    s.executor = "codex"
    plan, _ = plan_task(task(), wg, s, c, path=path)
    assert (plan.executor, plan.executor_source) == ("codex", "daemon --executor")


def test_awaits_assignment() -> None:
    on, off = cfg(), cfg({"agency": {"auto_assign": False}})
    assert awaits_assignment(task(), on)
    assert not awaits_assignment(task(), off)
    assert not awaits_assignment(task(agent="abc"), on)
    assert not awaits_assignment(task(exec="true"), on)
    assert not awaits_assignment({"id": ".assign-t", "title": "x"}, on)
