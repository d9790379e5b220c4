"""Agent operations shared by the daemon's IPC handlers and the CLI (spec service 8, 5.3, 5.5).

Listing, heartbeats, stopping an agent (kill before reopen) and claiming a task for ``wg spawn``. The daemon
runs them with hooks into its dispatcher (so it, not its reaper, owns the exit of a child it kills); the CLI
runs them directly when no daemon is up.
"""

from __future__ import annotations

import os
import time

from ..errors import WgError
from ..model import log_entry
from ..timeutil import format_ts, now_ns, parse_ts
from .files import ServicePaths, same_process
from .procs import stop_group
from .registry import Registry, entry_live

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..graph import Graph
    from ..model import Record
    from ..store.jsonl import JsonlStore

    Detach = Callable[[str], Any]

KILL_GRACE = 5.0


# -- listing (8.1) -----------------------------------------------------------------------------


def agent_sort_key(agent_id: str) -> tuple[int, str]:
    tail = agent_id.rsplit("-", 1)[-1]
    return (int(tail) if tail.isdigit() else 1 << 62, agent_id)


def uptime_secs(entry: dict[str, Any], now_s: float) -> int | None:
    started = parse_ts(entry.get("started_at"))
    return None if started is None else int(now_s - started / 1e9)


def uptime_human(secs: int | None) -> str:
    """The original's form: ``Ns``, ``Nm``, ``Nh``, ``Nd`` (whole units), ``unknown`` without a start."""
    if secs is None:
        return "unknown"
    if secs < 0:
        return "0s"
    for limit, div, unit in ((60, 1, "s"), (3600, 60, "m"), (86400, 3600, "h")):
        if secs < limit:
            return f"{secs // div}{unit}"
    return f"{secs // 86400}d"


def process_alive(entry: dict[str, Any]) -> bool:
    pid = entry.get("pid")
    return isinstance(pid, int) and pid > 0 and same_process(pid, entry.get("pid_start_time"))


def effective_status(entry: dict[str, Any], now_s: float) -> str:
    """The registry status, or ``dead (process exited)`` for a live status whose process is gone."""
    status = str(entry.get("status", "unknown"))
    if status in ("working", "idle", "frozen", "starting") and not entry_live(entry, now_s):
        return "dead (process exited)"
    return status


def agent_rows(paths: ServicePaths, now_s: float) -> list[dict[str, Any]]:
    """Every registry entry with its computed fields (the JSON items of ``wg agents --json``)."""
    agents = Registry(paths).load()["agents"]
    rows = []
    for agent_id in sorted(agents, key=agent_sort_key):
        e = agents[agent_id]
        if not isinstance(e, dict):
            continue
        secs = uptime_secs(e, now_s)
        rows.append(
            {
                "id": str(e.get("id") or agent_id),
                "task_id": e.get("task_id"),
                "executor": e.get("executor"),
                "pid": e.get("pid"),
                "started_at": e.get("started_at"),
                "last_heartbeat": e.get("last_heartbeat"),
                "uptime": uptime_human(secs),
                "uptime_secs": secs,
                "status": effective_status(e, now_s),
                "process_alive": process_alive(e),
                "output_file": e.get("output_file"),
                "_live": entry_live(e, now_s),
                "_raw_status": e.get("status"),
            }
        )
    return rows


# -- heartbeat (8.4) ---------------------------------------------------------------------------


def record_heartbeat(paths: ServicePaths, agent_id: str, now: int) -> str:
    """Set ``last_heartbeat`` under the registry lock; returns the timestamp written."""
    stamp = format_ts(now)

    def change(data: dict[str, Any]) -> bool:
        entry = data["agents"].get(agent_id)
        if not isinstance(entry, dict):
            return False
        entry["last_heartbeat"] = stamp
        return True

    if not os.path.exists(paths.registry) or not Registry(paths).transaction(change):
        raise WgError(f"Agent '{agent_id}' not found")
    return stamp


