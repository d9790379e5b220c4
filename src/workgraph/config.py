"""Configuration: global ``~/.wg/config.toml`` deep-merged with the project's (spec core 9).

Reading uses tomllib (imported only by commands that need configuration); writing uses tomlkit so
comments and key order survive (unlike the original, which rewrites the whole file).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULTS: dict[str, dict[str, Any]] = {
    "agent": {"model": "claude:opus", "interval": 10, "heartbeat_timeout": 5},
    "dispatcher": {
        "max_agents": 8,
        "poll_interval": 60,
        "max_coordinators": 16,
        "max_incomplete_retries": 3,
        "incomplete_retry_delay": "30s",
        "archive_retention_days": 7,
    },
    "agency": {},
    "guardrails": {
        "max_child_tasks_per_agent": 10,
        "max_task_depth": 8,
        "max_triage_attempts": 3,
        "decomp_guidance": True,
    },
    "tui": {},
    "viz": {"edge_color": "gray", "animations": "normal"},
    "project": {"default_skills": []},
    "models": {},
    "help": {"ordering": "usage"},
    "log": {"rotation_threshold": 10485760},
}


class ConfigError(Exception):
    def __init__(self, path: str, detail: str) -> None:
        super().__init__(f"Failed to parse config at {path}: {detail}")
        self.path, self.detail = path, detail


def global_config_path() -> str | None:
    home = os.environ.get("HOME", "")
    if not home:
        return None
    wg = os.path.join(home, ".wg")
    legacy = os.path.join(home, ".workgraph")
    if not os.path.isdir(wg) and os.path.isdir(legacy):
        return os.path.join(legacy, "config.toml")
    return os.path.join(wg, "config.toml")


def read_toml(path: str) -> dict[str, Any]:
    """A missing file is empty; a malformed one raises ConfigError."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, str(exc)) from None
    except OSError as exc:
        raise ConfigError(path, exc.strerror or str(exc)) from None


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _rename_coordinator(data: dict[str, Any]) -> dict[str, Any]:
    if "coordinator" in data:
        data = dict(data)
        legacy = data.pop("coordinator")
        if isinstance(legacy, dict):
            data["dispatcher"] = deep_merge(legacy, data.get("dispatcher", {}))
    disp = data.get("dispatcher")
    if isinstance(disp, dict) and "safety_interval" in disp and "poll_interval" not in disp:
        data["dispatcher"] = dict(disp, poll_interval=disp["safety_interval"])
    return data


class Config:
    """The effective configuration with each key's source (``global``, ``local``, ``default``)."""

    def __init__(
        self, global_data: dict[str, Any], local_data: dict[str, Any], paths: tuple[str | None, str]
    ):
        self.global_data = global_data
        self.local_data = local_data
        self.paths = paths
        g = _rename_coordinator(global_data)
        if not (local_data.get("llm_endpoints") or {}).get("inherit_global"):
            endpoints = g.get("llm_endpoints")
            if isinstance(endpoints, dict) and "endpoints" in endpoints:
                g = dict(g, llm_endpoints={k: v for k, v in endpoints.items() if k != "endpoints"})
        self.data = deep_merge(g, _rename_coordinator(local_data))

    def get(self, dotted: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                section, _, key = dotted.partition(".")
                return DEFAULTS.get(section, {}).get(key, default)
            node = node[part]
        return node

    def get_int(self, dotted: str, default: int) -> int:
        value = self.get(dotted, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else default

    def source(self, dotted: str) -> str:
        for data, name in (
            (_rename_coordinator(self.local_data), "local"),
            (_rename_coordinator(self.global_data), "global"),
        ):
            node: Any = data
            found = True
            for part in dotted.split("."):
                if not isinstance(node, dict) or part not in node:
                    found = False
                    break
                node = node[part]
            if found:
                return name
        return "default"

    def agency_flag(self, key: str) -> bool:
        """``agency.auto_assign``/``auto_evaluate``: true without an [agency] table, false when it lacks the key."""
        table = self.data.get("agency")
        if not isinstance(table, dict):
            return True
        return bool(table.get(key, False))


_WARNED: set[str] = set()


def deprecation_warnings(data: dict[str, Any], scope: str, path: str) -> list[str]:
    """Spec core 9.3 warnings for one file."""
    prefix = f"warning: ({scope}) " if scope else "warning: "
    out: list[str] = []
    for section in ("agent", "dispatcher", "coordinator"):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        if "executor" in table:
            value = table["executor"]
            extra = ""
            model = table.get("model")
            if isinstance(model, str):
                implied = handler_for_model(model)
                if implied != value:
                    extra = f" (and contradicts sibling model='{model}' which implies handler '{implied}')"
            out.append(
                f'{prefix}config key `{section}.executor = "{value}"` is deprecated{extra}; wg now derives the '
                'handler from the model spec\'s provider prefix (e.g. `model = "claude:opus"` → claude CLI, '
                '`model = "nex:qwen3-coder"` → nex). Remove the explicit `executor` key; use a '
                "`provider:model` value in `model` instead."
            )
        for key, value in table.items():
            if key.endswith("model") and isinstance(value, str):
                for old in ("local:", "oai-compat:"):
                    if value.startswith(old):
                        rest = value[len(old) :]
                        out.append(
                            f'{prefix}model spec `{section}.{key} = "{value}"` uses deprecated `{old}` prefix — use '
                            f"`nex:{rest}` instead (the `nex:` prefix matches the `wg nex` subcommand). Run "
                            "`wg migrate config` to rewrite automatically."
                        )
    if "coordinator" in data:
        out.append(f"warning: Deprecated: [coordinator] table is now [dispatcher]; please rename in {path}")
    return out


def handler_for_model(model: str) -> str:
    provider = model.split(":", 1)[0] if ":" in model else ""
    if provider in ("claude", "codex"):
        return provider
    return "native"


def load_config(wg_dir: str, *, quiet: bool = False, strict: bool = False) -> Config:
    """Effective config. Malformed files: ``strict`` raises ConfigError; else a warning and defaults."""
    gpath = global_config_path()
    lpath = os.path.join(wg_dir, "config.toml")
    datas: list[dict[str, Any]] = []
    for path in (gpath, lpath):
        if path is None:
            datas.append({})
            continue
        try:
            datas.append(read_toml(path))
        except ConfigError as exc:
            if strict:
                raise
            if not quiet:
                print(f"Warning: {exc}, using defaults", file=sys.stderr)
            datas.append({})
    cfg = Config(datas[0], datas[1], (gpath, lpath))
    if not quiet:
        both = bool(datas[0]) and bool(datas[1])
        for data, scope, path in ((datas[0], "global", gpath), (datas[1], "local", lpath)):
            if not data or path is None:
                continue
            for line in deprecation_warnings(data, scope if both else "", path):
                if line not in _WARNED:
                    _WARNED.add(line)
                    print(line, file=sys.stderr)
    return cfg
