"""One supervisor per chat inside the daemon (spec chats.md 3.2): spawn the handler, classify its exit,
decide whether to respawn. Every sleep waits on ``stop`` so archive/purge/shutdown take effect at once.
"""

from __future__ import annotations

import os
import signal
import threading
import time

from . import model as cm
from .store import is_idle, lock_holder, tui_holder

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    from typing import Any

    from ..model import Record
    from .manager import ChatManager


class Supervisor:
    def __init__(self, mgr: ChatManager, n: int) -> None:
        self.mgr = mgr
        self.n = n
        self.pfx = f"Coordinator-{n}"
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.crashes: list[float] = []
        self.contentions = 0
        self.restart = False  # hot swap: the next exit is not classified
        self.state = "starting"
        self.paused_until: float | None = None
        self.task_id = cm.task_id_of(n)
        self.starts = 0
        self.thread = threading.Thread(target=self.run, name=f"chat-{n}", daemon=True)

    # -- control from other threads -------------------------------------------------------------
    def request_stop(self) -> None:
        with self.lock:
            self.stop.set()
            proc = self.proc
        if proc is not None and proc.poll() is None:
            _killpg(proc.pid, signal.SIGTERM)

    def kill_now(self) -> None:
        with self.lock:
            proc = self.proc
        if proc is not None and proc.poll() is None:
            _killpg(proc.pid, signal.SIGKILL)

    def handler_pid(self) -> int | None:
        with self.lock:
            proc = self.proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def hot_swap(self) -> int | None:
        """Restart the handler without counting a crash (``set_chat_executor``)."""
        with self.lock:
            proc = self.proc
            if proc is None or proc.poll() is not None:
                return None
            self.restart = True
        _killpg(proc.pid, signal.SIGTERM)
        return proc.pid

    # -- the loop ----------------------------------------------------------------------------------
    def _log(self, message: str, level: str = "INFO") -> None:
        self.mgr.log(level, f"{self.pfx}: {message}")

    def _sleep(self, seconds: float) -> bool:
        """True when ``stop`` fired during the sleep."""
        return self.stop.wait(max(0.0, seconds))

    def _nap(self, seconds: float) -> bool:
        """Sleep; True to go on, False (after step 12) when ``stop`` fired."""
        if self._sleep(seconds):
            self._final()
            return False
        return True

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug must not take the daemon down; the entry is reaped below
            self._log(f"supervisor error: {type(exc).__name__}: {exc}", "ERROR")
        finally:
            self.state = "exited"
            self.mgr.reap(self)

    def _idle(self) -> bool:
        return is_idle(self.mgr.chats.chat_dir(self.n), self.mgr.idle_secs)

    def _idle_exit(self) -> None:
        self._log(
            f"idle (no consumer + empty inbox for {self.mgr.idle_secs}s) — exiting supervisor (no respawn)."
        )

    def _loop(self) -> None:
        while True:
            if self.stop.is_set():
                return self._final()
            if not self._crash_gate():
                return
            task = self._check()
            if task is None:
                return
            chat_dir = self.mgr.chats.register(self.n)
            tui = tui_holder(chat_dir)
            if tui is not None:
                self._log(f"TUI sentinel alive (pid={tui}) — deferring respawn 5s")
                self.state = "deferred"
                if self._sleep(cm.RETRY_SLEEP):
                    return self._final()
                continue
            if task.get("command_argv") and not task.get("executor_preset_name"):
                self._log("custom-command chat — the TUI owns the pane; not spawning (retry in 5s)")
                self.state = "custom-command"
                if self._sleep(cm.RETRY_SLEEP):
                    return self._final()
                continue
            if not self._run_once(task, chat_dir):
                return

    def _crash_gate(self) -> bool:
        """Step 1. False when the supervisor exits (dormant after the pause, or stopped)."""
        now = time.monotonic()
        self.crashes = [t for t in self.crashes if now - t < cm.CRASH_WINDOW]
        if len(self.crashes) < cm.CRASH_BUDGET:
            return True
        pause = cm.CRASH_WINDOW - (now - self.crashes[0])
        self._log(f"{cm.CRASH_BUDGET} crashes in last 10 minutes, pausing for {pause:.0f}s", "WARN")
        self.state = "crash-paused"
        self.paused_until = time.time() + pause
        if self._sleep(pause):
            self._final()
            return False
        self.crashes.clear()
        self.paused_until = None
        if self._idle():
            self._idle_exit()
            return False
        return True

    def _check(self, final: bool = False) -> Record | None:
        """Steps 2-4: the live task, or None after logging why the supervisor exits."""
        try:
            graph = self.mgr.store.load()
        except Exception as exc:
            self._log(f"failed to load graph for pre-flight task check: {exc}. Exiting supervisor.", "ERROR")
            return None
        task = cm.find_task(graph, self.n)
        if task is None:
            self._log(
                f"orphan supervisor — neither .chat-{self.n} nor .coordinator-{self.n} exists in the graph. "
                f"Exiting supervisor (no restart loop). Removing stale coordinator-state-{self.n}.json so a "
                "daemon restart does not retry.",
                "WARN",
            )
            self.mgr.chats.remove_state(self.n)
            return None
        self.task_id = str(task["id"])
        if cm.is_terminal(task):
            self._log(f"chat task {task['id']} is archived/Done/Abandoned — exiting supervisor (no respawn).")
            return None
        return task

    def _final(self) -> None:
        """Step 12 (the handler was signalled by ``request_stop``)."""
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                proc.wait(timeout=cm.STOP_GRACE)
            except Exception:
                _killpg(proc.pid, signal.SIGKILL)
                try:
                    proc.wait(timeout=2)
                except Exception:
                    pass
        if self._check() is not None:
            self._log("stopped — exiting supervisor (no respawn).")

    def _run_once(self, task: Record, chat_dir: str) -> bool:
        """Steps 8-11. False when the supervisor exits."""
        try:
            plan = self.mgr.plan(self.n, task)
        except Exception as exc:
            self.crashes.append(time.monotonic())
            self._log(f"cannot plan handler: {exc}", "ERROR")
            return self._nap(cm.RETRY_SLEEP)
        self._log(
            f"handler plan: executor={plan['executor']}, model={plan['model'] or 'default'}, "
            f"endpoint={plan['endpoint'] or 'default'}, stderr={plan['stderr_log']}"
        )
        started = time.monotonic()
        try:
            proc = self.mgr.spawn(self.n, task, plan)
        except OSError as exc:
            self.crashes.append(time.monotonic())
            self._log(f"spawn failed: {exc}", "ERROR")
            return self._nap(cm.RETRY_SLEEP)
        with self.lock:
            self.proc = proc
            stopping = self.stop.is_set()
        if stopping:
            _killpg(proc.pid, signal.SIGTERM)
        self.starts += 1
        self.state = "running"
        self._log(f"handler running (pid {proc.pid})")
        rc = proc.wait()
        elapsed = time.monotonic() - started
        holder = lock_holder(chat_dir)
        if self.stop.is_set():
            self._final()
            return False
        with self.lock:
            swapped, self.restart = self.restart, False
        if swapped:
            return True
        return self._classify(rc, elapsed, holder, proc.pid)

    def _classify(self, rc: int, elapsed: float, holder: int | None, pid: int) -> bool:
        if rc == 0:
            self.contentions = 0
            if self._idle():
                self._idle_exit()
                return False
            self.state = "respawning"
            return self._nap(cm.CLEAN_RESPAWN_DELAY)
        if rc == cm.CONTENTION_EXIT or (
            elapsed < cm.CONTENTION_WINDOW and holder is not None and holder != pid
        ):
            self.contentions += 1
            if self.contentions >= cm.CONTENTION_MAX:
                self._log(
                    f"another handler owns the chat (pid {holder}) — {self.contentions} lock contentions in a "
                    "row, exiting supervisor.",
                    "WARN",
                )
                return False
            wait = min(10 * self.contentions, 60)
            self._log(
                f"session lock busy (holder pid {holder}) — contention #{self.contentions}, retrying in {wait}s"
            )
            self.state = "lock-contention"
            return self._nap(wait)
        self.contentions = 0
        self.crashes.append(time.monotonic())
        status = f"with status {rc}" if rc > 0 else f"by signal {-rc}"
        self._log(f"handler exited {status} — will restart", "WARN")
        return True

    def info(self) -> dict[str, Any]:
        return {
            "chat_id": self.n,
            "task_id": self.task_id,
            "state": self.state,
            "handler_pid": self.handler_pid(),
            "crashes": len(self.crashes),
            "paused_until": self.paused_until,
        }


def _killpg(pid: int, sig: int) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
