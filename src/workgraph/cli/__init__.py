"""The ``wg`` command line. Commands live in modules by group and are imported only when invoked."""

from __future__ import annotations

import os
import sys

from ..errors import UsageError, WgError

# name -> (module under workgraph.cli, one-line help). Aliases map to the same module.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "Initialize a WG project in this directory"),
    "which": ("init", "Print the resolved WG directory and why"),
    "add": ("tasks", "Add a task"),
    "edit": ("edit", "Edit a task"),
    "show": ("show", "Show a task"),
    "list": ("views", "List tasks"),
    "ready": ("views", "List ready tasks"),
    "claim": ("tasks", "Claim a task (in-progress)"),
    "unclaim": ("tasks", "Release a claim"),
    "done": ("tasks", "Mark a task done"),
    "fail": ("tasks", "Mark a task failed"),
    "abandon": ("tasks", "Abandon a task"),
    "retry": ("tasks", "Reopen a failed or incomplete task"),
    "reset": ("edit", "Reset tasks (and their closure) to open"),
    "pause": ("edit", "Pause a task"),
    "resume": ("edit", "Resume a paused task and its dependents"),
    "publish": ("edit", "Publish a draft task and its dependents"),
    "add-dep": ("edit", "Add a dependency"),
    "add-after": ("edit", "Add a dependency (alias of add-dep)"),
    "rm-dep": ("edit", "Remove a dependency"),
    "log": ("records", "Add to or show a task's log"),
    "artifact": ("records", "Register, remove or list artifacts"),
    "msg": ("records", "Task message queues"),
    "status": ("status", "Service, agents and task counts"),
    "check": ("status", "Check the graph for problems"),
    "viz": ("status", "Draw the graph as text"),
    "why-blocked": ("status", "Explain why a task is not ready"),
    "archive": ("maintenance", "Move finished tasks to archive.jsonl"),
    "gc": ("maintenance", "Remove failed/abandoned tasks nothing depends on"),
    "incomplete": ("maintenance", "Mark a task incomplete (retry later)"),
    "wait": ("maintenance", "Park an in-progress task until a condition holds"),
    "config": ("config", "Show or change configuration"),
    "html": ("html", "Export the graph as a static HTML site"),
    "service": ("service", "Manage the dispatcher daemon"),
    "agency": ("agency", "Agency store: init, stats"),
    "role": ("agency", "Manage roles (skills + desired outcome)"),
    "tradeoff": ("agency", "Manage tradeoffs"),
    "motivation": ("agency", "Manage tradeoffs (legacy alias of tradeoff)"),
    "evolve": ("agency", "Evolve the agency (not supported yet)"),
    "agent": ("agency_agents", "Manage agency agents (identities)"),
    "assign": ("agency_agents", "Assign an agency agent to a task"),
    "evaluate": ("agency_eval", "Evaluate tasks and record scores"),
    "land": ("worktree", "Land a task's worktree onto its target branch"),
    "worktree": ("worktree", "Agent worktrees: list, archive, gc"),
    "agents": ("agents", "List agent processes"),
    "kill": ("agents", "Stop an agent and release its task"),
    "spawn": ("agents", "Start an agent on a task now"),
    "heartbeat": ("agents", "Record an agent heartbeat"),
    "reclaim": ("agents", "Move an in-progress task to another actor"),
    "sweep": ("agents", "Reconcile dead agents and stale claims once"),
    "tui": ("tui", "Interactive terminal view of tasks and agents"),
    "chat": ("chat", "Chat agents: create, list, send, archive, ..."),
    "migrate": ("chat_admin", "Migrations of legacy data (chat-rename)"),
    "claude-handler": ("chat_handler", "Chat handler for the claude CLI (run by the chat supervisor)"),
    "codex-handler": ("chat_handler", "Chat handler for the codex CLI (run by the chat supervisor)"),
    "spawn-task": ("chat_handler", "Run a chat task's handler in this process (chat supervisor)"),
}
ORDER = list(COMMANDS)


def _version() -> str:
    from .. import __version__

    return f"wg {__version__}"


HELP_FLAGS = ("-h", "--help", "--help-all", "-a", "--alphabetical")


