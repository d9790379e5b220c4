"""Phase A of a tick: exits, deaths, stray agents, timeouts and stale claims (spec service 5.2-5.5, 5.9).

Kill before reopen: whenever an agent's process may still run, its group is stopped (start time re-checked before
every signal) on a background thread, and only once the group is empty is the claim touched. Agents being
stopped are kept in ``stopping`` so no other path handles them meanwhile.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import threading
import time

from ..errors import WgError
from ..timeutil import format_ts, now_ns, parse_ts
from . import health, isolation, outcomes
from .exits import Exit as _Exit
from .exits import archive
from .files import pid_alive, proc_start_time, read_json, same_process
from .procs import cmdline_has, find_by_arg, group_alive, kill_group, pid_reused, safe_group, stop_group
from .registry import LIVE_STATUSES, entry_live

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..graph import Graph
    from .dispatcher import Dispatcher

_NS = 1_000_000_000
HARD_TIMEOUT_SLACK_S = 60
STARTING_LIMIT_S = 60
LLM_EXECUTORS = ("claude", "codex", "native")


class Reaper:
    def __init__(self, d: Dispatcher) -> None:
        self.d = d
        self.stopping: set[str] = set()
        self.lock = threading.Lock()
        self.threads: list[threading.Thread] = []

    # -- helpers ------------------------------------------------------------------------------
    def _entries(self) -> dict[str, dict[str, Any]]:
        agents = self.d.registry.load()["agents"]
        return {a: e for a, e in agents.items() if isinstance(e, dict)}

    def _busy(self, agent_id: str) -> bool:
        with self.lock:
            return agent_id in self.stopping

    def _meta(self, agent_id: str) -> dict[str, Any]:
        return read_json(os.path.join(self.d.paths.agents, agent_id, "metadata.json")) or {}

    def _finish_entry(self, agent_id: str, status: str, **fields: Any) -> None:
        self.d.registry.update(agent_id, status=status, completed_at=format_ts(now_ns()), **fields)

    def _write(self, change: Callable[[Graph], Any]) -> Any:
        return self.d._write(change)

    def drain(self, timeout: float = 15.0) -> None:
        """Wait for background stops (``wg service tick`` and shutdown)."""
        deadline = time.monotonic() + timeout
        for t in list(self.threads):
            t.join(max(0.0, deadline - time.monotonic()))

    def _in_background(
        self, agent_id: str, entry: dict[str, Any], force: bool, then: Callable[[], None]
    ) -> None:
        with self.lock:
            if agent_id in self.stopping:
                return
            self.stopping.add(agent_id)

        def run() -> None:
            try:
                stop_group(entry, force=force)
                with self.d.children_lock:
                    proc = self.d.children.pop(agent_id, None)
                if proc is not None:
                    try:
                        proc.wait(timeout=2)
                    except subprocess.TimeoutExpired:
                        pass
                then()
            except Exception as exc:  # never lose the thread silently
                self.d.log("ERROR", f"[dispatcher] stopping {agent_id} failed: {exc}")
            finally:
                with self.lock:
                    self.stopping.discard(agent_id)
                self.d.on_exit()

        t = threading.Thread(target=run, name=f"stop-{agent_id}", daemon=True)
        self.threads = [x for x in self.threads if x.is_alive()] + [t]
        t.start()

    # -- 1. exits of our children -------------------------------------------------------------
    def collect_exits(self) -> None:
        with self.d.children_lock:
            finished = [(a, p) for a, p in self.d.children.items() if p.poll() is not None]
            for agent_id, _ in finished:
                if not self._busy(agent_id):
                    del self.d.children[agent_id]
        if not finished:
            return
        entries = self._entries()
        deferring = self.d.registry.defer()  # the exits' registry updates in one write
        try:
            exits = []
            for agent_id, proc in finished:
                if self._busy(agent_id):
                    continue
                rc = proc.returncode
                code = rc if rc >= 0 else 128 - rc
                x = self._exit(agent_id, entries.get(agent_id) or {}, code)
                if x is not None:
                    exits.append(x)
            # the outcomes in one graph transaction; should it fail, each on its own as before
            batch = [x for x in exits if x.change is not None]
            done: dict[str, str] = {}
            if len(batch) > 1:
                try:
                    results = self._write(lambda g: [x.change(g) for x in batch if x.change is not None])
                    done = {x.agent_id: str(r) for x, r in zip(batch, results, strict=True)}
                except WgError:
                    done = {}
            for x in exits:
                status = done.get(x.agent_id)
                self._exited(x, status if status is not None else self._outcome(x))
        finally:
            if deferring:
                self.d.registry.end_defer()

    # -- 2. liveness of every live entry (adopted agents, other processes' spawns) -------------
    def check_liveness(self) -> None:
        now_s = time.time()
        with self.d.children_lock:
            ours = set(self.d.children)
        for agent_id, entry in self._entries().items():
            status = entry.get("status")
            if agent_id in ours or self._busy(agent_id) or status not in (*LIVE_STATUSES, "stopping"):
                continue
            if status == "starting" and not entry.get("pid"):
                # a spawner that died between starting run.sh and registering it: metadata.json or exit_code
                exit_file = os.path.join(self.d.paths.agents, agent_id, "exit_code")
                if not os.path.exists(exit_file) and (
                    self._rescue_starting(agent_id, entry)
                    or (entry_live(entry, now_s) and _spawner_alive(entry))
                ):
                    continue
            elif entry_live(entry, now_s) and status != "stopping":
                continue
            elif status == "stopping" and safe_group(entry) is not None:
                self._in_background(agent_id, entry, False, lambda: None)
                continue
            code = _read_exit_code(os.path.join(self.d.paths.agents, agent_id, "exit_code"))
            if code is not None:
                self.complete(agent_id, entry, code)
            else:
                self.death(agent_id, entry, self._cause(agent_id, entry))

    def _rescue_starting(self, agent_id: str, entry: dict[str, Any]) -> bool:
        """A ``starting`` entry whose spawner died after starting ``run.sh``: adopt it from metadata.json."""
        pid = self._meta(agent_id).get("pid")
        run_sh = os.path.join(self.d.paths.agents, agent_id, "run.sh")
        if not isinstance(pid, int) or not pid_alive(pid) or not cmdline_has(pid, run_sh):
            if _spawner_alive(entry) or not os.path.exists(run_sh):
                return False
            found = find_by_arg(run_sh)  # started, but killed before the pid was recorded anywhere
            if found is None:
                return False
            pid = found
        start = proc_start_time(pid)
        self.d.registry.update(agent_id, pid=pid, pgid=pid, pid_start_time=start, status="working")
        self.d.log("INFO", f"Re-adopted agent {agent_id} (PID {pid}) for task '{entry.get('task_id', '')}'")
        return True

    def _cause(self, agent_id: str, entry: dict[str, Any], what: str = "process exited") -> str:
        pid = entry.get("pid")
        if not pid:
            return f"Task unclaimed: agent '{agent_id}' never started"
        if pid_reused(pid, entry.get("pid_start_time")):
            return f"Task unclaimed: agent '{agent_id}' dead (PID reused by different process)"
        return f"Task unclaimed: agent '{agent_id}' (PID {pid}) {what}"

    # -- completion (5.4) ---------------------------------------------------------------------
    def complete(self, agent_id: str, entry: dict[str, Any], code: int) -> None:
        x = self._exit(agent_id, entry, code)
        if x is not None:
            self._exited(x, self._outcome(x))

    def _outcome(self, x: _Exit) -> str:
        """Write the exit's outcome on its own (one transaction, or the worktree landing path)."""
        return self._apply(x.change, x.agent_id, x.tid) if x.change is not None else x.run()

    def _exit(self, agent_id: str, entry: dict[str, Any], code: int) -> _Exit | None:
        """What an exit does to the graph (5.4): a pure change, or the worktree path to run; None when it was
        a death, handled here (137/143)."""
        d = self.d
        tid = str(entry.get("task_id", ""))
        executor = str(entry.get("executor") or "shell")
        meta = self._meta(agent_id)
        if meta.get("worktree_path"):
            d.registry.flush()  # worktree code reads the registry file: no queued update around it
        timeout = meta.get("timeout_secs", entry.get("timeout_secs"))
        started = parse_ts(entry.get("started_at"))
        ran = (now_ns() - started) / _NS if started else 0.0
        s = d.settings
        pid = entry.get("pid")
        x = _Exit(agent_id, entry, code, tid, executor, meta)
        if code == 124 or (code == 137 and isinstance(timeout, int) and timeout > 0 and ran >= timeout):
            x.change = lambda g: outcomes.fail_claimed(
                g, tid, agent_id, now_ns(), "Agent exceeded hard timeout", "agent-hard-timeout", None
            )
            return x
        if code in (137, 143):
            self.death(agent_id, entry, self._cause(agent_id, entry), code=code)
            return None
        if code != 0 or executor == "shell":
            if code == 0:
                note: str | None = "Execution completed successfully"
                gate = False
            else:
                shell = executor == "shell"
                klass = x.klass = None if shell else health.classify(os.path.join(d.paths.agents, agent_id))
                x.change = lambda g: outcomes.fail_claimed(
                    g, tid, agent_id, now_ns(),
                    f"Command exited with code {code}" if shell else f"Agent exited with code {code}",
                    klass or "agent-exit-nonzero",
                    f"Execution failed with exit code {code}" if shell else None,
                    auto_evaluate=not shell and s.auto_evaluate,
                )  # fmt: skip
                return x
        else:
            note, gate = None, True
        if isolation.worktree_of(meta) is not None:
            x.run = lambda: self._done_path(agent_id, tid, meta, pid, note, gate)
        elif gate:
            x.change = lambda g: self._evidence_gate(g, tid, agent_id, meta, pid)
        else:
            x.change = lambda g: outcomes.done_claimed(
                g, tid, agent_id, now_ns(), note, s.max_retries, s.respawn_backoff_secs, pid
            )
        return x

    def _exited(self, x: _Exit, status: str) -> None:
        """After the outcome is written: the registry entry, health, archive, worktree removal, breaker."""
        d, agent_id, tid, code, meta = self.d, x.agent_id, x.tid, x.code, x.meta
        d.registry.update(
            agent_id,
            status=outcomes.registry_status(status),
            exit_code=code,
            completed_at=format_ts(now_ns()),
        )
        d.log("INFO", f"[dispatcher] Agent {agent_id} for task '{tid}' exited with code {code}")
        if x.executor != "shell" and code != 124:
            health.record(d, x.entry, x.klass, success=status in ("done", "pending-eval"))
        self.archive(agent_id, tid, status)
        if meta.get("worktree_path"):
            d.registry.flush()
        isolation.cleanup(d, meta)
        if status in ("done", "pending-eval"):
            d.breaker.task_done(tid)

    def _done_path(
        self, agent_id: str, tid: str, meta: dict[str, Any], pid: object, note: str | None, gate: bool
    ) -> str:
        """Exit 0: the work-evidence gate (``gate``), then the ``wg done`` path, landing an isolated agent's
        worktree first (worktrees.md 5-6)."""
        s = self.d.settings
        wt = isolation.worktree_of(meta)
        if wt is not None and gate:
            cur = outcomes.claimed_by(self.d.store.load(), tid, agent_id)
            if cur is None or not self._has_evidence(cur, meta):
                wt = None  # not ours any more, or no work: the gate below says so
        if wt is not None:
            return isolation.land_and_done(self, agent_id, tid, wt, note, pid)
        if gate:
            return self._apply(lambda g: self._evidence_gate(g, tid, agent_id, meta, pid), agent_id, tid)
        return self._apply(
            lambda g: outcomes.done_claimed(
                g, tid, agent_id, now_ns(), note, s.max_retries, s.respawn_backoff_secs, pid
            ),
            agent_id,
            tid,
        )

    @staticmethod
    def _has_evidence(cur: dict[str, Any], meta: dict[str, Any]) -> bool:
        arts = list(meta.get("artifacts_at_spawn") or [])
        return outcomes.has_work_evidence(cur, arts) or isolation.git_evidence(meta)

    def _apply(self, change: Callable[[Graph], str], agent_id: str, tid: str) -> str:
        try:
            return str(self._write(change))
        except WgError as exc:
            self.d.log("ERROR", f"[dispatcher] {agent_id}: completion of '{tid}' failed: {exc.message}")
            return "failed"

    def _evidence_gate(self, g: Graph, tid: str, agent_id: str, meta: dict[str, Any], pid: object) -> str:
        cur = outcomes.claimed_by(g, tid, agent_id)
        if cur is None:
            task = g.get(tid)
            return str(task.get("status", "open")) if task else "missing"
        s = self.d.settings
        if self._has_evidence(cur, meta):
            return outcomes.done_claimed(
                g, tid, agent_id, now_ns(), None, s.max_retries, s.respawn_backoff_secs, pid
            )
        return outcomes.fail_claimed(g, tid, agent_id, now_ns(), outcomes.NO_WORK, "agent-no-work", None)

    # -- deaths (5.5) -------------------------------------------------------------------------
    def death(self, agent_id: str, entry: dict[str, Any], cause: str, code: int | None = None) -> None:
        d = self.d
        tid = str(entry.get("task_id", ""))
        pgid = safe_group(entry)
        if pgid is not None:  # leftovers of a dead leader: stop them before the claim moves
            stop_group(entry, force=True)
        s = d.settings
        try:
            status = self._write(
                lambda g: outcomes.reopen_or_fail(
                    g, tid, agent_id, cause, now_ns(), s.max_retries, s.respawn_backoff_secs
                )
            )
        except WgError as exc:
            d.log("ERROR", f"[dispatcher] {agent_id}: reopening '{tid}' failed: {exc.message}")
            status = "dead"
        fields: dict[str, Any] = {"death_reason": cause}
        if code is not None:
            fields["exit_code"] = code
        self._finish_entry(agent_id, "dead", **fields)
        d.log("WARN", f"[dispatcher] {cause} (task '{tid}')")
        self.archive(agent_id, tid, status)

    # -- 3. agents whose task is no longer theirs ---------------------------------------------
    def stop_strays(self, graph: Graph, entries: dict[str, dict[str, Any]]) -> None:
        now_s = time.time()
        for agent_id, entry in entries.items():
            if entry.get("status") == "starting" or self._busy(agent_id) or not entry_live(entry, now_s):
                continue
            tid = str(entry.get("task_id", ""))
            task = graph.get(tid)
            status = str(task.get("status", "open")) if task else "missing"
            if task is not None and status == "in-progress" and task.get("assigned") == agent_id:
                continue
            self.d.log(
                "INFO",
                f"[dispatcher] Agent {agent_id} (PID {entry.get('pid')}) still alive but task '{tid}' is "
                f"{status} — sending SIGTERM",
            )
            final = outcomes.registry_status(status)

            def then(
                agent_id: str = agent_id, final: str = final, tid: str = tid, status: str = status
            ) -> None:
                self._finish_entry(agent_id, final, death_reason=f"task {status}")
                self.archive(agent_id, tid, "")
                isolation.cleanup(self.d, self._meta(agent_id))

            self.d.registry.update(agent_id, status="stopping")
            self._in_background(agent_id, entry, False, then)

    # -- 4. hard-timeout backstop -------------------------------------------------------------
    def _overdue(self, entries: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any], int]]:
        now = now_ns()
        now_s = now / _NS
        out = []
        for agent_id, entry in entries.items():
            if entry.get("status") not in ("working", "idle") or self._busy(agent_id):
                continue
            timeout = entry.get("timeout_secs")
            if timeout is None:
                timeout = self._meta(agent_id).get("timeout_secs")
            started = parse_ts(entry.get("started_at"))
            if not isinstance(timeout, int) or timeout <= 0 or started is None:
                continue
            if now - started > (timeout + HARD_TIMEOUT_SLACK_S) * _NS and entry_live(entry, now_s):
                out.append((agent_id, entry, timeout))
        return out

    def timeouts(self, entries: dict[str, dict[str, Any]]) -> None:
        for agent_id, entry, timeout in self._overdue(entries):
            self.d.log(
                "WARN", f"[dispatcher] Agent {agent_id} exceeded its timeout ({timeout}s) — stopping it"
            )
            self.d.registry.update(agent_id, status="stopping")
            self._in_background(
                agent_id,
                entry,
                False,
                functools.partial(self._timed_out, agent_id, entry),
            )

    def _timed_out(self, agent_id: str, entry: dict[str, Any]) -> None:
        self.death(agent_id, entry, self._cause(agent_id, entry, "timed out"))

    # -- 5. stale claims ----------------------------------------------------------------------
    def reconcile_claims(self) -> None:
        d = self.d
        graph = d.store.load()  # graph before registry: a claim's entry is always reserved first
        entries = self._entries()
        now = now_ns()
        now_s = now / _NS
        grace = d.settings.reaper_grace_seconds
        for task in graph.tasks():
            who = task.get("assigned")
            status = task.get("status")
            if not isinstance(who, str) or not who.startswith("agent-") or self._busy(who):
                continue
            entry = entries.get(who)
            if entry is not None and (entry_live(entry, now_s) or entry.get("status") == "stopping"):
                continue
            tid = task["id"]
            if status in ("open", "incomplete"):
                if self._write(functools.partial(_clear, tid=tid, who=who)):
                    d.log("INFO", f"[dispatcher] {tid}: stale-claim cleared (@{who})")
            elif status == "in-progress":
                started = parse_ts(task.get("started_at"))
                if started is not None and now - started < grace * _NS:
                    continue
                e = entry or {"task_id": tid}
                e.setdefault("task_id", tid)
                self.death(who, e, self._cause(who, e))

    # -- re-adoption (5.9) --------------------------------------------------------------------
    def readopt(self) -> None:
        for agent_id, entry in self._entries().items():
            if entry.get("status") in LIVE_STATUSES and entry.get("pid"):
                pid = entry["pid"]
                if isinstance(pid, int) and same_process(pid, entry.get("pid_start_time")):
                    self.d.log(
                        "INFO", f"Re-adopted agent {agent_id} (PID {pid}) for task '{entry.get('task_id')}'"
                    )

    def needs_tick(self) -> bool:
        """Checked each second by the daemon: an adopted agent's exit (5.9), a due timeout or zero-output kill,
        or the end of an ``auto_assign`` grace period."""
        wake = getattr(self.d, "wake_at", None)
        if wake is not None and now_ns() >= wake:
            self.d.wake_at = None
            return True
        now_s = time.time()
        with self.d.children_lock:
            ours = set(self.d.children)
        entries = self._entries()
        for agent_id, entry in entries.items():
            if agent_id in ours or self._busy(agent_id):
                continue
            if entry.get("status") in LIVE_STATUSES and not entry_live(entry, now_s):
                return True
        return bool(self._overdue(entries)) or (not self.d.frozen and bool(self.d.breaker.scan(entries)[0]))

    # -- shutdown --kill-agents ---------------------------------------------------------------
    def kill_all(self, force: bool) -> None:
        now_s = time.time()
        entries = {a: e for a, e in self._entries().items() if entry_live(e, now_s) and e.get("pid")}
        groups = {a: g for a, e in entries.items() if (g := safe_group(e)) is not None}
        for pgid in groups.values():
            kill_group(pgid, signal.SIGKILL if force else signal.SIGTERM)
            kill_group(pgid, signal.SIGCONT)
        deadline = time.monotonic() + (0 if force else 5)
        while time.monotonic() < deadline and any(group_alive(g) for g in groups.values()):
            time.sleep(0.05)
        for agent_id, pgid in groups.items():
            if group_alive(pgid) and safe_group(entries[agent_id]) is not None:
                kill_group(pgid, signal.SIGKILL)
        while any(group_alive(g) for g in groups.values()) and time.monotonic() < deadline + 5:
            time.sleep(0.02)
        with self.d.children_lock:
            for proc in self.d.children.values():
                try:
                    proc.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
            self.d.children.clear()
        for agent_id, e in entries.items():
            tid = str(e.get("task_id", ""))
            msg = f"Task unclaimed: agent '{agent_id}' was killed (service stop --kill-agents)"
            self._write(functools.partial(_unclaim, tid=tid, agent_id=agent_id, msg=msg))
            self._finish_entry(agent_id, "dead", death_reason="killed")

    # -- archive (5.4 "always") -----------------------------------------------------------------
    def archive(self, agent_id: str, tid: str, status: str) -> None:
        archive(self.d, agent_id, tid, status)


def _clear(g: Graph, tid: str, who: str) -> bool:
    return outcomes.clear_stale_claim(g, tid, who, now_ns())


def _unclaim(g: Graph, tid: str, agent_id: str, msg: str) -> None:
    from ..model import log_entry

    cur = outcomes.claimed_by(g, tid, agent_id)
    if cur is None:
        return
    log = [*(cur.get("log") or []), log_entry(format_ts(now_ns()), msg)]
    g.update(tid, status="open", assigned=None, started_at=None, log=log)


def _spawner_alive(entry: dict[str, Any]) -> bool:
    """The process that reserved a ``starting`` entry still runs (unknown spawner: assume so)."""
    pid = entry.get("spawner_pid")
    if not isinstance(pid, int):
        return True
    return same_process(pid, entry.get("spawner_start_time"))


def _read_exit_code(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None
