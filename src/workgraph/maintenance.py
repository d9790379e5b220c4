"""``wg incomplete``, ``wg wait`` and the dispatcher's graph maintenance pass (spec core 11.18). Pure.

Everything here works on a ``Graph`` value with time passed in as epoch ns; what needs the disk (message
queues, file mtimes, configuration) is passed in by the caller.
"""

from __future__ import annotations

from .errors import WgError
from .graph import Graph
from .model import STATUSES, TERMINAL, is_chat, log_entry, new_task
from .timeutil import format_ts, parse_duration, parse_ts
from .transitions import require

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from .model import Record

_NS = 1_000_000_000
PARKED_PREFIX = "Agent parked"
SATISFIED_MSG = "Wait condition satisfied. Task ready for resume."
MAX_RESURRECTIONS = 5
RESURRECTION_COOLDOWN_S = 60


def _log(task: Record, entry: Record) -> list[Record]:
    return [*(task.get("log") or []), entry]


# -- wg incomplete ------------------------------------------------------------------------------


def mark_incomplete(
    graph: Graph, task_id: str, now: int, reason: str | None, default_max: int, delay_s: int
) -> dict[str, Any]:
    """``default_max`` = ``[dispatcher] max_incomplete_retries`` (0 = unlimited); ``delay_s`` the cooldown."""
    task = require(graph, task_id)
    status = task.get("status", "open")
    if status == "incomplete":
        return {"changed": False, "task": task}
    if status in TERMINAL:
        raise WgError(f"Task '{task_id}' is {status} and cannot be marked as incomplete")
    attempt = int(task.get("retry_count", 0)) + 1
    maximum = task.get("max_retries")
    limit = int(maximum) if maximum is not None else default_max
    stamp = format_ts(now)
    common: dict[str, Any] = {
        "retry_count": attempt,
        "assigned": None,
        "session_id": None,
        "checkpoint": None,
        "completed_at": stamp,
    }
    if limit and attempt >= limit:
        why = (
            f"Retry exhausted ({attempt}/{limit} attempts). Last incomplete reason: {reason or 'unspecified'}"
        )
        updated = graph.update(
            task_id,
            status="failed",
            failure_reason=why,
            ready_after=None,
            log=_log(task, log_entry(stamp, f"Task marked as failed: {why}", task.get("assigned"))),
            **common,
        )
        return {"changed": True, "task": updated, "exhausted": True, "attempt": attempt, "limit": limit}
    msg = f"Task marked as incomplete (attempt #{attempt}"
    if limit:
        msg += f" ({limit - attempt} remaining)"
    msg += ")" + (f": {reason}" if reason else "")
    ready_after = format_ts(now + delay_s * _NS) if delay_s > 0 else None
    updated = graph.update(
        task_id,
        status="incomplete",
        ready_after=ready_after,
        log=_log(task, log_entry(stamp, msg, task.get("assigned"))),
        **common,
    )
    return {
        "changed": True,
        "task": updated,
        "exhausted": False,
        "attempt": attempt,
        "limit": limit,
        "ready_after": ready_after,
    }


def retry_delay_seconds(value: object) -> int:
    """``[dispatcher] incomplete_retry_delay``: a duration string (``30s``) or a number of seconds."""
    if isinstance(value, bool):
        return 30
    if isinstance(value, int):
        return max(0, value)
    if isinstance(value, str):
        secs = parse_duration(value, bare_unit="s")
        return secs if secs is not None else 30
    return 30


# -- wg wait ------------------------------------------------------------------------------------

UNKNOWN_CONDITION = (
    "Unknown condition '{}'. Supported: task:<id>=<status>, timer:<dur>, human-input, message, file:<path>"
)


def parse_condition(text: str, graph: Graph, now: int, mtime_of: Callable[[str], int]) -> Record:
    s = text.strip()
    if s in ("human-input", "message"):
        return {"type": s}
    if s.startswith("task:"):
        tid, eq, status = s[5:].partition("=")
        if not eq or not tid:
            raise WgError(f"Invalid task condition '{s}'. Expected format: task:<id>=<status>")
        if graph.get(tid) is None:
            raise WgError(f"Task '{tid}' referenced in condition does not exist")
        if status not in STATUSES and status != "pending-review":
            raise WgError(f"Unknown status '{status}' in condition")
        return {"type": "task-status", "task_id": tid, "status": status}
    if s.startswith("timer:"):
        secs = parse_duration(s[6:])
        if secs is None:
            raise WgError(f"Invalid timer duration '{s[6:]}'. Use e.g. 30s, 5m, 1h, 4h, 1d")
        return {"type": "timer", "resume_after": format_ts(now + secs * _NS)}
    if s.startswith("file:"):
        path = s[5:].strip()
        if not path:
            raise WgError("Empty file path in condition")
        return {"type": "file-changed", "path": path, "mtime_at_wait": mtime_of(path)}
    raise WgError(UNKNOWN_CONDITION.format(s))


