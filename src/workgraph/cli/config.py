"""``wg config``: show, list with sources, get/set, and the write flags (spec core 9.4)."""

from __future__ import annotations

import os

from ..errors import NotInitialized, UsageError, WgError
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..config import Config
    from .args import Args
    from .context import Ctx

SHOW_SECTIONS = ("agent", "dispatcher", "agency", "guardrails", "tui", "viz", "project", "models")

# write flag dest -> dotted key (spec core 9.4; the others belong to service.md)
WRITE_FLAGS: dict[str, tuple[str, str, str]] = {
    # dest: (flag, key, kind)
    "max_agents": ("--max-agents", "dispatcher.max_agents", "int"),
    "max_coordinators": ("--max-coordinators", "dispatcher.max_coordinators", "int"),
    "poll_interval": ("--poll-interval", "dispatcher.poll_interval", "int"),
    "dispatcher_model": ("--dispatcher-model", "dispatcher.model", "str"),
    "auto_evaluate": ("--auto-evaluate", "agency.auto_evaluate", "bool"),
    "auto_assign": ("--auto-assign", "agency.auto_assign", "bool"),
    "max_child_tasks": ("--max-child-tasks", "guardrails.max_child_tasks_per_agent", "int"),
    "max_task_depth": ("--max-task-depth", "guardrails.max_task_depth", "int"),
    "viz_edge_color": ("--viz-edge-color", "viz.edge_color", "str"),
}


def _scope(a: Args) -> str:
    given = [s for s in ("global", "local", "merged") if a.get(s)]
    if len(given) > 1:
        raise UsageError(f"--{given[0]} cannot be used with --{given[1]}", "Usage: wg config [OPTIONS]")
    return given[0] if given else "merged"


def _local_path(ctx: Ctx) -> str:
    return os.path.join(ctx.wg_dir, "config.toml")


def _global_path() -> str:
    from ..config import global_config_path

    path = global_config_path()
    if path is None:
        raise WgError("--global requires a resolvable home directory but HOME is not set")
    return path


class _View:
    """What a read shows: values by dotted key and each key's source, for one scope."""

    def __init__(self, ctx: Ctx, scope: str) -> None:
        from ..config import DEFAULTS, effective, load_config, load_single

        self.scope = scope
        self.cfg: Config | None = None
        if scope == "merged":
            self.cfg = load_config(ctx.wg_dir, strict=True)
            self.data: dict[str, Any] = effective(self.cfg)
        else:
            self.data = load_single(_global_path() if scope == "global" else _local_path(ctx))
        self.defaults = DEFAULTS

    def source(self, dotted: str) -> str:
        if self.cfg is None:
            return self.scope
        return self.cfg.source(dotted)


def _section_lines(view: _View) -> list[str]:
    from ..config import flatten, format_value

    lines = ["WG Configuration", "========================", ""]
    for section in SHOW_SECTIONS:
        table = view.data.get(section)
        lines.append(f"[{section}]")
        if isinstance(table, dict):
            lines += [f"  {k} = {format_value(v)}" for k, v in flatten(table)]
        lines.append("")
    return lines


def _list_lines(view: _View) -> list[str]:
    from ..config import flatten, format_value

    return [f"{k} = {format_value(v)}  ({view.source(k)})" for k, v in flatten(view.data) if v != {}]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value.isoformat()) if hasattr(value, "isoformat") else str(value)


