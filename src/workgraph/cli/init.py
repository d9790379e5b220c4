"""``wg init`` (spec core 10) and ``wg which`` (spec core 1.3)."""

from __future__ import annotations

import os

from ..errors import UsageError, WgError
from .args import Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..config import RoutePlan
    from .args import Args
    from .context import Ctx

USAGE = "Usage: wg init [OPTIONS]"

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

CLAUDE_EXAMPLE = """# Copy to claude.toml to change how wg runs the claude CLI (service.md 6.3).
[executor]
type = "claude"
command = "claude"          # an absolute path selects another binary
# model = "claude:sonnet"   # default model for tasks that name none
# timeout = 1800            # seconds; 0 = no timeout
# env = { MY_VAR = "{{task_id}}" }
"""

CODEX_EXAMPLE = """# Copy to codex.toml to change how wg runs the codex CLI (service.md 6.3).
[executor]
type = "codex"
command = "codex"           # an absolute path selects another binary
# model = "codex:gpt-5"     # default model for tasks that name none
# timeout = 1800            # seconds; 0 = no timeout
"""

MARKER = "<!-- WG-managed -->"
GUIDE_BLOCK = f"""{MARKER}
# WG (project-specific guide)

This project tracks its work with **wg**, a task graph stored in `.wg/`. This block is the
**layer-2** project guide: it only says how this project uses wg. The general guide is layer 1.

- `wg agent-guide` — how agents work with wg (claim, log, done, fail); read it before your first task.
- `wg quickstart` — the everyday commands in one page.
- `wg service start` — start the dispatcher so ready tasks are handed to agents.

Useful at any time: `wg ready` (what can start now), `wg show <id>` (one task), `wg list`.
Record progress with `wg log <id> "..."` and finish with `wg done <id>` (or `wg fail <id> --reason ...`).
Add project-specific conventions below this block; wg never rewrites it once present.
"""

# -x <E>: the spec used in the deprecation hint, and the route it maps to (None: the shell path).
EXECUTOR_HINTS: dict[str, tuple[str, str | None]] = {
    "claude": ("claude:opus", "claude-cli"),
    "codex": ("codex:gpt-5", "codex-cli"),
    "nex": ("nex:qwen3-coder -e <ENDPOINT>", "nex-custom"),
    "native": ("nex:qwen3-coder -e <ENDPOINT>", "nex-custom"),
    "shell": ("shell  # exec_mode, not a model — keep the route", None),
}


def _target_dir(ctx: Ctx, a: Args) -> str:
    """``~/.wg`` with --global, else --dir / $WG_DIR, else ``./.wg``; never walks up."""
    from ..paths import NAMES, _from_given

    if a.get("global"):
        home = os.environ.get("HOME", "")
        if not home:
            raise WgError("--global requires a resolvable home directory but HOME is not set")
        return os.path.abspath(os.path.join(home, ".wg"))
    given = ctx.dir_flag or os.environ.get("WG_DIR", "")
    if given:
        return os.path.abspath(_from_given(given))
    return os.path.abspath(NAMES[0])


def _check_free(target: str) -> None:
    from ..paths import NAMES

    if os.path.exists(os.path.join(target, "graph.jsonl")):
        raise WgError(f"WG already initialized at {target}")
    parent, base = os.path.split(target)
    if base in NAMES:
        sibling = os.path.join(parent, NAMES[1] if base == NAMES[0] else NAMES[0])
        if os.path.isfile(os.path.join(sibling, "graph.jsonl")) or os.path.isdir(sibling):
            raise WgError(
                f"WG already initialized at {sibling} (legacy dir name). Either use it as-is, or "
                "remove/rename it before running `wg init`."
            )


def _choose_plan(ctx: Ctx, a: Args) -> RoutePlan:
    from ..config import RoutePlan, global_config_path, plan_route, read_toml, route_for_model

    model, endpoint = a.get("model"), a.get("endpoint")
    executor = a.get("executor")
    if executor is not None:
        if executor not in EXECUTOR_HINTS:
            raise UsageError(
                f"Unknown executor '{executor}'. Valid executors: {', '.join(EXECUTOR_HINTS)}", USAGE
            )
        hint, route = EXECUTOR_HINTS[executor]
        ctx.err(
            f"warning: `--executor {executor}` (`-x {executor}`) is deprecated; pass a `provider:model` spec "
            f"instead (e.g. `wg init -m {hint}`). The handler is derived from the model's provider prefix."
        )
        if route is None:
            return RoutePlan("shell", "shell", model, None, dispatcher_executor="shell")
        return plan_route(route, model, endpoint)
    if a.get("route") is not None:
        return plan_route(a.route, model, endpoint)
    if model:
        return plan_route(route_for_model(model, endpoint), model, endpoint)
    gpath = global_config_path()
    global_model = None
    if gpath is not None and not a.get("global"):
        try:
            agent = read_toml(gpath).get("agent")
        except WgError:
            agent = None  # a broken global config must not stop init; later commands warn about it
        if isinstance(agent, dict) and isinstance(agent.get("model"), str):
            global_model = agent["model"]
    if global_model:
        route = route_for_model(global_model, endpoint)
        # A CLI route keeps its own default model; a native route needs the global model as its -m.
        return plan_route(route, None if route.endswith("-cli") else global_model, endpoint)
    return plan_route("claude-cli", None, endpoint)


def _agency_flag(plan: RoutePlan, no_agency: bool) -> bool | None:
    if plan.route == "shell":
        return None  # the shell path writes no [agency] keys, so both default to true
    # step 6 (the agency bootstrap) turns both on again when it runs
    return not no_agency