# -- stopping an agent (8.2, 5.5 kill before reopen) -------------------------------------------


def _claimed(task: Record | None, agent_id: str) -> bool:
    return task is not None and task.get("status") == "in-progress" and task.get("assigned") == agent_id


def kill_agent(
    paths: ServicePaths,
    store: JsonlStore,
    agent_id: str,
    *,
    force: bool = False,
    redispatch: bool = False,
    for_retry: bool = False,
    detach: Detach | None = None,
    after_write: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Stop one agent and release its task (8.2). ``result`` is ``killed``, ``not_found`` or ``already_dead``.

    ``for_retry``: only ``assigned`` is cleared (the task stays ``in-progress`` for ``wg retry`` to reset,
    and no reconciler can reopen it in between); otherwise the task is reopened, paused unless
    ``redispatch``. ``detach(agent_id)`` takes a child away from the daemon's reaper and returns it.
    """
    registry = Registry(paths)
    entry = registry.load()["agents"].get(agent_id)
    if not isinstance(entry, dict):
        return {"result": "not_found", "agent_id": agent_id}
    pid, tid = entry.get("pid"), str(entry.get("task_id") or "")
    base = {"agent_id": agent_id, "pid": pid, "task_id": tid, "force": force}
    if not entry_live(entry, time.time()):
        return {**base, "result": "already_dead"}
    registry.update(agent_id, status="stopping")
    child = detach(agent_id) if detach is not None else None
    stop_group(entry, grace=KILL_GRACE, force=force)
    if child is not None:
        try:
            child.wait(timeout=1)
        except Exception:
            pass
    stamp = format_ts(now_ns())
    if for_retry:
        message = f"Agent '{agent_id}' (PID {pid}) killed for retry"
    elif redispatch:
        message = f"Task unclaimed: agent '{agent_id}' was killed (--redispatch)"
    else:
        message = f"Agent '{agent_id}' killed — task auto-paused (use 'wg resume' to re-enable dispatch)"

    def release(g: Graph) -> bool:
        cur = g.get(tid)
        if not _claimed(cur, agent_id):
            return False
        assert cur is not None
        log = [*(cur.get("log") or []), log_entry(stamp, message)]
        if for_retry:
            g.update(tid, assigned=None, log=log)
        else:
            g.update(
                tid,
                status="open",
                assigned=None,
                started_at=None,
                paused=None if redispatch else True,
                log=log,
            )
        return True

    try:
        released = bool(store.transaction(release, now_ns()))
    finally:
        if after_write is not None:
            after_write()
    registry.update(agent_id, status="dead", death_reason="killed", completed_at=format_ts(now_ns()))
    return {**base, "result": "killed", "task_released": released, "paused": not redispatch and not for_retry}


def live_agent_for_task(paths: ServicePaths, task_id: str, assigned: object = None) -> str | None:
    """The live agent working on ``task_id``: its assignee if that is a live agent, else any live entry."""
    agents = Registry(paths).load()["agents"]
    now_s = time.time()
    if isinstance(assigned, str) and isinstance(agents.get(assigned), dict):
        if entry_live(agents[assigned], now_s):
            return assigned
    for agent_id in sorted(agents, key=agent_sort_key, reverse=True):
        e = agents[agent_id]
        if isinstance(e, dict) and e.get("task_id") == task_id and entry_live(e, now_s):
            return str(agent_id)
    return None


def stop_agent_for_task(wg_dir: str, task_id: str) -> dict[str, Any] | None:
    """``wg retry`` of an in-progress task: stop its live agent first (8.4). Via the daemon when one runs
    (it owns the child's exit), else directly. Returns what happened, or None when no live agent was found
    (or the retry would be refused anyway by the task's own retry limit)."""
    from ..store.jsonl import JsonlStore

    paths = ServicePaths(wg_dir)
    store = JsonlStore(wg_dir)
    task = store.load().get(task_id)
    if task is None or task.get("status") != "in-progress":
        return None
    limit = task.get("max_retries")
    if isinstance(limit, int) and int(task.get("retry_count") or 0) + 1 >= limit:
        return None  # `wg retry` refuses: leave the agent running
    agent_id = live_agent_for_task(paths, task_id, task.get("assigned"))
    if agent_id is None:
        return None
    reply = daemon_call(paths, {"cmd": "kill", "agent_id": agent_id, "for_retry": True})
    if reply is not None:
        if not reply.get("ok"):
            raise WgError(str(reply.get("error")))
        return {k: v for k, v in reply.items() if k != "ok"}
    return kill_agent(paths, store, agent_id, for_retry=True)


def daemon_call(paths: ServicePaths, req: dict[str, Any]) -> dict[str, Any] | None:
    """A request to the running daemon; None when no daemon runs (the caller then acts directly)."""
    from .files import running_pid
    from .ipc import request

    if running_pid(paths) is None:
        return None
    sock = paths.socket_from_state()
    err: Exception | None = None
    for delay in (0.0, 0.05, 0.1):
        time.sleep(delay)
        try:
            return request(sock, req, read_timeout=60.0)
        except (OSError, ValueError) as exc:
            err = exc
    pid = running_pid(paths)
    raise WgError(f"Could not connect to service at {sock} (PID {pid}, 2 retries exhausted): {err}.")


# -- wg spawn claim (5.3 step 3) ---------------------------------------------------------------

_REFUSED = {
    "failed": "Failed",
    "abandoned": "Abandoned",
    "waiting": "Waiting",
    "pending-validation": "pending validation",
    "pending-eval": "pending evaluation",
    "failed-pending-eval": "pending rescue evaluation",
}


def spawn_claim(
    store: JsonlStore,
    registry: Registry,
    task_id: str,
    executor: str,
    model: str | None,
    after_write: Callable[[], None] | None = None,
) -> tuple[str, Record]:
    """Reserve ``agent-N`` and claim ``task_id`` for it (compare-and-set, ``wg spawn`` rules). Returns the
    agent id and the claimed task; raises the original's errors (the reserved entry is then deleted)."""
    graph = store.load()
    if graph.get(task_id) is None:
        raise WgError(f"Task '{task_id}' not found")
    started = format_ts(now_ns())
    entry: dict[str, Any] = {"task_id": task_id, "executor": executor, "started_at": started}
    if model:
        entry["model"] = model
    agent_id = registry.reserve(entry)
    note = f"Spawned by wg spawn --executor {executor}" + (f" --model {model}" if model else "")

    def claim(g: Graph) -> Record:
        cur = g.get(task_id)
        if cur is None:
            raise WgError(f"Task '{task_id}' not found")
        status = cur.get("status", "open")
        if cur.get("assigned"):
            since = cur.get("started_at") or "unknown"
            raise WgError(f"Task '{task_id}' is already claimed by @{cur['assigned']} (since {since})")
        if status == "in-progress":
            raise WgError(f"Task '{task_id}' is already in progress")
        if status == "done":
            raise WgError(f"Task '{task_id}' is already done")
        if status not in ("open", "incomplete", "blocked"):
            word = _REFUSED.get(status, str(status))
            raise WgError(f"Cannot spawn on task '{task_id}': task is {word}. Use 'wg retry' first.")
        return g.update(
            task_id,
            status="in-progress",
            assigned=agent_id,
            started_at=started,
            dispatch_count=int(cur.get("dispatch_count") or 0) + 1,
            log=[*(cur.get("log") or []), log_entry(started, note)],
        )

    try:
        claimed = store.transaction(claim, now_ns())
    except WgError:
        registry.delete(agent_id)
        raise
    finally:
        if after_write is not None:
            after_write()
    return agent_id, claimed
