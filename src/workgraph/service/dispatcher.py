"""One dispatcher tick: collect exits, reconcile dead agents, claim and spawn (spec service 5.2-5.5).

This slice runs the ``shell`` executor only: a ready task with ``exec`` becomes ``bash run.sh`` (which runs
``bash -c <exec>``) in its own session, output in ``$WG/agents/agent-N/output.log``.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import threading
import time

from ..errors import WgError
from ..graph import Readiness
from ..model import log_entry
from ..timeutil import format_ts, now_ns
from .files import ServicePaths, pid_alive, proc_start_time
from .registry import LIVE_STATUSES, Registry, entry_live

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


def _priority(task: Record) -> int:
    value = task.get("priority", 10)
    if isinstance(value, str):
        return PRIORITY_NAMES.get(value, int(value) if value.lstrip("-").isdigit() else 10)
    return value if isinstance(value, int) else 10


def candidates(graph: Graph, now: int) -> tuple[list[Record], int]:
    """Ready tasks this dispatcher can run, in spawn order; and the count of all ready tasks."""
    ready = Readiness(graph, now).ready
    out = [
        t
        for t in ready
        if not t.get("assigned") and t.get("exec") and not EXCLUDED_TAGS.intersection(t.get("tags") or ())
    ]
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
        self.registry = Registry(paths)
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
        try:
            self._collect_exits()
            self._reconcile_registry()
            alive = self.live_count()
            graph = self.store.load()
            now = now_ns()
            cands, ready = candidates(graph, now)
            self.tasks_ready = ready
            spawned = self._spawn_phase(graph, cands, alive)
            self.agents_alive = alive + spawned
            self.spawned_last_tick = spawned
        except Exception as exc:
            self.log("ERROR", f"Coordinator tick error: {exc}")
        finally:
            self.last_tick = format_ts(now_ns())
        self.log(
            "INFO",
            f"Coordinator tick #{n} complete: agents_alive={self.agents_alive}, tasks_ready={self.tasks_ready}, "
            f"spawned={self.spawned_last_tick}",
        )

    def live_count(self) -> int:
        now_s = time.time()
        agents = self.registry.load()["agents"]
        return sum(1 for e in agents.values() if isinstance(e, dict) and entry_live(e, now_s))

    def _spawn_phase(self, graph: Graph, cands: list[Record], alive: int) -> int:
        if self.paused or self.shutting_down:
            return 0
        slots = self.settings.max_agents - alive
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
        for task in cands:
            if spawned >= slots or self.shutting_down:
                break
            if self._claim_and_spawn(task):
                spawned += 1
        return spawned

    # -- claim and spawn (5.3) ----------------------------------------------------------------
    def _claim_and_spawn(self, task: Record) -> bool:
        tid = task["id"]
        self.log(
            "INFO",
            f"[dispatcher] {tid}: SpawnPlan executor=shell (from task.exec), model=none, endpoint=none",
        )
        started = format_ts(now_ns())
        agent_id = self.registry.reserve({"task_id": tid, "executor": "shell", "started_at": started})

        def claim(g: Graph) -> Record | None:
            cur = g.get(tid)
            if cur is None or cur.get("status") not in ("open", "incomplete") or cur.get("assigned"):
                return None
            return g.update(
                tid,
                status="in-progress",
                assigned=agent_id,
                started_at=started,
                dispatch_count=int(cur.get("dispatch_count") or 0) + 1,
                log=[*(cur.get("log") or []), log_entry(started, "Spawned by dispatcher --executor shell")],
            )

        try:
            claimed = self._write(claim)
        except WgError as exc:
            self.log("WARN", f"[dispatcher] {tid}: claim failed: {exc.message}")
            claimed = None
        if claimed is None:
            self.registry.delete(agent_id)
            return False
        try:
            self._start(agent_id, claimed)
        except Exception as exc:
            self._roll_back(agent_id, tid, exc)
            return False
        return True

    def _start(self, agent_id: str, task: Record) -> None:
        adir = os.path.join(self.paths.agents, agent_id)
        os.makedirs(adir, exist_ok=False)
        cmd = str(task["exec"])
        output = os.path.join(adir, "output.log")
        run_sh = os.path.join(adir, "run.sh")
        with open(os.path.join(adir, "prompt.txt"), "w", encoding="utf-8") as fh:
            fh.write(f"[inline shell task — no LLM prompt; runs: {cmd}]\n")
        exit_file = os.path.join(adir, "exit_code")
        with open(run_sh, "w", encoding="utf-8") as fh:
            fh.write(
                "#!/bin/bash\n"
                f"# wg shell agent {agent_id} for task {task['id']}\n"
                f"cd {shlex.quote(self.paths.root)} || exit 1\n"
                f"bash -c {shlex.quote(cmd)}\n"
                "code=$?\n"
                f'printf "%s\\n" "$code" > {shlex.quote(exit_file + ".tmp")} && '
                f"mv -f {shlex.quote(exit_file + '.tmp')} {shlex.quote(exit_file)}\n"
                'exit "$code"\n'
            )
        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update(WG_TASK_ID=task["id"], WG_AGENT_ID=agent_id, WG_DIR=self.paths.wg_dir)
        with open(output, "ab") as out:
            proc = subprocess.Popen(
                ["bash", run_sh],
                cwd=self.paths.root,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
        with self.children_lock:
            self.children[agent_id] = proc
        meta = {
            "agent_id": agent_id,
            "pid": proc.pid,
            "task_id": task["id"],
            "executor": "shell",
            "model": None,
            "started_at": task.get("started_at"),
            "timeout_secs": None,
            "artifacts_at_spawn": list(task.get("artifacts") or []),
        }
        with open(os.path.join(adir, "metadata.json"), "w", encoding="utf-8") as fh:
            json.dump(meta, fh, indent=2)
        try:
            self.registry.update(
                agent_id,
                pid=proc.pid,
                pgid=proc.pid,
                pid_start_time=proc_start_time(proc.pid),
                status="working",
                last_heartbeat=format_ts(now_ns()),
                output_file=output,
            )
        except Exception:
            _kill_group(proc.pid, signal.SIGKILL)
            raise
        threading.Thread(target=self._wait_child, args=(proc,), name=f"wait-{agent_id}", daemon=True).start()
        self.log("INFO", f"[dispatcher] Spawned {agent_id} for task '{task['id']}' (PID {proc.pid})")

    def _wait_child(self, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        self.on_exit()

    def _roll_back(self, agent_id: str, tid: str, exc: Exception) -> None:
        self.log("ERROR", f"[dispatcher] {tid}: Spawn failed, reverting claim: {exc}")

        def revert(g: Graph) -> None:
            cur = g.get(tid)
            if cur is None or cur.get("assigned") != agent_id:
                return
            stamp = format_ts(now_ns())
            g.update(
                tid,
                status="open",
                assigned=None,
                started_at=None,
                log=[*(cur.get("log") or []), log_entry(stamp, f"Spawn failed, reverting claim: {exc}")],
            )

        self._write(revert)
        self.registry.update(
            agent_id, status="dead", death_reason="spawn-failed", completed_at=format_ts(now_ns())
        )

    # -- exits and deaths (5.4, 5.5) ----------------------------------------------------------
    def _collect_exits(self) -> None:
        with self.children_lock:
            finished = [(a, p) for a, p in self.children.items() if p.poll() is not None]
            for agent_id, _ in finished:
                del self.children[agent_id]
        entries = self.registry.load()["agents"]
        for agent_id, proc in finished:
            entry = entries.get(agent_id) or {}
            self._complete(
                agent_id,
                str(entry.get("task_id", "")),
                int(proc.returncode or 0) if proc.returncode >= 0 else 128 - proc.returncode,
            )

    def _complete(self, agent_id: str, tid: str, code: int) -> None:
        def change(g: Graph) -> str:
            from ..transitions import done, fail

            cur = g.get(tid)
            if cur is None:
                return "missing"
            if cur.get("status") != "in-progress" or cur.get("assigned") != agent_id:
                return str(cur.get("status"))
            stamp = format_ts(now_ns())
            if code == 0:
                g.update(
                    tid,
                    log=[
                        *(cur.get("log") or []),
                        log_entry(stamp, "Execution completed successfully", agent_id),
                    ],
                )
                try:
                    return str(done(g, tid, now_ns())["task"].get("status"))
                except WgError as exc:
                    cur = g.get(tid) or cur
                    g.update(
                        tid,
                        status="open",
                        assigned=None,
                        started_at=None,
                        log=[*(cur.get("log") or []), log_entry(stamp, f"Could not complete: {exc.message}")],
                    )
                    return "open"
            g.update(
                tid,
                log=[
                    *(cur.get("log") or []),
                    log_entry(stamp, f"Execution failed with exit code {code}", agent_id),
                ],
            )
            fail(
                g,
                tid,
                now_ns(),
                reason=f"Command exited with code {code}",
                failure_class="agent-exit-nonzero",
            )
            return "failed"

        try:
            status = self._write(change)
        except WgError as exc:
            self.log("ERROR", f"[dispatcher] {agent_id}: completion of '{tid}' failed: {exc.message}")
            status = "failed"
        reg_status = (
            "done"
            if status in ("done", "pending-eval")
            else "failed"
            if code != 0 or "failed" in status
            else "dead"
        )
        self.registry.update(agent_id, status=reg_status, exit_code=code, completed_at=format_ts(now_ns()))
        self.log("INFO", f"[dispatcher] Agent {agent_id} for task '{tid}' exited with code {code}")

    def _reconcile_registry(self) -> None:
        """Entries with a live status whose process is gone and is not ours to reap: exit_code file or death."""
        now_s = time.time()
        with self.children_lock:
            ours = set(self.children)
        for agent_id, entry in list(self.registry.load()["agents"].items()):
            if agent_id in ours or not isinstance(entry, dict) or entry.get("status") not in LIVE_STATUSES:
                continue
            if entry_live(entry, now_s):
                continue
            tid = str(entry.get("task_id", ""))
            code = _read_exit_code(os.path.join(self.paths.agents, agent_id, "exit_code"))
            if code is not None:
                self._complete(agent_id, tid, code)
            else:
                self._death(agent_id, entry, tid)

    def _death(self, agent_id: str, entry: dict[str, Any], tid: str) -> None:
        pid = entry.get("pid")
        reused = isinstance(pid, int) and pid_alive(pid)
        cause = (
            f"Task unclaimed: agent '{agent_id}' dead (PID reused by different process)"
            if reused
            else f"Task unclaimed: agent '{agent_id}' never started"
            if not pid
            else f"Task unclaimed: agent '{agent_id}' (PID {pid}) process exited"
        )

        def change(g: Graph) -> None:
            cur = g.get(tid)
            if cur is None or cur.get("status") != "in-progress" or cur.get("assigned") != agent_id:
                return
            stamp = format_ts(now_ns())
            retries = int(cur.get("retry_count") or 0)
            limit = cur.get("max_retries")
            limit = limit if isinstance(limit, int) else self.settings.max_retries
            log = list(cur.get("log") or [])
            if retries < limit:
                log.append(log_entry(stamp, cause))
                g.update(tid, status="open", assigned=None, started_at=None, retry_count=retries + 1, log=log)
            else:
                what = cause.split(f"agent '{agent_id}' ", 1)[1]
                reason = f"Retry limit reached (max_retries={limit}): agent '{agent_id}' {what} on attempt {retries + 1}"
                log.append(log_entry(stamp, reason))
                g.update(tid, status="failed", failure_class="agent-died", failure_reason=reason, log=log)

        self._write(change)
        self.registry.update(agent_id, status="dead", death_reason=cause, completed_at=format_ts(now_ns()))
        self.log("WARN", f"[dispatcher] {cause} (task '{tid}')")

    # -- shutdown -----------------------------------------------------------------------------
    def kill_agents(self, force: bool) -> None:
        """Stop every live agent (group SIGTERM, 5 s, SIGKILL) and reopen its task (spec 3.3)."""
        now_s = time.time()
        entries = {
            a: e
            for a, e in self.registry.load()["agents"].items()
            if isinstance(e, dict) and entry_live(e, now_s)
        }
        for e in entries.values():
            if isinstance(e.get("pgid"), int):
                _kill_group(e["pgid"], signal.SIGKILL if force else signal.SIGTERM)
        deadline = time.monotonic() + (0 if force else 5)
        while time.monotonic() < deadline and any(_group_alive(e.get("pgid")) for e in entries.values()):
            time.sleep(0.05)
        for e in entries.values():
            if _group_alive(e.get("pgid")):
                _kill_group(e["pgid"], signal.SIGKILL)
        with self.children_lock:
            for proc in self.children.values():
                try:
                    proc.wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
            self.children.clear()
        for agent_id, e in entries.items():
            tid = str(e.get("task_id", ""))
            msg = f"Task unclaimed: agent '{agent_id}' was killed (service stop --kill-agents)"

            def change(g: Graph, tid: str = tid, agent_id: str = agent_id, msg: str = msg) -> None:
                cur = g.get(tid)
                if cur is None or cur.get("status") != "in-progress" or cur.get("assigned") != agent_id:
                    return
                log = [*(cur.get("log") or []), log_entry(format_ts(now_ns()), msg)]
                g.update(tid, status="open", assigned=None, started_at=None, log=log)

            self._write(change)
            self.registry.update(
                agent_id, status="dead", death_reason="killed", completed_at=format_ts(now_ns())
            )


def _read_exit_code(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _group_alive(pgid: object) -> bool:
    if not isinstance(pgid, int):
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
