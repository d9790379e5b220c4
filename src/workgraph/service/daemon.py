"""The daemon process (hidden ``wg service daemon``, spec service 3.2, 5.1, 5.9).

Threads: the main thread waits for shutdown and stats ``graph.jsonl`` each second (the watcher); one
dispatcher thread runs ticks (never overlapping); the IPC server runs one thread per connection.
"""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import threading
import time

from ..timeutil import format_ts, now_ns
from .dispatcher import Dispatcher, Settings
from .files import ServicePaths, read_json, read_pid, write_json_atomic
from .ipc import InvalidRequest, IpcServer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LOG_LIMIT = 10 * 1024 * 1024
BURST_CAP = 0.2


class DaemonLog:
    """``<UTC ts> [LEVEL] message`` lines in ``daemon.log``, rotated at 10 MiB (one backup)."""

    def __init__(self, path: str, echo: bool) -> None:
        self.path = path
        self.echo = echo
        self.lock = threading.Lock()

    def __call__(self, level: str, message: str) -> None:
        t = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}Z"
        line = f"{stamp} [{level}] {message}\n"
        with self.lock:
            try:
                if os.path.getsize(self.path) > LOG_LIMIT:
                    os.replace(self.path, self.path + ".1")
            except OSError:
                pass
            try:
                with open(self.path, "a", encoding="utf-8") as fh:
                    fh.write(line)
            except OSError:
                pass
            if self.echo:
                sys.stderr.write(line)


def settings_from(wg_dir: str, overrides: dict[str, Any]) -> Settings:
    """Effective dispatcher settings: start flags over ``[dispatcher]`` config over defaults."""
    from ..config import load_config

    cfg = load_config(wg_dir, quiet=True, strict=True)
    interval = cfg.get("dispatcher.poll_interval", None)
    if interval is None:
        interval = cfg.get("dispatcher.safety_interval", 60)
    s = Settings(
        max_agents=cfg.get_int("dispatcher.max_agents", 8),
        poll_interval=float(interval) if isinstance(interval, int | float) else 60.0,
        executor=str(cfg.get("dispatcher.executor", None) or "claude"),
        model=cfg.get("dispatcher.model", None),
    )
    s.settling_delay_ms = cfg.get_int("dispatcher.settling_delay_ms", 20)
    s.graph_watch_enabled = cfg.get("dispatcher.graph_watch_enabled", True) is not False
    s.max_retries = cfg.get_int("dispatcher.max_retries", 3)
    s.max_spawn_failures = cfg.get_int("dispatcher.max_spawn_failures", 5)
    s.respawn_backoff_secs = cfg.get_int("dispatcher.respawn_backoff_secs", 60)
    s.zero_output_timeout = cfg.get_int("dispatcher.zero_output_timeout", 300)
    s.zero_output_max_respawns = cfg.get_int("dispatcher.zero_output_max_respawns", 2)
    s.reaper_grace_seconds = cfg.get_int("agent.reaper_grace_seconds", 30)
    s.on_provider_failure = str(cfg.get("dispatcher.on_provider_failure", None) or "pause")
    s.provider_failure_threshold = cfg.get_int("dispatcher.provider_failure_threshold", 3)
    try:
        s.auto_evaluate = cfg.agency_flag("auto_evaluate")
    except Exception:
        s.auto_evaluate = False
    for key in ("max_agents", "poll_interval", "executor", "model"):
        if overrides.get(key) is not None:
            setattr(s, key, overrides[key])
    if float(s.poll_interval).is_integer():
        s.poll_interval = int(s.poll_interval)  # JSON keeps 60, not 60.0, like the original
    return s


