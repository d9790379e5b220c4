"""The daemon's side of chats (spec chats.md 3.1, 3.4, 5): boot enumeration and migration, one
supervisor per live chat, lazy starts, stops, shutdown, and the handler's process and pipes.
"""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
import threading
import time

from ..store.jsonl import JsonlStore
from . import model as cm
from .ops import chat_settings, effective_settings
from .store import ChatStore
from .supervisor import Supervisor, _killpg

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..model import Record


def _wg_argv() -> list[str]:
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "wg" and os.path.isfile(argv0):
        return [os.path.abspath(argv0)]
    return [sys.executable, "-c", "import sys; from workgraph.cli import main; sys.exit(main())"]


class PipeLogger:
    """One thread reading every handler's stdout/stderr into ``daemon.log`` (and the stderr log file)."""

    def __init__(self, log: Callable[[str, str], None]) -> None:
        self.log = log
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, None)
        self.closed = False
        self.thread = threading.Thread(target=self._run, name="chat-pipes", daemon=True)
        self.thread.start()

    def add(self, fileobj: Any, n: int, stream: str, copy_to: str | None) -> None:
        os.set_blocking(fileobj.fileno(), False)
        with self.lock:
            self.sel.register(fileobj, selectors.EVENT_READ, [n, stream, copy_to, b""])
        os.write(self.wake_w, b"x")

    def close(self) -> None:
        self.closed = True
        try:
            os.write(self.wake_w, b"x")
        except OSError:
            pass

    def _run(self) -> None:
        while not self.closed:
            with self.lock:
                pass  # let add() finish registering before select
            for key, _ in self.sel.select(timeout=None):
                if key.data is None:
                    try:
                        os.read(self.wake_r, 4096)
                    except OSError:
                        pass
                    continue
                self._read(key)

    def _read(self, key: selectors.SelectorKey) -> None:
        n, stream, copy_to, buf = key.data
        try:
            chunk = os.read(key.fileobj.fileno(), 65536)  # type: ignore[union-attr]
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            with self.lock:
                self.sel.unregister(key.fileobj)
            if buf:
                self._emit(n, stream, copy_to, buf)
            key.fileobj.close()  # type: ignore[union-attr]
            return
        buf += chunk
        *lines, rest = buf.split(b"\n")
        key.data[3] = rest
        for line in lines:
            self._emit(n, stream, copy_to, line)

    def _emit(self, n: int, stream: str, copy_to: str | None, raw: bytes) -> None:
        text = raw.decode("utf-8", errors="replace").rstrip("\r")
        self.log("INFO", f"[coordinator-{n} {stream}] {text}")
        if copy_to:
            try:
                with open(copy_to, "a", encoding="utf-8") as fh:
                    fh.write(text + "\n")
            except OSError:
                pass


