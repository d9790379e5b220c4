"""`wg init` (spec core 10) and `wg which` (1.3); acceptance checks 1 and 2 of spec core 13."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.conftest import Project

WG_GITIGNORE = """# WG gitignore
# Agent output logs (can be large)
agents/

# Service files
service/

# Never commit credentials (Matrix config should be in ~/.config/workgraph/)
matrix.toml
*.secret
*.credentials
"""


def test_check_1_init(bare_project: Project, tmp_path: Path) -> None:
    p = bare_project
    r = p.ok("init", "--no-agency")
    wg = (p.root / ".wg").resolve()
    assert f"Initialized WG at {wg}" in r.out.splitlines()
    assert p.graph_path.read_bytes() == b""
    assert (p.wg / ".gitignore").read_text() == WG_GITIGNORE
    root_lines = (p.root / ".gitignore").read_text().splitlines()
    assert ".wg" in root_lines and ".wg-worktrees/" in root_lines
    claude, agents = (p.root / "CLAUDE.md").read_text(), (p.root / "AGENTS.md").read_text()
    assert claude == agents
    assert "wg agent-guide" in claude and "layer-2" in claude
    assert claude.startswith("<!-- WG-managed -->\n# WG (project-specific guide)")
    assert (p.wg / "executors" / "claude.toml.example").is_file()
    assert (p.wg / "executors" / "codex.toml.example").is_file()
    before = p.graph_bytes()
    r = p.fails("init", "--no-agency")
    assert f"Error: WG already initialized at {wg}" in r.err
    assert p.graph_bytes() == before
    empty = tmp_path / "empty"
    empty.mkdir()
    r = p.fails("list", cwd=empty)
    assert "Error: WG not initialized. Run 'wg init' first." in r.err
    assert not (empty / ".wg").exists()


def test_init_stdout_lines_in_order(bare_project: Project) -> None:
    r = bare_project.ok("init", "--no-agency")
    wg = (bare_project.root / ".wg").resolve()
    root = wg.parent
    assert r.out.splitlines() == [
        "Added .wg to .gitignore",
        "Added .wg-worktrees/ to .gitignore",
        f"Initialized WG at {wg}",
        f"Wrote {wg}/config.toml: route=claude-cli, executor=claude, tiers=claude:haiku/claude:sonnet/claude:opus",
        "",
        "No global config found. Run `wg setup` to configure defaults.",
        "",
        f"Created {root}/CLAUDE.md with WG directives",
        "",
        f"Created {root}/AGENTS.md with WG directives",
    ]
    cfg = tomllib.loads((wg / "config.toml").read_text())
    assert cfg == {
        "agent": {"model": "claude:opus"},
        "tiers": {"fast": "claude:haiku", "standard": "claude:sonnet", "premium": "claude:opus"},
        "agency": {"auto_assign": False, "auto_evaluate": False},
    }


def test_init_without_no_agency_turns_agency_flags_on(bare_project: Project) -> None:
    bare_project.ok("init")
    cfg = tomllib.loads((bare_project.wg / "config.toml").read_text())
    assert cfg["agency"] == {"auto_assign": True, "auto_evaluate": True}


def test_init_keeps_existing_files(bare_project: Project) -> None:
    p = bare_project
    (p.root / ".gitignore").write_text("node_modules/\n.wg-worktrees")  # no final newline
    (p.root / "CLAUDE.md").write_text("# Mine\n")
    (p.root / "AGENTS.md").write_text("<!-- WG-managed -->\nalready here\n")
    r = p.ok("init", "--no-agency")
    assert (p.root / ".gitignore").read_text() == "node_modules/\n.wg-worktrees\n.wg\n"
    assert "Added .wg-worktrees/ to .gitignore" not in r.out
    claude = (p.root / "CLAUDE.md").read_text()
    assert claude.startswith("# Mine\n\n<!-- WG-managed -->\n")
    assert (p.root / "AGENTS.md").read_text() == "<!-- WG-managed -->\nalready here\n"
    root = p.root.resolve()
    assert f"Updated {root}/CLAUDE.md with WG directives" in r.out.splitlines()
    assert f"{root}/AGENTS.md already configured" in r.out.splitlines()


def test_dry_run_writes_nothing(bare_project: Project) -> None:
    p = bare_project
    r = p.ok("init", "--dry-run", "--route", "codex-cli")
    lines = r.out.splitlines()
    assert lines[:4] == [
        "# wg init --dry-run (route: codex-cli)",
        f"# Would create: {(p.root / '.wg').resolve()}",
        "# Would write the following config.toml:",
        "---",
    ]
    cfg = tomllib.loads("\n".join(lines[4:]))
    assert cfg["agent"] == {"model": "codex:gpt-5"}
    assert cfg["tiers"] == {"fast": "codex:gpt-5-mini", "standard": "codex:gpt-5", "premium": "codex:o1-pro"}
    assert sorted(x.name for x in p.root.iterdir()) == [".git"]


def test_routes(bare_project: Project) -> None:
    p = bare_project
    r = p.fails("init", "--route", "openrouter", code=2)
    assert "openrouter" in r.err and "--model" in r.err
    r = p.fails("init", "--route", "nex-custom", "-m", "qwen3-coder", code=2)
    assert "nex-custom" in r.err and "--endpoint" in r.err
    r = p.fails("init", "--route", "bogus", code=2)
    assert (
        "Unknown route 'bogus'. Valid routes: openrouter, claude-cli, codex-cli, local, nex-custom" in r.err
    )
    assert not p.wg.exists()
    r = p.ok("init", "--no-agency", "--route", "openrouter", "-m", "openrouter:anthropic/claude-sonnet-4")
    wg = p.wg.resolve()
    tiers = "/".join(["openrouter:anthropic/claude-sonnet-4"] * 3)
    assert f"Wrote {wg}/config.toml: route=openrouter, executor=native, tiers={tiers}" in r.out
    cfg = tomllib.loads((p.wg / "config.toml").read_text())
    assert cfg["agent"] == {"model": "openrouter:anthropic/claude-sonnet-4"}
    (endpoint,) = cfg["llm_endpoints"]["endpoints"]
    assert endpoint["url"] == "https://openrouter.ai/api/v1"
    assert endpoint["api_key_env"] == "OPENROUTER_API_KEY"
    assert "executor" not in cfg["agent"] and "dispatcher" not in cfg


def test_local_route_default_endpoint_and_model_replacing(bare_project: Project, tmp_path: Path) -> None:
    p = bare_project
    r = p.ok("init", "--route", "local", "-m", "nex:qwen3", "--dry-run")
    assert 'url = "http://localhost:11434/v1"' in r.out
    r = p.ok("init", "--route", "claude-cli", "-m", "claude:sonnet", "--dry-run")
    assert tomllib.loads(r.out.split("---\n", 1)[1])["agent"]["model"] == "claude:sonnet"
    # no flags: the route follows the global agent.model provider
    (p.home / ".wg").mkdir()
    (p.home / ".wg" / "config.toml").write_text('[agent]\nmodel = "codex:gpt-5"\n')
    r = p.ok("init", "--dry-run")
    assert "# wg init --dry-run (route: codex-cli)" in r.out


def test_deprecated_executor_flag(bare_project: Project) -> None:
    p = bare_project
    r = p.ok("init", "-x", "shell")
    assert (
        "warning: `--executor shell` (`-x shell`) is deprecated; pass a `provider:model` spec instead "
        "(e.g. `wg init -m shell  # exec_mode, not a model — keep the route`). The handler is derived "
        "from the model's provider prefix."
    ) in r.err
    assert 'Set coordinator.executor = "shell"' in r.out.splitlines()
    data = tomllib.loads((p.wg / "config.toml").read_text())
    assert data["dispatcher"] == {"executor": "shell"}
    # step 5 writes no [agency] keys on this path; the agency bootstrap (step 6, `wg agency init`) sets them
    assert data["agency"] == {"auto_assign": True, "auto_evaluate": True}
    r = p.run("init", "-x", "codex", "--dry-run", "--dir", str(p.root / "other"))
    assert "(e.g. `wg init -m codex:gpt-5`)" in r.err


def test_legacy_sibling_and_global_errors(bare_project: Project) -> None:
    p = bare_project
    (p.root / ".workgraph").mkdir()
    (p.root / ".workgraph" / "graph.jsonl").touch()
    r = p.fails("init", "--dir", str(p.root / ".wg"))
    legacy = (p.root / ".workgraph").resolve()
    assert (
        f"Error: WG already initialized at {legacy} (legacy dir name). Either use it as-is, or "
        "remove/rename it before running `wg init`."
    ) in r.err
    del p.env["HOME"]
    r = p.fails("init", "--global")
    assert "Error: --global requires a resolvable home directory but HOME is not set" in r.err


def test_global_init_and_json(bare_project: Project) -> None:
    p = bare_project
    r = p.ok("--json", "init", "--global", "--no-agency")
    assert r.json() == {
        "dir": str((p.home / ".wg").resolve()),
        "route": "claude-cli",
        "executor": "claude",
        "config_written": True,
        "gitignore_updated": False,
    }
    assert (p.home / ".wg" / "graph.jsonl").is_file()
    r = p.ok("init", "--no-agency", "--json")
    assert r.json()["gitignore_updated"] is True  # type: ignore[index]


def test_check_2_which_resolution(project: Project, tmp_path: Path) -> None:
    p = project
    sub = p.root / "a" / "b"
    sub.mkdir(parents=True)
    wg = (p.root / ".wg").resolve()
    r = p.ok("which", cwd=sub)
    assert r.out.splitlines() == [str(wg), f"  reason: walked up from cwd and found {wg}"]
    other = tmp_path / "other"
    other.mkdir()
    p.ok("init", "--no-agency", cwd=other)
    r = p.ok("which", cwd=sub, env={"WG_DIR": str(other)})
    assert r.out.splitlines() == [str(other / ".wg"), f"  reason: WG_DIR env var ({other})"]
    r = p.ok("which", "--dir", str(p.root), cwd=sub, env={"WG_DIR": str(other)})
    assert r.out.splitlines() == [str(wg), "  reason: --dir flag"]


def test_which_notes_missing_dir(bare_project: Project) -> None:
    r = bare_project.ok("which")
    assert r.out.splitlines() == [
        str((bare_project.root / ".wg").resolve()),
        "  reason: default ./.wg (does not exist yet — run `wg init` to create)",
        "  note: this directory does not exist yet",
    ]
