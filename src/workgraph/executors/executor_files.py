"""Executor files ``$WG/executors/<name>.toml`` and their ``{{placeholder}}`` templating (spec service 6.3)."""

from __future__ import annotations

import os
import re

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

KINDS = ("claude", "codex", "native", "shell", "command")
_PLACEHOLDER = re.compile(r"\{\{([a-z_]+)\}\}")


class ExecutorFileError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ExecutorFile:
    """One parsed ``[executor]`` table; ``kind`` is claude, codex, native, shell or command."""

    def __init__(self, name: str, path: str, table: dict[str, Any]) -> None:
        self.name = name
        self.path = path
        kind = str(table.get("type") or ("command" if table.get("command") else name))
        kind = {"custom": "command", "nex": "native"}.get(kind, kind)
        if kind not in KINDS:
            raise ExecutorFileError(f"{path}: unknown executor type '{kind}'")
        self.kind = kind
        command = table.get("command")
        self.command = str(command) if isinstance(command, str) and command else None
        if self.kind == "command" and not self.command:
            raise ExecutorFileError(f"{path}: type 'command' needs a 'command'")
        args = table.get("args") or []
        self.args = [str(a) for a in args] if isinstance(args, list) else []
        stdin = table.get("stdin")
        self.stdin = str(stdin) if stdin in ("prompt", "none") else None
        env = table.get("env") or {}
        self.env = {str(k): str(v) for k, v in env.items()} if isinstance(env, dict) else {}
        wd = table.get("working_dir")
        self.working_dir = str(wd) if isinstance(wd, str) and wd else None
        self.timeout: object = table.get("timeout")
        model = table.get("model")
        self.model = str(model) if isinstance(model, str) and model else None
        template = table.get("prompt_template")
        if isinstance(template, dict):
            template = template.get("template")
        self.prompt_template = str(template) if isinstance(template, str) and template else None


def executors_dir(wg_dir: str) -> str:
    return os.path.join(wg_dir, "executors")


def configured_names(wg_dir: str) -> list[str]:
    try:
        names = os.listdir(executors_dir(wg_dir))
    except OSError:
        return []
    return sorted(n[: -len(".toml")] for n in names if n.endswith(".toml"))


def load_executor_file(wg_dir: str, name: str) -> ExecutorFile | None:
    """The file for ``name``, or None when there is none; raises ExecutorFileError when it is malformed."""
    import tomllib

    if not name or "/" in name or name.startswith("."):
        return None
    path = os.path.join(executors_dir(wg_dir), f"{name}.toml")
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ExecutorFileError(f"Failed to parse executor file {path}: {exc}") from None
    table = data.get("executor")
    if not isinstance(table, dict):
        table = data
    return ExecutorFile(name, path, table)


def render_template(text: str, values: dict[str, str]) -> str:
    """Replace known ``{{name}}`` placeholders as plain text; unknown ones stay as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)
