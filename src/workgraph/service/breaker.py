"""Zero-output breaker, global zero-output backoff and spawn-failure breaker (spec service 5.7, 5.8).

State lives in ``service/zero_output_state.json`` so it survives restarts.
"""

from __future__ import annotations

import os
import threading
import time

from ..model import log_entry
from ..timeutil import format_ts, now_ns, parse_ts
from . import outcomes
from .files import read_json, write_json_atomic
from .registry import entry_live

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..graph import Graph
    from ..model import Record
    from .dispatcher import Dispatcher

_NS = 1_000_000_000
BREAKER_TAG = "zero-output-circuit-broken"
STREAM_FILE = {"claude": "raw_stream.jsonl", "codex": "raw_stream.jsonl", "native": "stream.jsonl"}
GLOBAL_BACKOFF_START_S = 60
GLOBAL_BACKOFF_MAX_S = 900


class Breaker:
    def __init__(self, d: Dispatcher) -> None:
        self.d = d
        self.path = os.path.join(d.paths.dir, "zero_output_state.json")
        self.lock = threading.Lock()
        self._paused_logged = False

    # -- state file ---------------------------------------------------------------------------
    def load(self) -> dict[str, Any]:
        data = read_json(self.path) or {}
        counts = data.get("task_respawn_counts")
        return {
            "task_respawn_counts": counts if isinstance(counts, dict) else {},
            "global_backoff": data.get("global_backoff")
            if isinstance(data.get("global_backoff"), dict)
            else None,
        }

    def _save(self, data: dict[str, Any]) -> None:
        try:
            write_json_atomic(self.path, data, pretty=True)
        except OSError as exc:
            self.d.log("WARN", f"Could not save zero-output state: {exc}")

    def _edit(self, change: Any) -> Any:
        with self.lock:
            data = self.load()
            before = repr(data)
            result = change(data)
            if repr(data) != before:
                self._save(data)
            return result

    def task_done(self, tid: str) -> None:
        if tid in self.load()["task_respawn_counts"]:
            self._edit(lambda data: data["task_respawn_counts"].pop(tid, None))

    # -- the check (5.2 step 4) ---------------------------------------------------------------
    def scan(
        self, entries: dict[str, dict[str, Any]], on_output: Callable[[str], None] | None = None
    ) -> tuple[list[tuple[str, dict[str, Any], float]], int]:
        """Live LLM agents past ``zero_output_timeout`` with an empty stream, and the count of live LLM agents."""
        timeout = self.d.settings.zero_output_timeout
        now_s = time.time()
        silent: list[tuple[str, dict[str, Any], float]] = []
        live_llm = 0
        for agent_id, entry in entries.items():
            kind = str(entry.get("executor") or "")
            if kind not in STREAM_FILE or entry.get("status") not in ("working", "idle"):
                continue
            if self.d.reaper._busy(agent_id) or not entry_live(entry, now_s):
                continue
            live_llm += 1
            stream = os.path.join(self.d.paths.agents, agent_id, STREAM_FILE[kind])
            try:
                has_output = os.path.getsize(stream) > 0
            except OSError:
                has_output = False
            if has_output:
                if on_output is not None:
                    on_output(str(entry.get("task_id", "")))
                continue
            started = parse_ts(entry.get("started_at"))
            age = now_s - started / _NS if started else 0.0
            if timeout > 0 and age >= timeout:
                silent.append((agent_id, entry, age))
        return silent, live_llm

    def check(self, entries: dict[str, dict[str, Any]]) -> None:
        silent, live_llm = self.scan(entries, self._clear_on_output)
        if len(silent) >= 2 and len(silent) * 2 >= live_llm:
            self._trigger_global()
        for agent_id, entry, age in silent:
            self._kill(agent_id, entry, int(age))

    def _clear_on_output(self, tid: str) -> None:
        data = self.load()
        if tid in data["task_respawn_counts"] or (data["global_backoff"] or {}).get("probe_dispatched"):

            def change(d: dict[str, Any]) -> None:
                d["task_respawn_counts"].pop(tid, None)
                gb = d["global_backoff"]
                if gb and gb.get("probe_dispatched"):
                    d["global_backoff"] = None

            self._edit(change)

    def _kill(self, agent_id: str, entry: dict[str, Any], secs: int) -> None:
        d = self.d
        tid = str(entry.get("task_id", ""))
        pid = entry.get("pid")

        def then() -> None:
            count = self._edit(lambda data: _bump(data, tid))
            s = d.settings
            status = d._write(
                lambda g: zero_output_change(
                    g, tid, agent_id, pid, secs, count, s.zero_output_max_respawns, s.max_retries,
                    s.respawn_backoff_secs, now_ns(),
                )
            )  # fmt: skip
            d.registry.update(
                agent_id, status="dead", death_reason="zero-output", completed_at=format_ts(now_ns())
            )
            d.log(
                "WARN",
                f"[dispatcher] Zero-output agent {agent_id} (PID {pid}) killed after {secs}s (task '{tid}')",
            )
            d.reaper.archive(agent_id, tid, status)

        d.registry.update(agent_id, status="stopping")
        d.reaper._in_background(agent_id, entry, True, then)

    # -- global backoff -------------------------------------------------------------------------
    def _trigger_global(self) -> None:
        def change(data: dict[str, Any]) -> None:
            gb = data["global_backoff"] or {}
            now = now_ns()
            resume = parse_ts(gb.get("resume_after"))
            if resume is not None and resume > now:
                return  # already active
            prev = gb.get("backoff_secs")
            secs = (
                min(GLOBAL_BACKOFF_MAX_S, prev * 2)
                if isinstance(prev, int) and prev
                else GLOBAL_BACKOFF_START_S
            )
            data["global_backoff"] = {
                "resume_after": format_ts(now + secs * _NS),
                "backoff_secs": secs,
                "probe_dispatched": False,
            }

        self._edit(change)

    def spawn_limit(self) -> int | None:
        """None: no limit; 0: global backoff active; 1: the probe after a backoff."""
        gb = self.load()["global_backoff"]
        if not gb:
            self._paused_logged = False
            return None
        resume = parse_ts(gb.get("resume_after"))
        if resume is not None and resume > now_ns():
            if not self._paused_logged:
                self.d.log("INFO", "[dispatcher] Spawning paused: global zero-output backoff active")
                self._paused_logged = True
            return 0
        self._paused_logged = False
        if gb.get("probe_dispatched"):
            return None
        return 1

    def probe_sent(self) -> None:
        def change(data: dict[str, Any]) -> None:
            if data["global_backoff"]:
                data["global_backoff"]["probe_dispatched"] = True

        self._edit(change)