def _usage_counts(wg_dir: str) -> dict[str, int]:
    """How often each command was run, from the tail of ``usage.log``."""
    counts: dict[str, int] = {}
    try:
        with open(os.path.join(wg_dir, "usage.log"), "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 262_144))
            data = fh.read().decode("utf-8", "replace")
    except OSError:
        return counts
    for line in data.splitlines():
        parts = line.split(" ", 1)
        if len(parts) == 2 and parts[1] in COMMANDS:
            counts[parts[1]] = counts.get(parts[1], 0) + 1
    return counts


def _help_order(alphabetical: bool, dir_flag: str | None) -> list[str]:
    """``-a`` sorts by name; otherwise ``[help] ordering``: ``usage`` (default), ``alphabetical``, ``curated``."""
    if alphabetical:
        return sorted(ORDER)
    ordering, counts = "usage", {}
    try:
        from ..paths import resolve_wg_dir

        wg_dir = resolve_wg_dir(dir_flag)[0]
        if os.path.isdir(wg_dir):
            from ..config import load_config

            ordering = str(load_config(wg_dir, quiet=True).get("help.ordering", "usage"))
            counts = _usage_counts(wg_dir)
    except Exception:  # help must always print
        pass
    if ordering == "alphabetical":
        return sorted(ORDER)
    if ordering != "usage" or not counts:
        return list(ORDER)
    rank = {name: i for i, name in enumerate(ORDER)}
    return sorted(ORDER, key=lambda n: (-counts.get(n, 0), rank[n]))


def _subcommand_lines(name: str) -> list[str]:
    """``--help-all``: a group's subcommands under it (imports that command's module)."""
    import importlib

    try:
        cmd = importlib.import_module(f"{__name__}.{COMMANDS[name][0]}").COMMANDS[name]
    except Exception:  # an unavailable optional module still gets its one-line entry
        return []
    return [f"    {sub.name:<16} {sub.help}" for sub in getattr(cmd, "subs", {}).values()]


def _top_help(all_cmds: bool = False, alphabetical: bool = False, dir_flag: str | None = None) -> str:
    lines = ["wg — the work OS for human/AI teams", "", "Usage: wg [OPTIONS] <COMMAND>", "", "Commands:"]
    for name in _help_order(alphabetical, dir_flag):
        lines.append(f"  {name:<14} {COMMANDS[name][1]}")
        if all_cmds:
            lines += _subcommand_lines(name)
    lines += [
        "",
        "Options:",
        "  --dir <PATH>   Use this .wg directory (or project root)",
        "  --json         Machine-readable output",
        "  -h, --help     Print help",
        "  --help-all     Show every command with its subcommands",
        "  -a, --alphabetical  Sort help alphabetically",
        "  --version      Print the version",
    ]
    return "\n".join(lines)


def _split_globals(argv: list[str]) -> tuple[str | None, bool, set[str], list[str]]:
    """Global flags given before the command name: ``--dir``, ``--json`` and the top-level help flags."""
    dir_flag: str | None = None
    json_mode = False
    top: set[str] = set()
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--dir" and i + 1 < len(argv):
            dir_flag = argv[i + 1]
            i += 2
        elif tok.startswith("--dir="):
            dir_flag = tok[6:]
            i += 1
        elif tok == "--json":
            json_mode = True
            i += 1
        elif tok in HELP_FLAGS or tok in ("--version", "-V"):
            top.add(tok)
            i += 1
        else:
            break
    return dir_flag, json_mode, top, argv[i:]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    dir_flag, json_mode, top, rest = _split_globals(args)
    if top & {"--version", "-V"}:
        sys.stdout.write(_version() + "\n")
        return 0
    if not rest or top:
        alphabetical = bool(top & {"-a", "--alphabetical"})
        sys.stdout.write(_top_help("--help-all" in top, alphabetical, dir_flag) + "\n")
        return 0 if top else 2
    name = rest[0]
    entry = COMMANDS.get(name)
    if entry is None:
        sys.stderr.write(f"Usage: wg [OPTIONS] <COMMAND>\nError: unrecognized subcommand '{name}'\n")
        return 2
    import importlib

    try:
        module = importlib.import_module(f"{__name__}.{entry[0]}")
    except ImportError as exc:  # a missing optional dependency: one line, not a traceback
        sys.stderr.write(f"Error: 'wg {name}' is unavailable: {exc}\n")
        return 1
    return run_command(module.COMMANDS[name], name, rest[1:], dir_flag, json_mode)


def _take_globals(
    tokens: list[str], dir_flag: str | None, json_mode: bool
) -> tuple[str | None, bool, list[str]]:
    """Global flags between a group's name and its subcommand (``wg msg --json list a``)."""
    while tokens:
        if tokens[0] == "--json":
            json_mode, tokens = True, tokens[1:]
        elif tokens[0] == "--dir" and len(tokens) > 1:
            dir_flag, tokens = tokens[1], tokens[2:]
        elif tokens[0].startswith("--dir="):
            dir_flag, tokens = tokens[0][6:], tokens[1:]
        else:
            break
    return dir_flag, json_mode, tokens


def run_command(cmd: object, name: str, tokens: list[str], dir_flag: str | None, json_mode: bool) -> int:
    from .args import Cmd, parse
    from .context import Ctx

    assert isinstance(cmd, Cmd)
    path = name
    ctx: Ctx | None = None
    try:
        while cmd.subs:
            dir_flag, json_mode, tokens = _take_globals(tokens, dir_flag, json_mode)
            if tokens and tokens[0] in cmd.subs:
                cmd = cmd.subs[tokens[0]]
                path += " " + tokens[0]
                tokens = tokens[1:]
            elif cmd.default_sub and not (tokens and tokens[0] in ("-h", "--help")):
                cmd = cmd.subs[cmd.default_sub]
            else:
                if tokens and tokens[0] in ("-h", "--help"):
                    sys.stdout.write(cmd.help_text(path) + "\n")
                    return 0
                raise UsageError(
                    "a subcommand is required" if not tokens else f"unrecognized subcommand '{tokens[0]}'",
                    cmd.usage(path),
                )
        parsed = parse(cmd, tokens, path)
        if parsed.get("help"):
            sys.stdout.write(cmd.help_text(path) + "\n")
            return 0
        ctx = Ctx(parsed.get("dir") or dir_flag, bool(parsed.get("json")) or json_mode, path)
        if ctx.json and not cmd.json:
            ctx.err(f"Warning: --json flag is not supported by 'wg {path}' and will be ignored")
            ctx.json = False
        assert cmd.run is not None
        code = cmd.run(ctx, parsed) or 0
        return code
    except UsageError as exc:
        if exc.usage:
            sys.stderr.write(exc.usage + "\n")
        sys.stderr.write(f"Error: {exc.message}\n")
        return exc.exit_code
    except WgError as exc:
        _report(exc.message, ctx, json_mode)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # a bug: one line; _report adds the traceback when WG_DEBUG asks for it
        _report(f"internal error: {type(exc).__name__}: {exc}", ctx, json_mode)
        return 1
    finally:
        if ctx is not None:
            _after(ctx, name)
        else:  # help and usage errors are invocations too (spec core 2, usage log)
            _log_usage_only(dir_flag, name)


def _log_usage_only(dir_flag: str | None, name: str) -> None:
    try:
        from ..paths import resolve_wg_dir

        wg_dir = resolve_wg_dir(dir_flag)[0]
    except Exception:
        return
    if os.path.isdir(wg_dir):
        from ..oplog import append_usage
        from ..timeutil import now_ns

        warning = append_usage(wg_dir, name, now_ns())
        if warning:
            sys.stderr.write(warning + "\n")


def _report(message: str, ctx: object, json_mode: bool) -> None:
    from .context import Ctx

    sys.stderr.write(f"Error: {message}\n")
    if os.environ.get("WG_DEBUG") and sys.exc_info()[0] is not None:
        import traceback

        traceback.print_exc()
    if (isinstance(ctx, Ctx) and ctx.json) or json_mode:
        import json

        sys.stdout.write(json.dumps({"error": message}, ensure_ascii=False) + "\n")


def _after(ctx: object, name: str) -> None:
    from .context import Ctx

    assert isinstance(ctx, Ctx)
    try:
        wg_dir = ctx.wg_dir
    except Exception:
        return
    if not os.path.isdir(wg_dir):
        return
    from ..oplog import append_usage

    warning = append_usage(wg_dir, name, ctx.now)
    if warning:
        ctx.err(warning)
    if ctx.notify_kind:
        from ..notify import notify_daemon

        notify_daemon(wg_dir, ctx.notify_kind)
