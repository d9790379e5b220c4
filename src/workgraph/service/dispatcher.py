"""One dispatcher tick: collect exits, reconcile dead agents, claim and spawn (spec service 5.2-5.5).

Planning, the agent directory and ``run.sh`` come from ``workgraph.executors`` (spec service 6-7); the agent
is ``bash $WG/agents/agent-N/run.sh`` in its own session, output in ``$WG/agents/agent-N/output.log``.
Agency scaffolding runs in phase A (``upkeep.scaffold``); worktree isolation is in ``isolation``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time

from ..errors import WgError
from ..graph import Readiness
from ..model import log_entry
from ..timeutil import format_ts, now_ns
from .breaker import BREAKER_TAG, Breaker, spawn_breaker_tripped, spawn_failure_change
from .claims import Planned as _Planned
from .claims import claim as _claim
from .files import ServicePaths, proc_start_time
from .procs import kill_group as _kill_group
from .reaper import Reaper
from .registry import Registry, entry_live

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..graph import Graph
    from ..model import Record
    from ..store.jsonl import JsonlStore

EXCLUDED_TAGS = frozenset(
    ("chat-loop", "coordinator-loop", "compact-loop", "archive-loop", "registry-refresh-loop", "user-board")
)
# Passed on by the caller's environment to no agent (spec service 3.1 step 2, 6.5).
SCRUBBED_ENV = (
    "WG_AGENT_ID", "WG_TASK_ID", "WG_WORKTREE_PATH", "WG_BRANCH", "WG_PROJECT_ROOT", "WG_TARGET_BRANCH",
    "WG_WORKTREE_ACTIVE", "WG_SPAWN_EPOCH", "WG_CHAT_REF", "WG_CHAT_ID",
)  # fmt: skip
PRIORITY_NAMES = {"critical": 100, "high": 50, "normal": 10, "low": 5, "idle": 0}


class Settings:
    def __init__(self, max_agents: int, poll_interval: float, executor: str, model: str | None) -> None:
        self.max_agents = max_agents
        self.poll_interval = poll_interval
        self.executor = executor
        self.model = model
        self.settling_delay_ms = 20
        self.graph_watch_enabled = True
        self.max_retries = 3
        self.max_spawn_failures = 5
        self.respawn_backoff_secs = 60
        self.zero_output_timeout = 300
        self.zero_output_max_respawns = 2
        self.reaper_grace_seconds = 30
        self.auto_evaluate = False
        self.on_provider_failure = "pause"
        self.provider_failure_threshold = 3


def _priority(task: Record) -> int:
    value = task.get("priority", 10)
    if isinstance(value, str):
        return PRIORITY_NAMES.get(value, int(value) if value.lstrip("-").isdigit() else 10)
    return value if isinstance(value, int) else 10


def _excluded(graph: Graph, task: Record, max_spawn_failures: int) -> bool:
    """System-task, breaker and deferred-merge exclusions of spec service 5.2 (candidates)."""
    tags = task.get("tags") or ()
    if EXCLUDED_TAGS.intersection(tags) or BREAKER_TAG in tags or "deferred" in tags:
        return True
    if spawn_breaker_tripped(task, max_spawn_failures):
        return True
    if task["id"].startswith("."):
        return any((graph.get(d) or {}).get("status") == "abandoned" for d in task.get("after") or ())
    return False


def candidates(graph: Graph, now: int, max_spawn_failures: int = 5) -> tuple[list[Record], int]:
    """Ready tasks this dispatcher can run, in spawn order; and the count of all ready tasks."""
    ready = Readiness(graph, now).ready
    out = [t for t in ready if not t.get("assigned") and not _excluded(graph, t, max_spawn_failures)]
    out.sort(key=lambda t: (-_priority(t), str(t.get("created_at", "")), t["id"]))
    return out, len(ready)


class Dispatcher:
    def __init__(
        self,
        paths: ServicePaths,
        store: JsonlStore,
        settings: Settings,
        log: Callable[[str, str], None],
        on_exit: Callable[[], None],
        after_write: Callable[[], None],
    ) -> None:
        self.paths = paths
        self.store = store
        self.registry = Registry(paths, log=log)
        self.settings = settings
        self.log = log
        self.on_exit = on_exit
        self.after_write = after_write
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self.children_lock = threading.Lock()
        self.paused = False
        self.pause_reason: str | None = None
        self.shutting_down = False
        self.ticks = 0
        self.last_tick: str | None = None
        self.agents_alive = 0
        self.tasks_ready = 0
        self.spawned_last_tick = 0
        self._saturated = False
        self._idle_message = ""
        self._throttle_logged: dict[str, int] = {}
        self.last_error: str | None = None
        self.frozen = False
        self.reaper = Reaper(self)
        self.breaker = Breaker(self)
        self.wake_at: int | None = None  # epoch ns of the next auto_assign grace end (reaper.needs_tick)
        self.isolation_warned: set[str] = set()

    # -- graph writes -------------------------------------------------------------------------
    def _write(self, change: Callable[[Graph], Any]) -> Any:
        try:
            return self.store.transaction(change, now_ns())
        finally:
            self.after_write()

    # -- the tick -----------------------------------------------------------------------------
    def tick(self) -> None:
        self.ticks += 1
        n = self.ticks
        s = self.settings
        self.log("INFO", f"Coordinator tick #{n} starting (max_agents={s.max_agents}, executor={s.executor})")
        self.last_error = None
        try:
            self._phase_a()
            alive = self.live_count()
            graph = self.store.load()
            now = now_ns()
            cands, ready = candidates(graph, now, s.max_spawn_failures)
            self.tasks_ready = ready
            spawned = self._spawn_phase(graph, cands, alive)
            self.agents_alive = alive + spawned
            self.spawned_last_tick = spawned
        except Exception as exc:
            self.last_error = str(exc)
            self.log("ERROR", f"Coordinator tick error: {exc}")
        finally:
            self.last_tick = format_ts(now_ns())
        self.log(
            "INFO",
            f"Coordinator tick #{n} complete: agents_alive={self.agents_alive}, tasks_ready={self.tasks_ready}, "
            f"spawned={self.spawned_last_tick}",
        )

    def _phase_a(self) -> None:
        """Spec 5.2 phase A: runs on every tick, paused or saturated too."""
        from .isolation import sweep
        from .upkeep import maintain, scaffold

        r = self.reaper
        self.registry.repair()  # an unreadable registry is rebuilt before anything reads it (2.2)
        r.collect_exits()
        r.check_liveness()
        entries = r._entries()  # registry before graph: a working entry's claim is already written
        graph = self.store.load()
        r.stop_strays(graph, entries)
        r.timeouts(entries)
        if not self.frozen:
            self.breaker.check(entries)
        r.reconcile_claims()
        maintain(self)
        self._upkeep_step("agency scaffolding", scaffold)
        self._upkeep_step("worktree sweep", sweep)

    def _upkeep_step(self, what: str, step: Callable[[Dispatcher], object]) -> None:
        """A failing scaffolding or sweep step is logged; the tick goes on to spawn."""
        try:
            step(self)
        except Exception as exc:
            self.log("ERROR", f"[dispatcher] {what} failed: {exc}")

    def live_count(self) -> int:
        now_s = time.time()
        agents = self.registry.load()["agents"]
        return sum(1 for e in agents.values() if isinstance(e, dict) and entry_live(e, now_s))

    def _spawn_phase(self, graph: Graph, cands: list[Record], alive: int) -> int:
        if self.paused or self.shutting_down:
            return 0
        limit = self.breaker.spawn_limit()
        slots = (
            self.settings.max_agents - alive
            if limit is None
            else min(limit, self.settings.max_agents - alive)
        )
        if limit == 0:
            return 0
        if slots <= 0:
            if not self._saturated:
                self.log("INFO", f"[dispatcher] Max agents ({self.settings.max_agents}) running, waiting...")
            self._saturated = True
            return 0
        self._saturated = False
        if not cands:
            tasks = list(graph.tasks())
            terminal = sum(1 for t in tasks if t.get("status") in ("done", "abandoned", "failed"))
            msg = (
                f"[dispatcher] All {len(tasks)} tasks complete!"
                if tasks and terminal == len(tasks)
                else f"[dispatcher] No ready tasks (terminal: {terminal}/{len(tasks)})"
            )
            if msg != self._idle_message:
                self.log("INFO", msg)
                self._idle_message = msg
            return 0
        self._idle_message = ""
        spawned = 0
        pending = iter(cands)
        more = True
        while more and spawned < slots and not self.shutting_down:
            # plan the next candidates for the free slots, then claim them all in one graph transaction
            batch: list[_Planned] = []
            more = False
            for task in pending:
                if self.shutting_down:
                    break
                if not self._throttle_allows(task):
                    continue
                planned = self._plan(task)
                if planned is None:
                    continue
                batch.append(planned)
                if len(batch) >= slots - spawned:
                    more = True
                    break
            if not batch:
                break
            n = self._claim_and_spawn(batch)
            spawned += n
            if limit == 1:
                for _ in range(n):
                    self.breaker.probe_sent()
        return spawned

    def _throttle_allows(self, task: Record) -> bool:
        """Respawn throttle (5.6): a task with recent deaths waits or fails; a waiting task uses no slot."""
        from .outcomes import throttle

        tid = task["id"]
        verdict, n, at = throttle(task, now_ns(), self.settings.respawn_backoff_secs)
        if verdict == "spawn":
            self._throttle_logged.pop(tid, None)
            return True
        if verdict == "wait":
            if self._throttle_logged.get(tid) != n:
                self._throttle_logged[tid] = n
                self.log("INFO", f"[dispatcher] {tid}: respawn backoff: {n} deaths in 300s, next attempt after "
                         f"{format_ts(at or 0)}")  # fmt: skip
            return False

        def fail_loop(g: Graph) -> None:
            cur = g.get(tid)
            if cur is None or cur.get("status") not in ("open", "incomplete") or cur.get("assigned"):
                return
            stamp = format_ts(now_ns())
            entry = log_entry(stamp, f"Failed: rapid respawn loop detected ({n} deaths in 300s window)")
            g.update(
                tid,
                status="failed",
                failure_class="agent-died",
                failure_reason=f"Rapid respawn loop: {n} agent deaths in 300 seconds",
                log=[*(cur.get("log") or []), entry],
            )

        self._write(fail_loop)
        return False

    # -- claim and spawn (5.3) ----------------------------------------------------------------
    def _plan(self, task: Record) -> _Planned | None:
        """Step 1-2 of 5.3 for one candidate: its spawn plan, or None (waiting for assignment, or a planning
        failure, recorded on the task here)."""
        from ..executors import dispatch as ex

        tid = task["id"]
        cfg = ex.load(self.paths.wg_dir)
        if ex.awaits_assignment(task, cfg):
            return None
        try:
            plan, cfg = ex.plan_task(task, self.paths.wg_dir, self.settings, cfg)
        except ex.ExecutorNotFound as exc:
            missing = exc
            self.log("ERROR", f"[dispatcher] {tid}: {missing.message}")
            self._write(lambda g: ex.fail_missing_program(g, tid, missing, now_ns()))
            return None
        except ex.PlanError as exc:
            err, limit = exc.message, self.settings.max_spawn_failures
            mode, executor = str(task.get("exec_mode") or "full"), str(self.settings.executor)
            k = self._write(lambda g: ex.plan_failure_change(g, tid, err, now_ns(), limit, executor, mode))
            shown = limit if limit > 0 else "unlimited"
            self.log("WARN", f"[dispatcher] {tid}: Spawn failed (attempt {k}/{shown}): {err}. "
                     f"exec_mode={mode}, executor={executor}")  # fmt: skip
            return None
        self.log("INFO", plan.log_line(tid))
        return _Planned(task, plan, cfg, format_ts(now_ns()), ex.audits_dispatch(task, cfg))

    def _claim_and_spawn(self, batch: list[_Planned]) -> int:
        """Reserve an agent id for each planned task (one registry write), claim them all in one graph
        transaction (each claim a compare-and-set on the task as read in that transaction), then start the
        agents whose claim held. Returns how many started."""
        entries: list[dict[str, Any]] = []
        for p in batch:
            entry: dict[str, Any] = {"task_id": p.tid, "executor": p.plan.executor, "started_at": p.started}
            if p.plan.model:
                entry["model"] = p.plan.model
            entries.append(entry)
        agent_ids = self.registry.reserve_many(entries)

        def claim_all(g: Graph) -> list[Record | None]:
            return [_claim(g, p, agent_id) for p, agent_id in zip(batch, agent_ids, strict=True)]

        try:
            claims: list[Record | None] = self._write(claim_all)
        except WgError:
            claims = [self._claim_alone(p, agent_id) for p, agent_id in zip(batch, agent_ids, strict=True)]
        lost = [agent_id for agent_id, c in zip(agent_ids, claims, strict=True) if c is None]
        if lost:
            self.registry.delete_many(lost)
        launched: list[tuple[str, _Planned]] = []
        deferring = self.registry.defer()  # the started agents are registered in one write
        try:
            for p, agent_id, claimed in zip(batch, agent_ids, claims, strict=True):
                if claimed is None:
                    continue
                try:
                    self._start(agent_id, claimed, p.plan, p.cfg)
                except Exception as exc:
                    self._roll_back(agent_id, p.tid, exc, p.plan.exec_mode)
                    continue
                launched.append((agent_id, p))
        except BaseException:
            if deferring:
                self.registry.end_defer()
            raise
        if deferring:
            try:
                self.registry.end_defer()
            except Exception as exc:  # registering failed: stop each agent, revert its claim (5.3 step 7)
                for agent_id, p in launched:
                    with self.children_lock:
                        proc = self.children.get(agent_id)
                    if proc is not None:
                        _kill_group(proc.pid, signal.SIGKILL)
                    self._roll_back(agent_id, p.tid, exc, p.plan.exec_mode)
                return 0
        return len(launched)

    def _claim_alone(self, p: _Planned, agent_id: str) -> Record | None:
        """One claim in a transaction of its own (after a batch failed: only the failing task is skipped)."""
        try:
            claimed: Record | None = self._write(lambda g: _claim(g, p, agent_id))
        except WgError as exc:
            self.log("WARN", f"[dispatcher] {p.tid}: claim failed: {exc.message}")
            claimed = None
        return claimed

    def _start(self, agent_id: str, task: Record, plan: Any = None, cfg: Any = None) -> None:
        """Prepare the agent directory (5.3 step 4), start ``bash run.sh`` (5) and register it (6). Without a
        plan (``wg spawn``) the task is planned here with the reserved entry's executor and model."""
        from ..executors import dispatch as ex
        from ..executors.prepare import record_pid

        if plan is None:
            reserved = self.registry.load()["agents"].get(agent_id) or {}
            plan, cfg = ex.plan_task(
                task,
                self.paths.wg_dir,
                self.settings,
                spawn_executor=reserved.get("executor") if not task.get("exec") else None,
                spawn_model=reserved.get("model"),
            )
        from . import isolation

        target = isolation.target_for(self, task, plan.kind, plan.exec_mode, cfg)
        if target:
            self.registry.flush()  # worktree leases are read from the file: no queued registry update
        info = isolation.prepare(self, agent_id, task["id"], target) if target else None
        if target:
            self.registry.flush()
        try:
            launch = ex.prepare(
                plan,
                task,
                self.store.load(),
                agent_id=agent_id,
                wg_dir=self.paths.wg_dir,
                base_env={k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV},
                spawn_epoch=int(time.time()),
                cfg=cfg,
                worktree=info.env(self.paths.root) if info else None,
                worktree_meta=info.metadata() if info else None,
                warn=lambda line: self.log("WARN", f"[dispatcher] {task['id']}: {line}"),
            )
            with open(launch.output, "ab") as out:
                proc = subprocess.Popen(
                    launch.argv,
                    cwd=launch.cwd,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    env=launch.env,
                    start_new_session=True,
                )
        except BaseException:
            if info is not None:
                isolation.discard_fresh(self, info)
            raise
        with self.children_lock:
            self.children[agent_id] = proc
        record_pid(launch.agent_dir, proc.pid)
        try:
            self.registry.update(
                agent_id,
                pid=proc.pid,
                pgid=proc.pid,
                pid_start_time=proc_start_time(proc.pid),
                status="working",
                last_heartbeat=format_ts(now_ns()),
                output_file=launch.output,
                executor=plan.executor,
                model=plan.model,
            )
        except Exception:
            _kill_group(proc.pid, signal.SIGKILL)
            raise
        threading.Thread(target=self._wait_child, args=(proc,), name=f"wait-{agent_id}", daemon=True).start()
        self.log("INFO", f"[dispatcher] Spawned {agent_id} for task '{task['id']}' (PID {proc.pid})")

    def _wait_child(self, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        self.on_exit()

    def _roll_back(self, agent_id: str, tid: str, exc: Exception, exec_mode: str = "shell") -> None:
        """Spec 5.3 step 7 and 5.8: revert the claim, count the failure, trip the breaker at the limit."""
        self.log("ERROR", f"[dispatcher] {tid}: Spawn failed, reverting claim: {exc}")
        entry = self.registry.load()["agents"].get(agent_id) or {}
        executor = str(entry.get("executor") or "shell")
        limit = self.settings.max_spawn_failures
        k = self._write(
            lambda g: spawn_failure_change(g, tid, agent_id, str(exc), now_ns(), limit, executor, exec_mode)
        )
        shown = limit if limit > 0 else "unlimited"
        self.log(
            "WARN",
            f"[dispatcher] Spawn failed (attempt {k}/{shown}): {exc}. exec_mode={exec_mode}, executor={executor}",
        )
        if limit > 0 and k >= limit:
            self.log(
                "WARN",
                f"[dispatcher] {tid}: Circuit breaker tripped: spawn failed {k} times. Last error: {exc}.",
            )
        self.registry.update(
            agent_id, status="dead", death_reason="spawn-failed", completed_at=format_ts(now_ns())
        )

    # -- shutdown -----------------------------------------------------------------------------
    def kill_agents(self, force: bool) -> None:
        """Stop every live agent (group SIGTERM, 5 s, SIGKILL) and reopen its task (spec 3.3)."""
        self.reaper.kill_all(force)
