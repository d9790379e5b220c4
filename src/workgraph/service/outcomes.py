"""Pure graph changes for agent exits and deaths (spec service 5.4, 5.5, 5.6). No I/O, time passed in.

Each change acts only while the task is still claimed by the agent (``in-progress`` + ``assigned``) and returns
the task's resulting status (or its current one when it was not claimed).
"""

from __future__ import annotations

from ..errors import WgError
from ..model import log_entry
from ..timeutil import format_ts, parse_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..graph import Graph
    from ..model import Record

_NS = 1_000_000_000
THROTTLE_WINDOW_S = 300
DEATH_PREFIXES = ("Task unclaimed: agent '", "Zero-output agent '")
NO_WORK = "Agent exited 0 without producing any work (no wg log, no artifacts, no diff, no commits)"


def claimed_by(graph: Graph, tid: str, agent_id: str) -> Record | None:
    cur = graph.get(tid)
    if cur is None or cur.get("status") != "in-progress" or cur.get("assigned") != agent_id:
        return None
    return cur


def recent_deaths(task: Record, now: int) -> tuple[int, int | None]:
    """Deaths logged on the task in the last 300 s (5.6): their count and the newest one's time."""
    n, last = 0, None
    for entry in task.get("log") or ():
        msg = str(entry.get("message", ""))
        if not (msg.startswith(DEATH_PREFIXES) or "Triage:" in msg):
            continue
        t = parse_ts(entry.get("timestamp"))
        if t is None or now - t > THROTTLE_WINDOW_S * _NS:
            continue
        n += 1
        last = t if last is None else max(last, t)
    return n, last


def throttle(task: Record, now: int, backoff_s: int) -> tuple[str, int, int | None]:
    """``("spawn"|"wait"|"fail", n, resume_at_ns)`` for the task's recent deaths (5.6)."""
    n, last = recent_deaths(task, now)
    if n <= 1 or last is None:
        return "spawn", n, None
    if n >= 5:
        return "fail", n, None
    at = last + backoff_s * (2 ** (n - 2)) * _NS
    return ("wait", n, at) if at > now else ("spawn", n, None)


def retry_limit(task: Record, default: int) -> int:
    limit = task.get("max_retries")
    return limit if isinstance(limit, int) and not isinstance(limit, bool) else default


def reopen_or_fail(
    graph: Graph, tid: str, agent_id: str, cause: str, now: int, max_retries: int, backoff_s: int
) -> str:
    """A death (5.5): ``cause`` is the log line ``Task unclaimed: agent '{id}' ...`` (or a zero-output line)."""
    cur = claimed_by(graph, tid, agent_id)
    if cur is None:
        task = graph.get(tid)
        return str(task.get("status", "open")) if task else "missing"
    stamp = format_ts(now)
    retries = int(cur.get("retry_count") or 0)
    limit = retry_limit(cur, max_retries)
    log = list(cur.get("log") or [])
    if retries >= limit:
        marker = f"agent '{agent_id}' "
        what = cause.split(marker, 1)[1] if marker in cause else cause
        reason = (
            f"Retry limit reached (max_retries={limit}): agent '{agent_id}' {what} on attempt {retries + 1}"
        )
        log.append(log_entry(stamp, reason))
        graph.update(tid, status="failed", failure_class="agent-died", failure_reason=reason, log=log)
        return "failed"
    log.append(log_entry(stamp, cause))
    probe = {**cur, "log": log}
    verdict, n, resume_at = throttle(probe, now, backoff_s)
    if verdict == "fail":
        reason = f"Rapid respawn loop: {n} agent deaths in {THROTTLE_WINDOW_S} seconds"
        log.append(log_entry(stamp, f"Failed: rapid respawn loop detected ({n} deaths in 300s window)"))
        graph.update(
            tid,
            status="failed",
            failure_class="agent-died",
            failure_reason=reason,
            retry_count=retries + 1,
            log=log,
        )
        return "failed"
    graph.update(
        tid,
        status="open",
        assigned=None,
        started_at=None,
        retry_count=retries + 1,
        ready_after=format_ts(resume_at) if resume_at is not None else None,
        log=log,
    )
    return "open"


def fail_claimed(graph: Graph, tid: str, agent_id: str, now: int, reason: str, klass: str, note: str | None,
                 auto_evaluate: bool = False) -> str:  # fmt: skip
    from ..transitions import fail

    cur = claimed_by(graph, tid, agent_id)
    if cur is None:
        task = graph.get(tid)
        return str(task.get("status", "open")) if task else "missing"
    if note:
        graph.update(tid, log=[*(cur.get("log") or []), log_entry(format_ts(now), note, agent_id)])
    res = fail(graph, tid, now, reason=reason, failure_class=klass, auto_evaluate=auto_evaluate)
    return str(res["task"].get("status"))


def done_claimed(
    graph: Graph,
    tid: str,
    agent_id: str,
    now: int,
    note: str | None,
    max_retries: int,
    backoff_s: int,
    pid: object,
) -> str:
    """The ``wg done`` path for the agent; a refusal is logged and treated as a death (5.4)."""
    from ..transitions import done

    cur = claimed_by(graph, tid, agent_id)
    if cur is None:
        task = graph.get(tid)
        return str(task.get("status", "open")) if task else "missing"
    stamp = format_ts(now)
    if note:
        cur = graph.update(tid, log=[*(cur.get("log") or []), log_entry(stamp, note, agent_id)])
    try:
        return str(done(graph, tid, now)["task"].get("status"))
    except WgError as exc:
        graph.update(
            tid, log=[*(cur.get("log") or []), log_entry(stamp, f"Could not complete: {exc.message}")]
        )
        cause = f"Task unclaimed: agent '{agent_id}' (PID {pid}) process exited"
        return reopen_or_fail(graph, tid, agent_id, cause, now, max_retries, backoff_s)


def has_work_evidence(task: Record, artifacts_at_spawn: list[object]) -> bool:
    """A log entry after the claim or a new artifact (the git half is checked by the caller)."""
    started = parse_ts(task.get("started_at"))
    for entry in task.get("log") or ():
        t = parse_ts(entry.get("timestamp"))
        msg = str(entry.get("message", ""))
        if t is not None and started is not None and t > started and not msg.startswith("Spawned by "):
            return True
    before = {str(a) for a in artifacts_at_spawn}
    return any(str(a) not in before for a in task.get("artifacts") or ())


def clear_stale_claim(graph: Graph, tid: str, agent_id: str, now: int) -> bool:
    cur = graph.get(tid)
    if cur is None or cur.get("status") not in ("open", "incomplete") or cur.get("assigned") != agent_id:
        return False
    entry = log_entry(format_ts(now), f"stale-claim cleared (was assigned to @{agent_id} — agent not live)")
    graph.update(tid, assigned=None, started_at=None, log=[*(cur.get("log") or []), entry])
    return True


def registry_status(task_status: str) -> str:
    if task_status in ("done", "pending-eval"):
        return "done"
    if task_status in ("failed", "failed-pending-eval"):
        return "failed"
    return "dead"
