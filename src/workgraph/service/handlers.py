"""IPC requests about agents and tasks (spec service 4): ``spawn``, ``agents``, ``kill``, ``heartbeat``,
``query_task``, ``send_message``. ``Daemon.handle`` looks a command up in ``HANDLERS``.
"""

from __future__ import annotations

import time

from ..errors import WgError
from ..timeutil import now_ns
from .agents import agent_rows, kill_agent, record_heartbeat, spawn_claim
from .ipc import InvalidRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .daemon import Daemon

    Handler = Callable[[Daemon, dict[str, Any]], dict[str, Any]]


def _str(req: dict[str, Any], name: str, *, required: bool = True, default: str | None = None) -> str | None:
    value = req.get(name)
    if value is None:
        if required:
            raise InvalidRequest(f"missing field '{name}'")
        return default
    if not isinstance(value, str):
        raise InvalidRequest(f"field '{name}' must be a string")
    return value


def _bool(req: dict[str, Any], name: str) -> bool:
    value = req.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"field '{name}' must be a boolean")
    return value


def _detach(daemon: Daemon) -> Callable[[str], Any]:
    """Take a child away from the dispatcher's reaper: the killer, not the reaper, settles its task."""
    d = daemon.dispatcher

    def detach(agent_id: str) -> Any:
        children = getattr(d, "children", None)
        lock = getattr(d, "children_lock", None)
        if not isinstance(children, dict) or lock is None:
            return None
        with lock:
            return children.pop(agent_id, None)

    return detach


def handle_agents(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "task_id", "executor", "pid", "status", "uptime", "started_at", "last_heartbeat")
    rows = agent_rows(daemon.paths, time.time())
    return {"ok": True, "agents": [{k: r[k] for k in keys} for r in rows]}


def handle_heartbeat(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    agent_id = _str(req, "agent_id")
    assert agent_id is not None
    record_heartbeat(daemon.paths, agent_id, now_ns())
    return {"ok": True, "agent_id": agent_id, "heartbeat": "recorded"}


def handle_kill(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    agent_id = _str(req, "agent_id")
    assert agent_id is not None
    force, redispatch, for_retry = _bool(req, "force"), _bool(req, "redispatch"), _bool(req, "for_retry")
    d = daemon.dispatcher
    reaper: Any = getattr(d, "reaper", None)  # its "busy" set keeps every reaping path off this agent
    if reaper is not None:
        with reaper.lock:
            reaper.stopping.add(agent_id)
    try:
        res = kill_agent(
            daemon.paths,
            d.store,
            agent_id,
            force=force,
            redispatch=redispatch,
            for_retry=for_retry,
            detach=_detach(daemon),
            after_write=d.after_write,
        )
    finally:
        if reaper is not None:
            with reaper.lock:
                reaper.stopping.discard(agent_id)
    if res["result"] == "not_found":
        raise WgError(f"Agent '{agent_id}' not found")
    if res["result"] == "killed":
        verb = "Force killed" if force else "Killed"
        daemon.log("INFO", f"{verb} {agent_id} (PID {res['pid']}) for task '{res['task_id']}' via IPC")
        if redispatch:
            daemon.kick()
    return {
        "ok": True,
        "killed": agent_id if res["result"] == "killed" else None,
        "force": force,
        "paused": not redispatch and not for_retry,
        "result": res["result"],
        "pid": res.get("pid"),
        "task_id": res.get("task_id"),
    }


def handle_spawn(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    task_id = _str(req, "task_id")
    assert task_id is not None
    executor = _str(req, "executor", required=False, default="") or ""
    model = _str(req, "model", required=False)
    timeout = req.get("timeout")
    if timeout is not None and not isinstance(timeout, str | int):
        raise InvalidRequest("field 'timeout' must be a string or an integer")
    d = daemon.dispatcher
    if d.shutting_down:
        raise WgError("Service is shutting down")
    task = d.store.load().get(task_id)
    if task is None:
        raise WgError(f"Task '{task_id}' not found")
    if task.get("exec") or task.get("exec_mode") == "shell":
        executor = "shell"
    executor = executor or d.settings.executor
    agent_id, claimed = spawn_claim(d.store, d.registry, task_id, executor, model, d.after_write)
    try:
        d._start(agent_id, claimed)
    except Exception as exc:
        d._roll_back(agent_id, task_id, exc)
        raise WgError(f"Spawn failed: {exc}") from None
    entry = d.registry.load()["agents"].get(agent_id) or {}
    daemon.log("INFO", f"[dispatcher] Spawned {agent_id} for task '{task_id}' via wg spawn")
    return {
        "ok": True,
        "agent_id": agent_id,
        "pid": entry.get("pid"),
        "task_id": task_id,
        "executor": entry.get("executor") or executor,
        "model": entry.get("model") or model,
        "output_file": entry.get("output_file"),
    }


def handle_query_task(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    from ..model import status_name

    task_id = _str(req, "task_id")
    assert task_id is not None
    task = daemon.dispatcher.store.load().get(task_id)
    if task is None:
        raise WgError(f"Task '{task_id}' not found")
    return {
        "ok": True,
        "task_id": task_id,
        "title": task.get("title"),
        "status": status_name(str(task.get("status", "open"))),
        "assigned": task.get("assigned"),
        "started_at": task.get("started_at"),
        "completed_at": task.get("completed_at"),
        "failure_reason": task.get("failure_reason"),
        "failure_class": task.get("failure_class"),
    }


def handle_send_message(daemon: Daemon, req: dict[str, Any]) -> dict[str, Any]:
    from ..messages import send_message

    task_id, body = _str(req, "task_id"), _str(req, "body")
    assert task_id is not None and body is not None
    sender = _str(req, "sender", required=False, default="coordinator") or "coordinator"
    priority = _str(req, "priority", required=False, default="normal") or "normal"
    if daemon.dispatcher.store.load().get(task_id) is None:
        raise WgError(f"Task '{task_id}' not found")
    msg = send_message(daemon.paths.wg_dir, task_id, body, sender, priority, now_ns())
    return {"ok": True, "task_id": task_id, "message_id": msg["id"]}


HANDLERS: dict[str, Handler] = {
    "agents": handle_agents,
    "heartbeat": handle_heartbeat,
    "kill": handle_kill,
    "spawn": handle_spawn,
    "query_task": handle_query_task,
    "send_message": handle_send_message,
}

from ..chat.ipc_handlers import CHAT_HANDLERS  # noqa: E402  (chat requests, spec chats.md 4.2)

HANDLERS.update(CHAT_HANDLERS)