class Daemon:
    def __init__(
        self, wg_dir: str, socket_path: str | None, overrides: dict[str, Any], foreground: bool
    ) -> None:
        self.paths = ServicePaths(wg_dir)
        os.makedirs(self.paths.dir, exist_ok=True)
        self.socket_path = os.path.abspath(socket_path) if socket_path else self.paths.default_socket()
        self.overrides = {k: v for k, v in overrides.items() if v is not None}
        self.log = DaemonLog(self.paths.log, foreground)
        self.cond = threading.Condition()  # an RLock: signal handlers may take it on the main thread
        self.due: float | None = None
        self.burst_start: float | None = None
        self.stop = threading.Event()
        self.own_stat: tuple[int, int, int] | None = None
        self.seen_stat: tuple[int, int, int] | None = None
        self.started_at = format_ts(now_ns())
        self.kill_agents = False
        self.force = False
        self.frozen_pids: list[int] = []
        self.state_lock = threading.Lock()  # one save at a time: the last write is the newest state

    # -- lifecycle ----------------------------------------------------------------------------
    def run(self) -> int:
        lock_fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = read_pid(self.paths.lock)
            self.log("INFO", f"Another daemon holds the lock (PID {holder}); exiting")
            os.close(lock_fd)
            return 3
        pid = os.getpid()
        self.log("INFO", f"Daemon starting (PID {pid}, socket {self.socket_path})")
        try:
            return self._run_locked(lock_fd)
        except Exception as exc:
            import traceback

            self.log("FATAL", f"PANIC: {exc}\n{traceback.format_exc()}")
            return 1

    def _run_locked(self, lock_fd: int) -> int:
        from ..config import ConfigError
        from .cachedstore import CachedStore

        try:
            settings = settings_from(self.paths.wg_dir, self.overrides)
        except ConfigError as exc:
            self.log("ERROR", f"Config error: {exc}")
            self.log("ERROR", "  Fix: correct the file and start again")
            self.log(
                "FATAL",
                "Configuration validation failed with 1 error(s). Run 'wg config --show' for details.",
            )
            return 1
        self.server = IpcServer(self.socket_path, self.handle, self.log)
        write_json_atomic(
            self.paths.state,
            {"pid": os.getpid(), "socket_path": self.socket_path, "started_at": self.started_at},
        )
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
        self.dispatcher = Dispatcher(
            self.paths, CachedStore(self.paths.wg_dir), settings, self.log, self.kick, self._note_own_write
        )
        self._load_dispatcher_state()
        self.dispatcher.reaper.readopt()
        s = settings
        self.log(
            "INFO",
            f"Coordinator config: poll_interval={s.poll_interval:g}s, max_agents={s.max_agents}, "
            f"executor={s.executor}, model={s.model or 'default'}",
        )
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: self.stop.set())
        from ..chat.manager import ChatManager  # boot step 5: chat supervisors (spec chats.md 5)

        self.chats = ChatManager(
            self.paths.wg_dir, self.log, no_chat_agent=bool(self.overrides.get("no_chat_agent"))
        )
        self.chats.boot()
        self.server.start()
        self.seen_stat = self._graph_stat()
        ticker = threading.Thread(target=self._tick_loop, name="dispatcher", daemon=True)
        self.kick()
        ticker.start()
        while not self.stop.wait(1.0):
            self._watch()
            try:
                if self.dispatcher.reaper.needs_tick():
                    self.kick()  # an adopted agent's exit, a due timeout or zero-output kill (5.9)
            except Exception as exc:
                self.log("WARN", f"adopted-agent check failed: {exc}")
        self._shutdown(ticker)
        return 0

    def _shutdown(self, ticker: threading.Thread) -> None:
        self.log("INFO", "Daemon shutting down")
        self.dispatcher.shutting_down = True
        self.server.close()
        self.chats.shutdown()
        with self.cond:
            self.cond.notify_all()
        ticker.join(timeout=30)
        self.dispatcher.reaper.drain(8)
        if self.kill_agents:
            self.dispatcher.kill_agents(self.force)
        self._save_dispatcher_state()
        try:
            os.unlink(self.paths.state)
        except OSError:
            pass
        self.log("INFO", "Daemon shutdown complete")

    # -- triggers (5.1) -----------------------------------------------------------------------
    def kick(self) -> None:
        with self.cond:
            self.due = time.monotonic()
            self.cond.notify_all()

    def graph_changed(self) -> None:
        now = time.monotonic()
        with self.cond:
            if self.burst_start is None:
                self.burst_start = now
            at = min(now + self.dispatcher.settings.settling_delay_ms / 1000, self.burst_start + BURST_CAP)
            if self.due is None or self.due > now:  # keep a pending kick; else (re)arm the debounce
                self.due = at
            self.cond.notify_all()

    def _tick_loop(self) -> None:
        last = time.monotonic()
        while not self.stop.is_set():
            with self.cond:
                now = time.monotonic()
                safety = last + self.dispatcher.settings.poll_interval
                due = safety if self.due is None else min(self.due, safety)
                if now < due:
                    self.cond.wait(timeout=due - now)
                    continue
                self.due = None
                self.burst_start = None
            delay = int(os.environ.get("WG_TEST_TICK_DELAY_MS", "0") or 0)
            if delay:
                time.sleep(delay / 1000)
            self.dispatcher.tick()
            self._save_dispatcher_state()
            last = time.monotonic()

    def _graph_stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(os.path.join(self.paths.wg_dir, "graph.jsonl"))
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _note_own_write(self) -> None:
        self.own_stat = self._graph_stat()

    def _watch(self) -> None:
        if not self.dispatcher.settings.graph_watch_enabled:
            return
        cur = self._graph_stat()
        if cur != self.seen_stat:
            self.seen_stat = cur
            if cur != self.own_stat:
                self.graph_changed()

    # -- persisted dispatcher state -------------------------------------------------------------
    def _load_dispatcher_state(self) -> None:
        data = read_json(self.paths.dispatcher_state) or {}
        self.dispatcher.paused = bool(data.get("paused"))
        reason = data.get("pause_reason")
        self.dispatcher.pause_reason = reason if isinstance(reason, str) else None
        self.dispatcher.frozen = bool(data.get("frozen"))
        pids = data.get("frozen_pids")
        self.frozen_pids = [p for p in pids if isinstance(p, int)] if isinstance(pids, list) else []

    def _save_dispatcher_state(self) -> None:
        """Called by the tick thread and by IPC threads (pause, resume, freeze, ...): each save reads the
        in-memory state under ``state_lock``, so an older snapshot never lands after a newer one."""
        with self.state_lock:
            self._save_dispatcher_state_locked()

    def _save_dispatcher_state_locked(self) -> None:
        from .. import __version__

        d, s = self.dispatcher, self.dispatcher.settings
        old = read_json(self.paths.dispatcher_state) or {}
        data = {
            **old,
            "enabled": True,
            "max_agents": s.max_agents,
            "poll_interval": s.poll_interval,
            "executor": s.executor,
            "model": s.model,
            "ticks": d.ticks,
            "last_tick": d.last_tick,
            "agents_alive": d.agents_alive,
            "tasks_ready": d.tasks_ready,
            "agents_spawned": d.spawned_last_tick,
            "paused": d.paused,
            "pause_reason": d.pause_reason,
            "frozen": d.frozen,
            "frozen_pids": self.frozen_pids if d.frozen else [],
            "accumulated_tokens": old.get("accumulated_tokens", 0),
            "cost_tracking": old.get("cost_tracking"),
            "flag_overrides": self.overrides,
            "wg_version": __version__,
        }
        try:
            write_json_atomic(self.paths.dispatcher_state, data, pretty=True)
        except OSError as exc:
            self.log("WARN", f"Could not save dispatcher state: {exc}")

    # -- IPC (4) ------------------------------------------------------------------------------
    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req["cmd"]
        if cmd == "graph_changed":
            self.log(
                "INFO",
                f"GraphChanged received, scheduling coordinator tick in "
                f"{self.dispatcher.settings.settling_delay_ms}ms (settling delay)",
            )
            self.graph_changed()
            return {"ok": True, "status": "ok", "action": "coordinator_wake_scheduled"}
        if cmd == "kick_dispatcher":
            self.log("INFO", "KickDispatcher received, ticking immediately (no settling delay)")
            self.kick()
            return {"ok": True, "status": "ok", "action": "dispatcher_kicked"}
        if cmd == "status":
            return {"ok": True, **self.status()}
        if cmd == "shutdown":
            self.force = _bool_field(req, "force")
            self.kill_agents = _bool_field(req, "kill_agents")
            self.dispatcher.shutting_down = True
            self.log("INFO", f"Shutdown requested (force={self.force}, kill_agents={self.kill_agents})")
            return {
                "ok": True,
                "status": "shutting_down",
                "kill_agents": self.kill_agents,
                "__after__": self.stop.set,
            }
        if cmd == "pause":
            reason = req.get("reason")
            if reason is not None and not isinstance(reason, str):
                raise InvalidRequest("field 'reason' must be a string")
            self.dispatcher.paused = True
            self.dispatcher.pause_reason = reason or "paused by user"
            self._save_dispatcher_state()
            self.log("INFO", f"Dispatch paused ({self.dispatcher.pause_reason})")
            return {"ok": True, "status": "paused"}
        if cmd in ("freeze", "thaw", "reconfigure"):
            from .control import CONTROL

            return CONTROL[cmd](self, req)
        if cmd == "resume":
            self.dispatcher.paused = False
            self.dispatcher.pause_reason = None
            self._save_dispatcher_state()
            self.log("INFO", "Dispatch resumed")
            self.kick()
            return {"ok": True, "status": "resumed"}
        from .handlers import HANDLERS  # agents and tasks: spawn, agents, kill, heartbeat, ...

        if cmd in HANDLERS:
            return HANDLERS[cmd](self, req)
        raise InvalidRequest(f"unknown command '{cmd}'")

    def status(self) -> dict[str, Any]:
        import time as _t

        from .registry import entry_live

        d, s = self.dispatcher, self.dispatcher.settings
        agents = d.registry.load()["agents"]
        now_s = _t.time()
        live = [e for e in agents.values() if isinstance(e, dict) and entry_live(e, now_s)]
        idle = sum(1 for e in live if e.get("status") == "idle")
        return {
            "status": "running",
            "pid": os.getpid(),
            "socket": self.socket_path,
            "started_at": self.started_at,
            "agents": {"alive": len(live) - idle, "idle": idle, "total": len(agents)},
            "coordinator": {
                "enabled": True,
                "paused": d.paused,
                "pause_reason": d.pause_reason,
                "frozen": d.frozen,
                "frozen_pids": self.frozen_pids if d.frozen else [],
                "max_agents": s.max_agents,
                "poll_interval": s.poll_interval,
                "executor": s.executor,
                "model": s.model,
                "ticks": d.ticks,
                "last_tick": d.last_tick,
                "agents_alive": d.agents_alive,
                "tasks_ready": d.tasks_ready,
                "agents_spawned_last_tick": d.spawned_last_tick,
            },
            "chats": self.chats.status() if hasattr(self, "chats") else None,
        }


def _bool_field(req: dict[str, Any], name: str) -> bool:
    value = req.get(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"field '{name}' must be a boolean")
    return value
