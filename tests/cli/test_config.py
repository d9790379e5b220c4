"""`wg config` (spec core 9); acceptance check 26 of spec core 13."""

from __future__ import annotations

import tomllib

from tests.conftest import Project

EXECUTOR_WARNING = (
    'warning: (local) config key `agent.executor = "claude"` is deprecated; wg now derives the handler from '
    'the model spec\'s provider prefix (e.g. `model = "claude:opus"` → claude CLI, `model = "nex:qwen3-coder"` '
    "→ nex). Remove the explicit `executor` key; use a `provider:model` value in `model` instead."
)


def _global(p: Project, text: str) -> None:
    (p.home / ".wg").mkdir(exist_ok=True)
    (p.home / ".wg" / "config.toml").write_text(text)


def test_check_26_config(project: Project) -> None:
    p = project
    _global(p, '[agent]\nmodel = "codex:gpt-5"\n')
    local = p.wg / "config.toml"
    local.write_text("[dispatcher]\nmax_agents = 3\n")
    lines = p.ok("config", "--list").out.splitlines()
    assert 'agent.model = "codex:gpt-5"  (global)' in lines
    assert "dispatcher.max_agents = 3  (local)" in lines
    assert "dispatcher.poll_interval = 60  (default)" in lines
    p.ok("list")

    local.write_text('[dispatcher]\nmax_agents = 3\n\n[agent]\nexecutor = "claude"\n')
    r = p.ok("config")
    assert [line for line in r.err.splitlines() if line.startswith("warning: (local) config key")] == [
        EXECUTOR_WARNING
    ]
    p.ok("list")

    local.write_text(local.read_text() + "\n[coordinator]\nmax_coordinators = 2\n")
    r = p.ok("config")
    rename = f"warning: Deprecated: [coordinator] table is now [dispatcher]; please rename in {local}"
    assert r.err.splitlines().count(rename) == 1
    assert r.err.splitlines().count(EXECUTOR_WARNING) == 1
    assert "  max_coordinators = 2" in r.out.splitlines()
    p.ok("list")

    local.write_text(local.read_text() + "\nbroken = [\n")
    r = p.fails("config")
    assert f"Error: Failed to parse config at {local}: " in r.err
    r = p.ok("list")
    assert "Traceback" not in r.err


def test_show_layout_and_json(project: Project) -> None:
    out = project.ok("config").out.splitlines()
    assert out[:3] == ["WG Configuration", "========================", ""]
    headers = [line for line in out if line.startswith("[")]
    assert headers == [
        "[agent]",
        "[dispatcher]",
        "[agency]",
        "[guardrails]",
        "[tui]",
        "[viz]",
        "[project]",
        "[models]",
    ]
    assert '  model = "claude:opus"' in out
    assert "  auto_assign = false" in out  # wg init --no-agency
    data = project.ok("config", "--json").json()
    assert isinstance(data, dict)
    assert data["dispatcher"]["max_agents"] == 8
    assert data["agent"]["model"] == "claude:opus"
    assert data["agency"] == {"auto_assign": False, "auto_evaluate": False}


def test_set_keeps_comments_and_parses_scalars(project: Project) -> None:
    p = project
    local = p.wg / "config.toml"
    local.write_text("# my team settings\n[dispatcher]\nmax_agents = 3  # keep this low\n")
    r = p.ok("config", "set", "dispatcher.max_agents", "5")
    assert f"Set dispatcher.max_agents = 5 in {local}" in r.out
    p.ok("config", "set", "viz.animations", "off")
    p.ok("config", "set", "agency.auto_assign", "true")
    p.ok("config", "set", "dispatcher.poll_interval", "2.5")
    text = local.read_text()
    assert text.startswith("# my team settings\n[dispatcher]\nmax_agents = 5  # keep this low\n")
    data = tomllib.loads(text)
    assert data["viz"]["animations"] == "off"
    assert data["agency"]["auto_assign"] is True
    assert data["dispatcher"]["poll_interval"] == 2.5
    assert not (p.wg / "config.toml.tmp").exists()
    assert p.ok("config", "get", "dispatcher.max_agents").out == "5\n"
    assert p.ok("config", "get", "viz.animations").out == "off\n"
    assert p.ok("config", "get", "guardrails.max_task_depth").out == "8\n"
    p.fails("config", "get", "nosuch.key")


def test_write_flags_and_scopes(project: Project) -> None:
    p = project
    p.ok("config", "--max-agents", "4", "--auto-evaluate", "true", "--viz-edge-color", "blue")
    data = tomllib.loads((p.wg / "config.toml").read_text())
    assert data["dispatcher"]["max_agents"] == 4
    assert data["agency"]["auto_evaluate"] is True
    assert data["viz"]["edge_color"] == "blue"
    p.fails("config", "--max-agents", "many", code=2)
    p.ok("config", "set", "agent.model", "codex:gpt-5", "--global")
    assert tomllib.loads((p.home / ".wg" / "config.toml").read_text()) == {"agent": {"model": "codex:gpt-5"}}
    assert p.ok("config", "get", "agent.model").out == "claude:opus\n"  # the project wins
    assert p.ok("config", "get", "agent.model", "--global").out == "codex:gpt-5\n"
    lines = p.ok("config", "list", "--global").out.splitlines()
    assert lines == ['agent.model = "codex:gpt-5"  (global)']


def test_set_refuses_to_rewrite_a_broken_file(project: Project) -> None:
    local = project.wg / "config.toml"
    local.write_text("[dispatcher\nmax_agents = 3\n")
    r = project.fails("config", "set", "dispatcher.max_agents", "5")
    assert f"Failed to parse config at {local}" in r.err
    assert local.read_text() == "[dispatcher\nmax_agents = 3\n"


def test_deprecated_local_prefix_single_file(project: Project) -> None:
    (project.wg / "config.toml").write_text('[agent]\nmodel = "local:qwen3"\n')
    r = project.ok("config")
    assert r.err.splitlines() == [
        'warning: model spec `agent.model = "local:qwen3"` uses deprecated `local:` prefix — use `nex:qwen3` '
        "instead (the `nex:` prefix matches the `wg nex` subcommand). Run `wg migrate config` to rewrite "
        "automatically."
    ]