def _lookup(data: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _write(ctx: Ctx, a: Args, items: list[tuple[str, Any]]) -> int:
    from ..config import format_value, load_config, set_keys

    if a.get("global"):
        path = _global_path()
    else:
        if a.get("merged"):
            raise UsageError("--merged cannot be used with a write; use --local or --global")
        if not os.path.isdir(ctx.wg_dir):
            raise NotInitialized()
        path = _local_path(ctx)
    set_keys(path, items)
    if ctx.json:
        ctx.emit_json({"path": path, "changed": True, "set": {k: _jsonable(v) for k, v in items}})
        return 0
    load_config(ctx.wg_dir)  # deprecation warnings of the files as they now stand
    for key, value in items:
        ctx.out(f"Set {key} = {format_value(value)} in {path}")
    return 0


def _parse_bool(flag_name: str, raw: str) -> bool:
    low = raw.lower()
    if low in ("true", "yes", "1", "on"):
        return True
    if low in ("false", "no", "0", "off"):
        return False
    raise UsageError(
        f"invalid value '{raw}' for '{flag_name} <BOOL>' (possible values: true, false)",
        "Usage: wg config [OPTIONS]",
    )


def run_config(ctx: Ctx, a: Args) -> int:
    items: list[tuple[str, Any]] = []
    for dest, (flag_name, key, kind) in WRITE_FLAGS.items():
        if dest in a.given:
            raw = a[dest]
            items.append((key, _parse_bool(flag_name, raw) if kind == "bool" else raw))
    if items:
        if a.get("list") or a.get("show"):
            raise UsageError("--list cannot be used with a write flag", "Usage: wg config [OPTIONS]")
        return _write(ctx, a, items)
    view = _View(ctx, _scope(a))
    if ctx.json:
        ctx.emit_json(_jsonable(view.data))
    elif a.get("list"):
        ctx.out(*_list_lines(view))
    else:
        ctx.out(*_section_lines(view))
    return 0


def run_list(ctx: Ctx, a: Args) -> int:
    view = _View(ctx, _scope(a))
    if ctx.json:
        from ..config import flatten

        ctx.emit_json(
            [{"key": k, "value": _jsonable(v), "source": view.source(k)} for k, v in flatten(view.data)]
        )
    else:
        ctx.out(*_list_lines(view))
    return 0


def run_get(ctx: Ctx, a: Args) -> int:
    from ..config import format_value

    view = _View(ctx, _scope(a))
    found, value = _lookup(view.data, a.key)
    if not found:
        raise WgError(f"Config key '{a.key}' is not set")
    if ctx.json:
        ctx.emit_json({"key": a.key, "value": _jsonable(value), "source": view.source(a.key)})
    else:
        ctx.out(value if isinstance(value, str) else format_value(value))
    return 0


def run_set(ctx: Ctx, a: Args) -> int:
    from ..config import parse_scalar

    key = a.key.strip()
    if not key or any(not part for part in key.split(".")):
        raise UsageError(f"invalid config key '{a.key}'", "Usage: wg config set <KEY> <VALUE>")
    return _write(ctx, a, [(key, parse_scalar(a.value))])


_SCOPE_OPTS = [
    flag("--merged", help="Effective config: global merged with project (default)"),
    flag("--global", help="Only the global config (~/.wg/config.toml); writes go there"),
    flag("--local", help="Only the project config ($WG/config.toml); writes go there (default)"),
]

COMMANDS = {
    "config": Cmd(
        "config",
        "Show or change configuration",
        subs=[
            Cmd(
                "show",
                "Show the configuration by section",
                run_config,
                opts=[
                    flag("--show", help="Show the configuration (default)"),
                    flag("--list", help="List every key with its source (global, local, default)"),
                    *_SCOPE_OPTS,
                    *[
                        Opt(
                            flag_name,
                            dest=dest,
                            help=f"Set {key}",
                            metavar=kind.upper(),
                            type=int if kind == "int" else None,
                        )
                        for dest, (flag_name, key, kind) in WRITE_FLAGS.items()
                    ],
                ],
            ),
            Cmd(
                "get",
                "Print one key's effective value",
                run_get,
                [Arg("key", help="Dotted key")],
                _SCOPE_OPTS,
            ),
            Cmd(
                "set",
                "Set one key (TOML integer, float, boolean, else string)",
                run_set,
                [Arg("key", help="Dotted key, e.g. dispatcher.max_agents"), Arg("value", help="Value")],
                _SCOPE_OPTS,
            ),
            Cmd("list", "List every key with its source", run_list, opts=_SCOPE_OPTS),
        ],
        default_sub="show",
    ),
}
