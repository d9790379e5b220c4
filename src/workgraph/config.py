"""Configuration: global ``~/.wg/config.toml`` deep-merged with the project's (spec core 9).

Reading uses tomllib (imported only by commands that need configuration); writing uses tomlkit so
comments and key order survive (unlike the original, which rewrites the whole file).
"""

from __future__ import annotations

import os
import sys

from .errors import WgError

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


class ConfigError(WgError):
    """A config file that does not parse (``wg config`` exits 1 with it; other commands warn)."""

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

_EXECUTOR_TAIL = (
    '; wg now derives the handler from the model spec\'s provider prefix (e.g. `model = "claude:opus"` → '
    'claude CLI, `model = "nex:qwen3-coder"` → nex). Remove the explicit `executor` key; use a '
    "`provider:model` value in `model` instead."
)


def _model_specs(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(dotted key, value) of every model spec a file sets: ``*.model`` keys, ``[models.*]``, ``[tiers]``."""
    found: list[tuple[str, str]] = []
    for section in ("agent", "dispatcher", "coordinator"):
        table = data.get(section)
        if isinstance(table, dict):
            found += [
                (f"{section}.{k}", v) for k, v in table.items() if k.endswith("model") and isinstance(v, str)
            ]
    models = data.get("models")
    if isinstance(models, dict):
        for role, table in models.items():
            if isinstance(table, dict) and isinstance(table.get("model"), str):
                found.append((f"models.{role}.model", table["model"]))
            elif isinstance(table, str):
                found.append((f"models.{role}", table))
    tiers = data.get("tiers")
    if isinstance(tiers, dict):
        found += [(f"tiers.{k}", v) for k, v in tiers.items() if isinstance(v, str)]
    return found


def deprecation_warnings(data: dict[str, Any], scope: str, path: str) -> list[str]:
    """Spec core 9.3 warnings for one file; ``scope`` is ``global``/``local``, or empty for a single file."""
    prefix = f"warning: ({scope}) " if scope else "warning: "
    out: list[str] = []
    for section in ("agent", "dispatcher", "coordinator"):
        table = data.get(section)
        if not isinstance(table, dict) or "executor" not in table:
            continue
        value = table["executor"]
        extra = ""
        model = table.get("model")
        if isinstance(model, str) and model:
            implied = handler_for_model(model)
            if implied != _canonical_handler(str(value)):
                extra = f" (and contradicts sibling model='{model}' which implies handler '{implied}')"
        out.append(
            f"{prefix}config key `{section}.executor = {_quote(value)}` is deprecated{extra}{_EXECUTOR_TAIL}"
        )
    for key, value in _model_specs(data):
        for old in ("local:", "oai-compat:"):
            if value.startswith(old):
                rest = value[len(old) :]
                out.append(
                    f'{prefix}model spec `{key} = "{value}"` uses deprecated `{old}` prefix — use '
                    f"`nex:{rest}` instead (the `nex:` prefix matches the `wg nex` subcommand). Run "
                    "`wg migrate config` to rewrite automatically."
                )
    if "coordinator" in data:
        out.append(f"warning: Deprecated: [coordinator] table is now [dispatcher]; please rename in {path}")
    return out


def _quote(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else format_value(value)


def _canonical_handler(name: str) -> str:
    return "native" if name == "nex" else name


def handler_for_model(model: str) -> str:
    """``claude:``/bare claude aliases → claude, ``codex:`` → codex, any other provider → native."""
    if ":" not in model:
        return "claude" if model in ("claude", "opus", "sonnet", "haiku") else "native"
    provider = model.split(":", 1)[0]
    if provider in ("claude", "codex"):
        return provider
    return "native"


def emit_warnings(lines: list[str]) -> None:
    """Print each deprecation line once per process."""
    for line in lines:
        if line not in _WARNED:
            _WARNED.add(line)
            print(line, file=sys.stderr)


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
                print(f"Warning: {exc.message}, using defaults", file=sys.stderr)
            datas.append({})
    cfg = Config(datas[0], datas[1], (gpath, lpath))
    if not quiet:
        both = all(p is not None and os.path.isfile(p) for p in (gpath, lpath))
        for data, scope, path in ((datas[0], "global", gpath), (datas[1], "local", lpath)):
            if data and path is not None:
                emit_warnings(deprecation_warnings(data, scope if both else "", path))
    return cfg


def load_single(path: str, *, quiet: bool = False) -> dict[str, Any]:
    """One file (``wg config --global``/``--local``); raises ConfigError when it does not parse."""
    data = read_toml(path)
    if not quiet:
        emit_warnings(deprecation_warnings(data, "", path))
    return data


# -- presentation and writes -----------------------------------------------------------------------


def format_value(value: Any) -> str:
    """A value as TOML would write it (inline forms for arrays and tables)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {format_value(v)}" for k, v in value.items()) + " }"
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)


