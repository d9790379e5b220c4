"""What the reaper keeps of one agent exit: the ``Exit`` being completed and the archive of its directory."""

from __future__ import annotations

import json
import os
import shutil

from ..timeutil import format_compact_utc, now_ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..graph import Graph
    from .dispatcher import Dispatcher


class Exit:
    """One agent exit being completed: its outcome as a pure graph ``change``, or a ``run`` of its own."""

    __slots__ = ("agent_id", "change", "code", "entry", "executor", "klass", "meta", "run", "tid")

    def __init__(
        self, agent_id: str, entry: dict[str, Any], code: int, tid: str, executor: str, meta: dict[str, Any]
    ) -> None:
        self.agent_id, self.entry, self.code, self.tid, self.executor, self.meta = (
            agent_id, entry, code, tid, executor, meta,
        )  # fmt: skip
        self.change: Callable[[Graph], str] | None = None
        self.run: Callable[[], str] = lambda: "failed"
        self.klass: str | None = None


def archive(d: Dispatcher, agent_id: str, tid: str, status: str) -> None:
    """Copy the agent directory to ``log/agents/<task>/<UTC>/``; for a finished task also write
    ``output/<task>/log.json`` and ``artifacts.json`` (spec service 5.4 "always")."""
    wg = d.paths.wg_dir
    src = os.path.join(d.paths.agents, agent_id)
    if not tid or not os.path.isdir(src):
        return
    try:
        base = os.path.join(wg, "log", "agents", tid, format_compact_utc(now_ns()))
        dest, k = base, 1
        while os.path.exists(dest):
            k += 1
            dest = f"{base}-{k}"
        shutil.copytree(src, dest)
        if status in ("done", "pending-eval", "failed", "failed-pending-eval"):
            task = d.store.load().get(tid) or {}
            out = os.path.join(wg, "output", tid)
            os.makedirs(out, exist_ok=True)
            for name, value in (
                ("log.json", task.get("log") or []),
                ("artifacts.json", task.get("artifacts") or []),
            ):
                with open(os.path.join(out, name), "w", encoding="utf-8") as fh:
                    json.dump(value, fh, indent=2, ensure_ascii=False)
    except OSError as exc:
        d.log("WARN", f"[dispatcher] could not archive {agent_id}: {exc}")
