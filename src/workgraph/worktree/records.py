"""Agent facts the worktree code reads and writes: ``$WG/agents/agent-N/metadata.json`` and the registry."""

from __future__ import annotations

import os
import re

from ..service.files import read_json, write_json_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

AGENT_DIR = re.compile(r"^agent-(\d+)$")
LIVE_STATUSES = ("starting", "working", "idle", "frozen")
WORKTREES_DIR = ".wg-worktrees"


def agent_number(agent_id: str) -> int:
    m = AGENT_DIR.match(agent_id)
    return int(m.group(1)) if m else -1


def metadata_path(wg_dir: str, agent_id: str) -> str:
    return os.path.join(wg_dir, "agents", agent_id, "metadata.json")


def read_metadata(wg_dir: str, agent_id: str) -> dict[str, Any]:
    return read_json(metadata_path(wg_dir, agent_id)) or {}


def update_metadata(wg_dir: str, agent_id: str, **fields: Any) -> dict[str, Any]:
    """Merge ``fields`` into the agent's metadata (None deletes a key); atomic replace, fsynced."""
    path = metadata_path(wg_dir, agent_id)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    data = read_json(path) or {}
    for key, value in fields.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    write_json_atomic(path, data, pretty=True)
    return data


def registry_agents(wg_dir: str) -> dict[str, dict[str, Any]]:
    data = read_json(os.path.join(wg_dir, "service", "registry.json")) or {}
    agents = data.get("agents")
    return {k: v for k, v in agents.items() if isinstance(v, dict)} if isinstance(agents, dict) else {}


def entry_live(entry: dict[str, Any]) -> bool:
    """A registry entry whose agent may still run (spec service 1); prefers the service's own rule."""
    import time

    try:
        from ..service.registry import entry_live as service_live

        return bool(service_live(entry, time.time()))
    except ImportError:  # pragma: no cover - the service package is always there in a full install
        pass
    status = entry.get("status")
    if status not in LIVE_STATUSES:
        return False
    pid = entry.get("pid")
    if not isinstance(pid, int):
        return bool(status == "starting")
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def all_agents(wg_dir: str) -> dict[str, dict[str, Any]]:
    """Every known agent: metadata merged over its registry entry (metadata wins for worktree facts)."""
    found: dict[str, dict[str, Any]] = {}
    for agent_id, entry in registry_agents(wg_dir).items():
        found[agent_id] = {"registry": entry, **{k: v for k, v in entry.items() if k != "status"}}
    try:
        names = os.listdir(os.path.join(wg_dir, "agents"))
    except OSError:
        names = []
    for name in names:
        if AGENT_DIR.match(name):
            meta = read_json(metadata_path(wg_dir, name))
            if meta is not None:
                found.setdefault(name, {}).update(meta)
    for agent_id, rec in found.items():
        rec.setdefault("registry", None)
        rec["agent_id"] = agent_id
    return found


def task_agents(wg_dir: str, task_id: str) -> list[dict[str, Any]]:
    """The task's agents, newest (highest N) first."""
    recs = [r for r in all_agents(wg_dir).values() if r.get("task_id") == task_id]
    return sorted(recs, key=lambda r: agent_number(str(r["agent_id"])), reverse=True)


def live_agents_using(wg_dir: str, worktree: str) -> list[str]:
    """Agents whose live (or starting) registry entry names ``worktree`` — the lease of spec 3."""
    real = os.path.realpath(worktree)
    out: list[str] = []
    for agent_id, entry in registry_agents(wg_dir).items():
        path = entry.get("worktree_path")
        if isinstance(path, str) and os.path.realpath(path) == real and entry_live(entry):
            out.append(agent_id)
    return out


def owner_of(wg_dir: str, worktree: str) -> dict[str, Any] | None:
    """The newest agent record naming ``worktree`` (the agent that owns it now)."""
    real = os.path.realpath(worktree)
    best: dict[str, Any] | None = None
    for rec in all_agents(wg_dir).values():
        path = rec.get("worktree_path")
        if isinstance(path, str) and os.path.realpath(path) == real:
            if best is None or agent_number(str(rec["agent_id"])) > agent_number(str(best["agent_id"])):
                best = rec
    return best