def _bump(data: dict[str, Any], tid: str) -> int:
    counts = data["task_respawn_counts"]
    n = int(counts.get(tid, 0) or 0) + 1
    counts[tid] = n
    return n


def zero_output_change(
    g: Graph, tid: str, agent_id: str, pid: object, secs: int, count: int, max_respawns: int, max_retries: int,
    backoff_s: int, now: int,
) -> str:  # fmt: skip
    cur = outcomes.claimed_by(g, tid, agent_id)
    if cur is None:
        task = g.get(tid)
        return str(task.get("status", "open")) if task else "missing"
    if count > max_respawns:
        msg = (
            f"Circuit breaker tripped: agent '{agent_id}' (PID {pid}) killed after {secs}s with zero output. "
            f"Max respawns ({max_respawns}) exceeded — marked incomplete for evaluator review."
        )
        tags = [*(cur.get("tags") or [])]
        if BREAKER_TAG not in tags:
            tags.append(BREAKER_TAG)
        g.update(
            tid,
            status="incomplete",
            assigned=None,
            started_at=None,
            tags=tags,
            log=[*(cur.get("log") or []), log_entry(format_ts(now), msg)],
        )
        return "incomplete"
    msg = (
        f"Zero-output agent '{agent_id}' (PID {pid}) killed after {secs}s. "
        f"Task reset for respawn (attempt {count}/{max_respawns})."
    )
    return outcomes.reopen_or_fail(g, tid, agent_id, msg, now, max_retries, backoff_s)


def spawn_failure_change(
    g: Graph, tid: str, agent_id: str, err: str, now: int, max_failures: int, executor: str, exec_mode: str
) -> int:
    """Roll a failed spawn back (5.3 step 7) and count it (5.8); returns the task's new failure count."""
    cur = g.get(tid)
    if cur is None or cur.get("assigned") != agent_id:
        return 0
    stamp = format_ts(now)
    k = int(cur.get("spawn_failures") or 0) + 1
    shown = max_failures if max_failures > 0 else "unlimited"
    log: list[Record] = [
        *(cur.get("log") or []),
        log_entry(stamp, f"Spawn failed, reverting claim: {err}"),
        log_entry(
            stamp, f"Spawn failed (attempt {k}/{shown}): {err}. exec_mode={exec_mode}, executor={executor}"
        ),
    ]
    status = "open" if cur.get("status") == "in-progress" else cur.get("status")
    if max_failures > 0 and k >= max_failures:
        log.append(
            log_entry(
                stamp,
                f"Circuit breaker tripped: spawn failed {k} times. Last error: {err}. "
                "Task marked incomplete for evaluator review.",
            )
        )
        status = "incomplete"
    g.update(
        tid, status=status, assigned=None, started_at=None, spawn_failures=k, failure_reason=err, log=log
    )
    return k


def spawn_breaker_tripped(task: Record, max_failures: int) -> bool:
    return max_failures > 0 and int(task.get("spawn_failures") or 0) >= max_failures