def _append_gitignore(path: str, entry: str, accept: tuple[str, ...]) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    if any(line.strip() in accept for line in text.splitlines()):
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text + entry + "\n")
    return True


def _write_guide(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(GUIDE_BLOCK)
        return f"Created {path} with WG directives"
    if MARKER in text:
        return f"{path} already configured"
    if text and not text.endswith("\n"):
        text += "\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text + ("\n" if text else "") + GUIDE_BLOCK)
    return f"Updated {path} with WG directives"


def _write_file(path: str, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def run_init(ctx: Ctx, a: Args) -> int:
    from ..config import global_config_path

    target = _target_dir(ctx, a)
    plan = _choose_plan(ctx, a)
    agency = _agency_flag(plan, bool(a.no_agency))
    config_text = plan.toml(agency)
    _check_free(target)
    if a.dry_run:
        if ctx.json:
            ctx.emit_json(
                {"dir": target, "route": plan.route, "executor": plan.executor, "config_written": False,
                 "gitignore_updated": False, "dry_run": True, "config": config_text}
            )  # fmt: skip
            return 0
        ctx.out(f"# wg init --dry-run (route: {plan.route})", f"# Would create: {target}")
        ctx.out("# Would write the following config.toml:", "---", config_text.rstrip("\n"))
        return 0
    ctx._wg_dir = target  # the usage log goes to the new directory, not to one found by walking up
    lines: list[str] = []
    # 1. the directory
    os.makedirs(target, exist_ok=True)
    # 2. the .gitignore of the directory holding $WG (not for the global ~/.wg: home is no repository)
    updated = False
    project_root = os.path.dirname(target)
    if not a.get("global"):
        root_ignore = os.path.join(project_root, ".gitignore")
        name = os.path.basename(target)
        if _append_gitignore(root_ignore, name, (name,)):
            lines.append(f"Added {name} to .gitignore")
            updated = True
        if _append_gitignore(root_ignore, ".wg-worktrees/", (".wg-worktrees", ".wg-worktrees/")):
            lines.append("Added .wg-worktrees/ to .gitignore")
            updated = True
    # 3. graph, executor examples, $WG/.gitignore
    _write_file(os.path.join(target, "graph.jsonl"), "")
    os.makedirs(os.path.join(target, "executors"), exist_ok=True)
    _write_file(os.path.join(target, "executors", "claude.toml.example"), CLAUDE_EXAMPLE)
    _write_file(os.path.join(target, "executors", "codex.toml.example"), CODEX_EXAMPLE)
    _write_file(os.path.join(target, ".gitignore"), WG_GITIGNORE)
    # 4.
    lines.append(f"Initialized WG at {target}")
    # 5. config.toml
    from ..config import write_atomic

    write_atomic(os.path.join(target, "config.toml"), config_text)
    if plan.route == "shell":
        lines.append('Set coordinator.executor = "shell"')
    else:
        if a.get("model"):
            lines.append(f"Model: {plan.model}")
        if a.get("endpoint") and plan.endpoint:
            lines.append(f"Endpoint: {plan.endpoint['url']}")
        tiers = "/".join(plan.tiers or ())
        lines.append(
            f"Wrote {target}/config.toml: route={plan.route}, executor={plan.executor}, tiers={tiers}"
        )
    # 6. the agency bootstrap: exactly `wg agency init` (agency.md 3.1)
    if not a.no_agency:
        from ..agency.bootstrap import run_bootstrap

        lines += run_bootstrap(target, ctx.now)[0]
    gpath = global_config_path()
    if gpath is None or not os.path.isfile(gpath):
        lines += ["", "No global config found. Run `wg setup` to configure defaults."]
    # 7. the layer-2 guide in CLAUDE.md and AGENTS.md
    if not a.get("global"):
        for fname in ("CLAUDE.md", "AGENTS.md"):
            lines += ["", _write_guide(os.path.join(project_root, fname))]
    if ctx.json:
        ctx.emit_json(
            {"dir": target, "route": plan.route, "executor": plan.executor, "config_written": True,
             "gitignore_updated": updated}
        )  # fmt: skip
    else:
        ctx.out(*lines)
    return 0


def run_which(ctx: Ctx, a: Args) -> int:
    from ..paths import resolve_wg_dir

    path, reason = resolve_wg_dir(ctx.dir_flag)
    exists = os.path.isdir(path)
    if ctx.json:
        ctx.emit_json({"dir": path, "reason": reason, "exists": exists})
        return 0
    ctx.out(path, f"  reason: {reason}")
    if not exists:
        ctx.out("  note: this directory does not exist yet")
    return 0


COMMANDS = {
    "init": Cmd(
        "init",
        "Initialize a WG project in this directory",
        run_init,
        opts=[
            flag("--no-agency", help="Skip the agency bootstrap (auto_assign/auto_evaluate off)"),
            flag("--global", help="Initialize ~/.wg instead of ./.wg"),
            Opt("-m", "--model", help="Model spec provider:model (e.g. claude:opus, codex:gpt-5)"),
            Opt("-e", "--endpoint", help="Endpoint URL for native routes", metavar="URL"),
            Opt("--route", help="openrouter, claude-cli, codex-cli, local, nex-custom"),
            flag("--dry-run", help="Print what would be written, write nothing"),
            Opt("-x", "--executor", help="Deprecated: use -m provider:model", metavar="E", hidden=True),
        ],
        conflicts=[("--route", "--executor")],
    ),
    "which": Cmd("which", "Print the resolved WG directory and why", run_which),
}
