"""What every command gets: the resolved ``$WG``, the clock, output helpers and the store."""

from __future__ import annotations

import os
import sys

from ..errors import NotInitialized
from ..timeutil import now_ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..config import Config
    from ..store.jsonl import JsonlStore


class Ctx:
    def __init__(self, dir_flag: str | None, json_mode: bool, command: str) -> None:
        self.dir_flag = dir_flag
        self.json = json_mode
        self.command = command
        self.now = now_ns()
        self._wg_dir: str | None = None
        self._store: JsonlStore | None = None
        self._config: Config | None = None
        self.notify_kind: str | None = None  # set by mutating commands: graph_changed / kick_dispatcher

    # -- environment --------------------------------------------------------------------------
    @property
    def wg_dir(self) -> str:
        if self._wg_dir is None:
            from ..paths import resolve_wg_dir

            self._wg_dir = resolve_wg_dir(self.dir_flag)[0]
        return self._wg_dir

    @property
    def store(self) -> JsonlStore:
        if self._store is None:
            from ..store.jsonl import JsonlStore

            store = JsonlStore(self.wg_dir)
            store.freeze_gc = True  # one command per process
            if not store.exists():
                raise NotInitialized()
            self._store = store
        return self._store

    @property
    def config(self) -> Config:
        if self._config is None:
            from ..config import load_config

            self._config = load_config(self.wg_dir)
        return self._config

    @staticmethod
    def env(name: str) -> str:
        return os.environ.get(name, "")

    @property
    def agent_context(self) -> bool:
        return bool(self.env("WG_TASK_ID") or self.env("WG_AGENT_ID"))

    @property
    def user(self) -> str:
        return self.env("WG_USER") or self.env("USER") or "unknown"

    # -- output -------------------------------------------------------------------------------
    @property
    def colour(self) -> bool:
        """Spec core 1.2: colour on a TTY or with ``CLICOLOR_FORCE``, never with ``NO_COLOR``."""
        if self.env("NO_COLOR"):
            return False
        if self.env("CLICOLOR_FORCE") not in ("", "0"):
            return True
        try:
            return sys.stdout.isatty()
        except (AttributeError, ValueError):
            return False

    @staticmethod
    def out(*lines: str) -> None:
        for line in lines:
            sys.stdout.write(line + "\n")

    @staticmethod
    def err(*lines: str) -> None:
        for line in lines:
            sys.stderr.write(line + "\n")

    def emit_json(self, value: Any) -> None:
        import json

        sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")

    def mutated(self, op: str, task_id: str | None = None, *, kick: bool = False, **fields: Any) -> None:
        """Record an operation and remember to nudge the dispatcher once the command ends."""
        from ..oplog import append_operation

        # Spec core 2 keys are timestamp, op, task_id, actor, user, detail: any other field a caller
        # passes (agent=, reason=, ...) belongs in detail rather than being dropped.
        actor = fields.pop("actor", None)
        user = fields.pop("user", None) or self.user
        detail = fields.pop("detail", None)
        extra = {k: v for k, v in fields.items() if v is not None}
        if extra:
            detail = (
                {**detail, **extra} if isinstance(detail, dict) else {**extra} if detail is None else detail
            )
        append_operation(self.wg_dir, op, self.now, task_id=task_id, actor=actor, user=user, detail=detail)
        if kick or self.notify_kind is None:
            self.notify_kind = "kick_dispatcher" if kick else "graph_changed"