def flatten(data: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Dotted ``(key, value)`` pairs; tables recurse, arrays of tables stay whole."""
    out: list[tuple[str, Any]] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out += flatten(value, dotted + ".")
        else:
            out.append((dotted, value))
    return out


def effective(cfg: Config) -> dict[str, Any]:
    """Defaults deep-merged with the effective data, agency flags resolved (``wg config --json``)."""
    merged = deep_merge(DEFAULTS, cfg.data)
    agency = dict(merged.get("agency") or {})
    for key in ("auto_assign", "auto_evaluate"):
        agency[key] = cfg.agency_flag(key)
    merged["agency"] = agency
    return merged


def parse_scalar(raw: str) -> Any:
    """``wg config set`` values: a TOML integer, float or boolean, else the text as a string."""
    import tomllib

    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except (tomllib.TOMLDecodeError, KeyError):
        return raw
    return value if isinstance(value, bool | int | float) else raw


def set_keys(path: str, items: list[tuple[str, Any]]) -> None:
    """Set dotted keys in one file, keeping its comments and order; ``<file>.tmp`` + rename.

    A file that does not parse is never rewritten (ConfigError).
    """
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        text = ""
    read_toml(path)  # the strict parser decides whether the file is valid
    try:
        doc = tomlkit.parse(text)
    except TOMLKitError as exc:
        raise ConfigError(path, str(exc)) from None
    for dotted, value in items:
        parts = dotted.split(".")
        node: Any = doc
        for part in parts[:-1]:
            if part not in node:
                node[part] = tomlkit.table()
            node = node[part]
            if not isinstance(node, dict):
                raise WgError(f"Cannot set '{dotted}': '{part}' is not a table")
        node[parts[-1]] = value
    write_atomic(path, tomlkit.dumps(doc))


def write_atomic(path: str, text: str) -> None:
    from .atomic import write_text_atomic

    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    write_text_atomic(path, text)


# -- wg init routes (spec core 10) ----------------------------------------------------------------

ROUTE_NAMES = ("openrouter", "claude-cli", "codex-cli", "local", "nex-custom")
OPENROUTER_URL = "https://openrouter.ai/api/v1"
LOCAL_URL = "http://localhost:11434/v1"
_CLI_ROUTES: dict[str, tuple[str, str, tuple[str, str, str]]] = {
    "claude-cli": ("claude", "claude:opus", ("claude:haiku", "claude:sonnet", "claude:opus")),
    "codex-cli": ("codex", "codex:gpt-5", ("codex:gpt-5-mini", "codex:gpt-5", "codex:o1-pro")),
}


class RoutePlan:
    """What ``wg init`` writes for a route: executor, ``[agent] model``, tiers, optional endpoint."""

    def __init__(
        self,
        route: str,
        executor: str,
        model: str | None,
        tiers: tuple[str, str, str] | None,
        endpoint: dict[str, Any] | None = None,
        dispatcher_executor: str | None = None,
    ) -> None:
        self.route, self.executor, self.model, self.tiers = route, executor, model, tiers
        self.endpoint, self.dispatcher_executor = endpoint, dispatcher_executor

    def toml(self, agency: bool | None) -> str:
        """config.toml text with only the keys this plan decides (``agency`` None: no [agency] keys)."""
        blocks: list[str] = []
        if self.model:
            blocks.append(f"[agent]\nmodel = {format_value(self.model)}\n")
        if self.dispatcher_executor:
            blocks.append(f"[dispatcher]\nexecutor = {format_value(self.dispatcher_executor)}\n")
        if self.tiers:
            fast, standard, premium = (format_value(t) for t in self.tiers)
            blocks.append(f"[tiers]\nfast = {fast}\nstandard = {standard}\npremium = {premium}\n")
        if self.endpoint:
            body = "".join(f"{k} = {format_value(v)}\n" for k, v in self.endpoint.items())
            blocks.append(f"[[llm_endpoints.endpoints]]\n{body}")
        if agency is not None:
            flag_text = format_value(agency)
            blocks.append(f"[agency]\nauto_assign = {flag_text}\nauto_evaluate = {flag_text}\n")
        return "\n".join(blocks)


def _native_model(model: str, provider: str) -> str:
    # A bare name would be read as a claude model (service.md 6.1), so native routes get a provider prefix.
    return model if ":" in model else f"{provider}:{model}"


def plan_route(route: str, model: str | None, endpoint: str | None) -> RoutePlan:
    """The route table of spec core 10. Raises UsageError for an unknown route or a missing -m/-e."""
    from .errors import UsageError

    usage = "Usage: wg init [OPTIONS]"
    if route in _CLI_ROUTES:
        executor, default_model, tiers = _CLI_ROUTES[route]
        return RoutePlan(route, executor, model or default_model, tiers)
    if route not in ROUTE_NAMES:
        raise UsageError(f"Unknown route '{route}'. Valid routes: {', '.join(ROUTE_NAMES)}", usage)
    if not model:
        raise UsageError(f"route '{route}' requires a model: pass -m/--model <MODEL>", usage)
    if route == "nex-custom" and not endpoint:
        raise UsageError(f"route '{route}' requires an endpoint: pass -e/--endpoint <URL>", usage)
    provider = "openrouter" if route == "openrouter" else "nex"
    spec = _native_model(model, provider)
    ep: dict[str, Any]
    if route == "openrouter":
        ep = {
            "name": "openrouter",
            "provider": "openrouter",
            "url": endpoint or OPENROUTER_URL,
            "api_key_env": "OPENROUTER_API_KEY",
            "is_default": True,
        }
    else:
        ep = {"name": route, "url": endpoint or LOCAL_URL, "is_default": True}
    return RoutePlan(route, "native", spec, (spec, spec, spec), ep)


def route_for_model(model: str, endpoint: str | None) -> str:
    """The route a model spec's provider implies (``wg init -m X`` without --route, or the global model)."""
    provider = model.split(":", 1)[0] if ":" in model else ""
    if provider == "codex":
        return "codex-cli"
    if provider == "openrouter":
        return "openrouter"
    if provider in ("nex", "local", "oai-compat", "native", "ollama", "vllm", "llamacpp"):
        return "nex-custom" if endpoint else "local"
    return "claude-cli"