def parse_wait(expr: str, graph: Graph, now: int, mtime_of: Callable[[str], int]) -> Record:
    """``--until``: conditions joined by ``,`` (all) or ``|`` (any), never both."""
    if "," in expr and "|" in expr:
        raise WgError(
            "Cannot mix AND (,) and OR (|) in a single --until expression. Use all commas or all pipes."
        )
    mode, sep = ("any", "|") if "|" in expr else ("all", ",")
    conditions = [parse_condition(part, graph, now, mtime_of) for part in expr.split(sep)]
    return {"mode": mode, "conditions": conditions}


def park(
    graph: Graph, task_id: str, expr: str, checkpoint: str | None, now: int, mtime_of: Callable[[str], int]
) -> Record:
    task = require(graph, task_id)
    status = task.get("status", "open")
    if status != "in-progress":
        raise WgError(f"Cannot wait on task '{task_id}': status is '{status}', expected 'in-progress'")
    condition = parse_wait(expr, graph, now, mtime_of)
    changes: dict[str, Any] = {
        "status": "waiting",
        "wait_condition": condition,
        "log": _log(
            task, log_entry(format_ts(now), f"{PARKED_PREFIX}. Waiting for: {expr}", task.get("assigned"))
        ),
    }
    if checkpoint is not None:
        changes["checkpoint"] = checkpoint
    return graph.update(task_id, **changes)


# -- the maintenance pass -----------------------------------------------------------------------


def watched_files(graph: Graph) -> list[str]:
    """Paths of ``file-changed`` conditions of waiting tasks: what the caller should stat."""
    out: list[str] = []
    for t in graph.tasks():
        if t.get("status") != "waiting":
            continue
        for c in (t.get("wait_condition") or {}).get("conditions") or []:
            if c.get("type") == "file-changed" and isinstance(c.get("path"), str) and c["path"] not in out:
                out.append(c["path"])
    return out


def _parked_at(task: Record) -> int | None:
    for entry in reversed(task.get("log") or []):
        if str(entry.get("message", "")).startswith(PARKED_PREFIX):
            return parse_ts(entry.get("timestamp"))
    return None


def _is_agent_sender(graph: Graph, sender: str) -> bool:
    return sender.startswith("agent-") or sender in graph


def _messages_after(messages: list[Record], since: int | None) -> list[Record]:
    if since is None:
        return list(messages)
    out = []
    for m in messages:
        t = parse_ts(m.get("timestamp"))
        if t is None or t > since:
            out.append(m)
    return out


def _check(
    graph: Graph,
    task: Record,
    cond: Record,
    now: int,
    messages: list[Record],
    file_mtimes: Mapping[str, int | None],
) -> tuple[bool, str | None]:
    """(holds, why it can never hold)."""
    kind = cond.get("type")
    if kind == "task-status":
        tid = str(cond.get("task_id", ""))
        want = cond.get("status")
        want = "done" if want == "pending-review" else want
        other = graph.get(tid)
        if other is None:
            return False, f"task '{tid}' does not exist"
        have = other.get("status", "open")
        if have == want:
            return True, None
        if have in TERMINAL:
            return False, f"task '{tid}' is {have}, expected {want}"
        return False, None
    if kind == "timer":
        at = parse_ts(cond.get("resume_after"))
        return at is None or now >= at, None
    if kind in ("message", "human-input"):
        fresh = _messages_after(messages, _parked_at(task))
        if kind == "human-input":
            fresh = [m for m in fresh if not _is_agent_sender(graph, str(m.get("sender", "")))]
        return bool(fresh), None
    if kind == "file-changed":
        mtime = file_mtimes.get(str(cond.get("path", "")))
        base = cond.get("mtime_at_wait")
        return mtime is not None and mtime > (base if isinstance(base, int) else 0), None
    return False, None


def _circular_waits(graph: Graph, waiting: list[str]) -> list[list[str]]:
    """Cycles among waiting tasks through their ``task-status`` conditions (each in walk order)."""
    from .graph import strongly_connected

    wset = set(waiting)
    succ: dict[str, list[str]] = {}
    for tid in waiting:
        cond = graph.records[tid].get("wait_condition") or {}
        targets = [
            str(c.get("task_id"))
            for c in cond.get("conditions") or []
            if c.get("type") == "task-status" and c.get("task_id") in wset
        ]
        succ[tid] = sorted(set(targets))
    out: list[list[str]] = []
    for comp in strongly_connected(succ):
        if len(comp) == 1 and comp[0] not in succ[comp[0]]:
            continue
        members = set(comp)
        path = [comp[0]]
        while True:
            nxt = next((n for n in succ[path[-1]] if n in members and n not in path), None)
            if nxt is None:
                break
            path.append(nxt)
        out.append(path)
    return out


