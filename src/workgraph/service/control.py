"""IPC ``freeze``, ``thaw`` and ``reconfigure`` (spec service 3.5, 4)."""

from __future__ import annotations

import signal
import time

from .ipc import InvalidRequest
from .procs import kill_group, safe_group
from .registry import entry_live

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .daemon import Daemon


def freeze(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    d = daemon.dispatcher
    if d.frozen:
        return {"ok": True, "status": "already_frozen", "frozen_pids": daemon.frozen_pids}
    now_s = time.time()
    frozen: list[int] = []
    failed: list[int] = []
    for agent_id, entry in d.registry.load()["agents"].items():
        if not isinstance(entry, dict) or entry.get("status") not in ("working", "idle"):
            continue
        pid = entry.get("pid")
        if not isinstance(pid, int) or not entry_live(entry, now_s):
            continue
        pgid = safe_group(entry)
        if pgid is None:
            failed.append(pid)
            continue
        kill_group(pgid, signal.SIGSTOP)
        d.registry.update(agent_id, status="frozen")
        frozen.append(pid)
    d.frozen = True
    d.paused = True
    d.pause_reason = "frozen"
    daemon.frozen_pids = frozen
    daemon._save_dispatcher_state()
    daemon.log("INFO", f"Froze {len(frozen)} agent(s); dispatch paused")
    return {
        "ok": True,
        "status": "frozen",
        "frozen_count": len(frozen),
        "frozen_pids": frozen,
        "failed_pids": failed,
    }


def thaw(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    d = daemon.dispatcher
    if not d.frozen:
        return {"ok": True, "status": "not_frozen"}
    now_s = time.time()
    thawed: list[int] = []
    dead: list[int] = []
    failed: list[int] = []
    for agent_id, entry in d.registry.load()["agents"].items():
        if not isinstance(entry, dict) or entry.get("status") != "frozen":
            continue
        pid = entry.get("pid")
        if not isinstance(pid, int):
            continue
        if not entry_live(entry, now_s):
            dead.append(pid)  # the next tick handles it as a death (5.5)
            continue
        pgid = safe_group(entry)
        if pgid is None:
            failed.append(pid)
            continue
        kill_group(pgid, signal.SIGCONT)
        d.registry.update(agent_id, status="working")
        thawed.append(pid)
    d.frozen = False
    d.paused = False
    d.pause_reason = None
    daemon.frozen_pids = []
    daemon._save_dispatcher_state()
    daemon.log("INFO", f"Thawed {len(thawed)} agent(s); dispatch resumed")
    daemon.kick()
    return {
        "ok": True,
        "status": "thawed",
        "thawed_count": len(thawed),
        "thawed_pids": thawed,
        "dead_pids": dead,
        "failed_pids": failed,
    }


_FIELDS: dict[str, type | tuple[type, ...]] = {
    "max_agents": int,
    "executor": str,
    "poll_interval": (int, float),
    "model": str,
    "profile": str,
}


def reconfigure(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    from ..config import ConfigError
    from .daemon import settings_from

    given: dict[str, Any] = {}
    for key, kind in _FIELDS.items():
        value = req.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, kind):
            raise InvalidRequest(f"field '{key}' has the wrong type")
        given[key] = value
    given.pop("profile", None)
    d = daemon.dispatcher
    if given:
        daemon.overrides.update(given)
        source = "flags"
    else:
        source = "config.toml"
    try:
        fresh = settings_from(daemon.paths.wg_dir, daemon.overrides)
    except ConfigError as exc:
        raise InvalidRequest(f"config error: {exc}") from None
    for key, value in vars(fresh).items():
        setattr(d.settings, key, value)
    s = d.settings
    daemon._save_dispatcher_state()
    daemon.log(
        "INFO",
        f"Reconfigured from {source}: max_agents={s.max_agents}, executor={s.executor}, "
        f"poll_interval={s.poll_interval}s, model={s.model or 'default'}",
    )
    daemon.kick()
    return {
        "ok": True,
        "status": "reconfigured",
        "source": source,
        "config": {
            "max_agents": s.max_agents,
            "executor": s.executor,
            "poll_interval": s.poll_interval,
            "model": s.model,
        },
    }


CONTROL: dict[str, Callable[[Daemon, dict[str, Any]], dict[str, Any]]] = {
    "freeze": freeze,
    "thaw": thaw,
    "reconfigure": reconfigure,
}