class ChatManager:
    def __init__(self, wg_dir: str, log: Callable[[str, str], None], *, no_chat_agent: bool = False) -> None:
        self.wg_dir = os.path.abspath(wg_dir)
        self.root = os.path.dirname(self.wg_dir)
        self.log = log
        self.store = JsonlStore(self.wg_dir)
        self.chats = ChatStore(self.wg_dir)
        self.settings = chat_settings(self.wg_dir)
        self.enabled = self.settings["chat_agent"] and not no_chat_agent
        self.idle_secs = self._idle_threshold()
        self.sups: dict[int, Supervisor] = {}
        self.stopped: set[int] = set()
        self.lock = threading.Lock()
        self.shutting_down = False
        self.pipes: PipeLogger | None = None

    def _idle_threshold(self) -> int:
        env = os.environ.get("WG_CHAT_IDLE_SECS")
        raw: object = env if env is not None else self.settings["idle_secs"]
        try:
            value = int(str(raw).strip()) if not isinstance(raw, bool) else 0
        except ValueError:
            value = 0
        if value <= 0:
            source = "WG_CHAT_IDLE_SECS" if env is not None else "[chat] idle_respawn_secs"
            self.log(
                "WARN",
                f"Invalid {source} value '{raw}' (want a positive integer); using {cm.CHAT_IDLE_SECS}s",
            )
            return cm.CHAT_IDLE_SECS
        return value

    # -- boot (spec 5) -----------------------------------------------------------------------------
    def boot(self) -> None:
        if self.settings["migrate_on_boot"]:
            self._migrate()
        try:
            graph = self.store.load()
            entries = cm.live_chats(graph)
        except Exception as exc:
            self.log("WARN", f"Could not read graph for chat supervisors: {exc}")
            entries = []
        if not self.enabled:
            self.log(
                "INFO", "Chat agents disabled (--no-chat-agent or chat_agent = false) — no chat supervisors"
            )
            return
        if not entries:
            self.log(
                "INFO",
                "No chat-loop tasks in graph — no chat supervisors spawned at boot. Use `wg chat new` (or the "
                "TUI '+' key) to create a chat agent.",
            )
            return
        ids = ", ".join(tid for _, tid in entries)
        self.log("INFO", f"Spawning {len(entries)} chat supervisor(s) from graph: {ids}")
        for n, tid in entries:
            if tid.startswith(".coordinator-"):
                self.log(
                    "WARN",
                    f"Loading legacy `.coordinator-{n}` task; please run `wg migrate chat-rename` to rename to "
                    f"`.chat-{n}` (deprecation will be removed in a future release)",
                )
            self.start(n, lazy=False)

    def _migrate(self) -> None:
        from ..timeutil import now_ns
        from .migrate import chat_rename

        now = now_ns()
        try:
            report = self.store.transaction(lambda g: chat_rename(g, now), now)
        except Exception as exc:
            self.log("WARN", f"Legacy chat id migration failed: {exc}")
            return
        renamed = report["renamed_ids"]
        if renamed:
            for _, new in renamed:
                n = cm.parse_task_id(new)
                if n is not None:
                    try:
                        self.chats.register(n[0], now)
                    except OSError as exc:
                        self.log("WARN", f"Could not register chat {n[0]} history: {exc}")
            self.log("INFO", f"Migrated {len(renamed)} legacy chat task(s) to .chat-N ids at boot")

    # -- supervisors (spec 3.4) ---------------------------------------------------------------------
    def start(self, n: int, *, lazy: bool = True, revive: bool = False) -> bool:
        """Start a supervisor for chat N unless one runs. Lazy starts check state, stop marks and the cap."""
        with self.lock:
            if self.shutting_down or not self.enabled or n in self.sups:
                return False
            if lazy:
                if n in self.stopped and not revive:
                    return False
                if len(self.sups) >= self.settings["max_chats"]:
                    self.log(
                        "WARN", f"Coordinator-{n}: not started — {len(self.sups)} chat supervisors running"
                    )
                    return False
                try:
                    task = cm.find_task(self.store.load(), n)
                except Exception:
                    return False
                if task is None or cm.is_terminal(task):
                    return False
            self.stopped.discard(n)
            sup = Supervisor(self, n)
            self.sups[n] = sup
        sup.thread.start()
        return True

    def reap(self, sup: Supervisor) -> None:
        with self.lock:
            if self.sups.get(sup.n) is sup:
                del self.sups[sup.n]

    def get(self, n: int) -> Supervisor | None:
        with self.lock:
            return self.sups.get(n)

    def stop_many(self, ns: list[int], *, remember: bool = False, timeout: float = cm.STOP_GRACE) -> None:
        """Signal every supervisor at once, then wait at most ``timeout`` in total (SIGKILL stragglers)."""
        with self.lock:
            sups = [self.sups[n] for n in ns if n in self.sups]
            if remember:
                self.stopped.update(ns)
        for sup in sups:
            sup.request_stop()
        deadline = time.monotonic() + timeout
        for sup in sups:
            sup.thread.join(max(0.0, deadline - time.monotonic()))
        for sup in sups:
            if sup.thread.is_alive():
                sup.kill_now()
                sup.thread.join(2.0)

    def shutdown(self) -> None:
        with self.lock:
            self.shutting_down = True
            ns = list(self.sups)
        self.stop_many(ns)
        if self.pipes is not None:
            self.pipes.close()

    # -- handler process (spec 3.1) ------------------------------------------------------------------
    def plan(self, n: int, task: Record) -> dict[str, Any]:
        executor, model, endpoint = effective_settings(self.chats, self.settings, n, task)
        stderr_log = os.path.join(self.wg_dir, "service", f"nex-handler-stderr-{n}.log")
        ref = f"coordinator-{n}" if str(task["id"]).startswith(".coordinator-") else f"chat-{n}"
        handler = self.settings["handler"]
        if handler:
            argv = [handler] if isinstance(handler, str) else [str(x) for x in handler]
            argv += ["--chat", ref]
            if model:
                argv += ["-m", str(model)]
        else:  # spec 3.1: `wg spawn-task` becomes the executor's handler in the same process
            argv = [*_wg_argv(), "spawn-task", str(task["id"])]
        return {
            "executor": executor,
            "model": model,
            "endpoint": endpoint,
            "stderr_log": stderr_log,
            "argv": argv,
        }

    def spawn(self, n: int, task: Record, plan: dict[str, Any]) -> subprocess.Popen[bytes]:
        from ..service.dispatcher import SCRUBBED_ENV

        env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
        env.update(
            WG_DIR=self.wg_dir,
            WG_TASK_ID=str(task["id"]),
            WG_EXECUTOR_TYPE=plan["executor"],
            WG_MODEL=str(plan["model"] or ""),
            WG_CHAT_REF=str(task["id"]),
            WG_CHAT_ID=str(n),
        )
        model = str(plan["model"] or "")
        if ":" in model:
            env["WG_PROVIDER"] = model.split(":", 1)[0]
        proc = subprocess.Popen(
            plan["argv"],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
            close_fds=True,
        )
        if self.pipes is None:
            self.pipes = PipeLogger(self.log)
        self.pipes.add(proc.stdout, n, "stdout", None)
        self.pipes.add(proc.stderr, n, "stderr", plan["stderr_log"])
        return proc

    def interrupt(self, n: int) -> int | None:
        import signal

        sup = self.get(n)
        pid = sup.handler_pid() if sup is not None else None
        if pid is not None:
            os.kill(pid, signal.SIGINT)
        return pid

    # -- status ---------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        with self.lock:
            sups = list(self.sups.values())
        infos = [s.info() for s in sorted(sups, key=lambda s: s.n)]
        return {
            "enabled": self.enabled,
            "idle_respawn_secs": self.idle_secs,
            "supervised": len(infos),
            "supervisors": infos,
            "stopped": sorted(self.stopped),
        }


__all__ = ["ChatManager", "_killpg"]