def _settle_waits(
    graph: Graph,
    now: int,
    messages_by_task: Mapping[str, list[Record]],
    file_mtimes: Mapping[str, int | None],
) -> list[str]:
    stamp = format_ts(now)
    events: list[str] = []
    waiting = [t["id"] for t in graph.tasks() if t.get("status") == "waiting" and t.get("wait_condition")]
    pending: list[str] = []
    for tid in waiting:
        task = graph.records[tid]
        cond = task["wait_condition"]
        results = [
            _check(graph, task, c, now, messages_by_task.get(tid, []), file_mtimes)
            for c in cond.get("conditions") or []
        ]
        holds = [h for h, _ in results]
        reasons = [r for _, r in results if r]
        if cond.get("mode") == "any":
            ok, dead = any(holds), bool(results) and len(reasons) == len(results)
        else:
            ok, dead = bool(results) and all(holds), bool(reasons)
        if ok:
            graph.update(
                tid,
                status="open",
                wait_condition=None,
                assigned=None,
                log=_log(task, log_entry(stamp, SATISFIED_MSG)),
            )
            events.append(f"Wait satisfied: '{tid}' reopened")
        elif dead:
            _fail(graph, tid, f"Wait condition unsatisfiable: {'; '.join(reasons)}", stamp)
            events.append(f"Wait unsatisfiable: '{tid}' failed")
        else:
            pending.append(tid)
    for path in _circular_waits(graph, pending):
        why = "Circular wait detected: " + " -> ".join(path)
        for tid in path:
            _fail(graph, tid, why, stamp)
        events.append(why)
    return events


def _fail(graph: Graph, tid: str, why: str, stamp: str) -> None:
    task = graph.records[tid]
    graph.update(
        tid,
        status="failed",
        failure_reason=why,
        wait_condition=None,
        retry_count=int(task.get("retry_count", 0)) + 1,
        log=_log(task, log_entry(stamp, why)),
    )


def _resurrect(graph: Graph, now: int, messages_by_task: Mapping[str, list[Record]]) -> list[str]:
    stamp = format_ts(now)
    events: list[str] = []
    for task in list(graph.tasks()):
        tid = task["id"]
        if task.get("status") != "done" or is_chat(task) or "resurrect:false" in (task.get("tags") or ()):
            continue
        if int(task.get("resurrection_count", 0)) >= MAX_RESURRECTIONS:
            continue
        last = parse_ts(task.get("last_resurrected_at"))
        if last is not None and now - last < RESURRECTION_COOLDOWN_S * _NS:
            continue
        pending = [
            m for m in messages_by_task.get(tid, []) if m.get("status") == "sent" and m.get("sender") != tid
        ]
        if not pending:
            continue
        busy = any(
            (graph.get(d) or {}).get("status") in ("in-progress", "done") for d in graph.dependents(tid)
        )
        child_id = ".respond-to-" + tid
        if busy:
            existing = graph.get(child_id)
            if existing is not None and existing.get("status", "open") not in TERMINAL:
                continue  # one child at a time
            if existing is not None:
                graph.remove(child_id)
            child = new_task(child_id, f"Respond to messages on {tid}", stamp)
            child["tags"] = ["resurrection-child"]
            graph.put(child)
            graph.add_dependency(child_id, tid)
            task = graph.records[tid]
            events.append(f"Resurrection: created '{child_id}' for {len(pending)} pending message(s)")
            changes: dict[str, Any] = {}
        else:
            msg = f"Resurrection: reopened due to {len(pending)} pending message(s)"
            changes = {"status": "open", "assigned": None, "log": _log(task, log_entry(stamp, msg))}
            events.append(f"{msg}: '{tid}'")
        graph.update(
            tid,
            resurrection_count=int(task.get("resurrection_count", 0)) + 1,
            last_resurrected_at=stamp,
            **changes,
        )
    return events


def _cron(graph: Graph, now: int) -> list[str]:
    from .cron import next_fire

    stamp = format_ts(now)
    events: list[str] = []
    for task in list(graph.tasks()):
        if task.get("status") != "done" or not task.get("cron_enabled") or not task.get("cron_schedule"):
            continue
        tid = task["id"]
        try:
            nxt = next_fire(task["cron_schedule"], now, tid)
        except ValueError as exc:
            events.append(f"Cron: '{tid}' has an invalid schedule ({exc})")
            continue
        graph.update(
            tid,
            status="open",
            assigned=None,
            completed_at=None,
            last_cron_fire=stamp,
            next_cron_fire=format_ts(nxt),
            log=_log(task, log_entry(stamp, f"Cron: reopened, next fire {format_ts(nxt)}")),
        )
        events.append(f"Cron: reopened '{tid}'")
    return events


def run_maintenance(
    graph: Graph,
    now: int,
    messages_by_task: Mapping[str, list[Record]],
    file_mtimes: Mapping[str, int | None],
) -> list[str]:
    """One maintenance pass (waits, message resurrection, cron); returns one line per change.

    ``messages_by_task``: each task's message records (11.13) — at least those of waiting and done tasks.
    ``file_mtimes``: mtime in seconds (None when missing) of each path in ``watched_files(graph)``.
    """
    events = _settle_waits(graph, now, messages_by_task, file_mtimes)
    events += _resurrect(graph, now, messages_by_task)
    events += _cron(graph, now)
    return events
