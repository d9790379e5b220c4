"""The files under ``$WG/service/`` and process facts (spec service 2.1).

Running means some process holds the ``flock`` on ``daemon.lock``; a non-blocking shared lock tells.
"""

from __future__ import annotations

import fcntl
import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SOCKET_LIMIT = 107


class ServicePaths:
    def __init__(self, wg_dir: str) -> None:
        self.wg_dir = os.path.abspath(wg_dir)
        self.root = os.path.dirname(self.wg_dir)
        self.dir = os.path.join(self.wg_dir, "service")
        self.lock = os.path.join(self.dir, "daemon.lock")
        self.state = os.path.join(self.dir, "state.json")
        self.log = os.path.join(self.dir, "daemon.log")
        self.dispatcher_state = os.path.join(self.dir, "dispatcher-state.json")
        self.registry = os.path.join(self.dir, "registry.json")
        self.registry_lock = os.path.join(self.dir, ".registry.lock")
        self.agents = os.path.join(self.wg_dir, "agents")

    def default_socket(self) -> str:
        path = os.path.join(self.dir, "daemon.sock")
        if len(path.encode()) <= SOCKET_LIMIT:
            return path
        import hashlib
        import tempfile

        digest = hashlib.sha256(self.wg_dir.encode()).hexdigest()[:16]
        base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
        return os.path.join(base, f"wg-{digest}.sock")

    def socket_from_state(self) -> str:
        state = read_json(self.state)
        sock = state.get("socket_path") if state else None
        return sock if isinstance(sock, str) and sock else self.default_socket()


def read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_atomic(path: str, data: object, *, pretty: bool = False) -> None:
    from ..atomic import write_text_atomic

    # the temp is per process AND thread: the daemon's tick and IPC threads save the same files at once
    write_text_atomic(path, json.dumps(data, indent=2 if pretty else None, ensure_ascii=False))


def lock_held(lock_path: str) -> bool:
    """True when another process holds ``daemon.lock`` (our shared lock attempt fails)."""
    try:
        fd = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing drops our shared lock if we got it
    return False


def read_pid(path: str) -> int | None:
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    stat = _proc_stat(pid)
    return stat is not None and len(stat) > 0 and stat[0] == "Z"


def _proc_stat(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat from field 3 (state) on."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    return text[text.rfind(")") + 2 :].split()


def proc_start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat (start time in clock ticks since boot)."""
    fields = _proc_stat(pid)
    if fields is None or len(fields) < 20:
        return None
    try:
        return int(fields[19])
    except ValueError:
        return None


def same_process(pid: int, start_time: object) -> bool:
    """The pid is alive and (when recorded) started when we recorded it."""
    if not pid_alive(pid):
        return False
    if not isinstance(start_time, int):
        return True
    return proc_start_time(pid) == start_time


def cmdline_is_daemon(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            parts = fh.read().split(b"\0")
    except OSError:
        return False
    return b"service" in parts and b"daemon" in parts


def running_pid(paths: ServicePaths) -> int | None:
    """The daemon's pid when one runs (lock holder; else an original-style daemon from state.json)."""
    if lock_held(paths.lock):
        pid = read_pid(paths.lock)
        if pid is None:
            state = read_json(paths.state) or {}
            value = state.get("pid")
            pid = value if isinstance(value, int) else 0
        return pid
    other = read_json(paths.state)
    old_pid = other.get("pid") if other else None
    if (
        isinstance(old_pid, int)
        and old_pid != os.getpid()
        and pid_alive(old_pid)
        and cmdline_is_daemon(old_pid)
    ):
        return old_pid
    return None


def remove_stale(paths: ServicePaths) -> bool:
    """Remove a stale ``state.json`` and socket (only call when nothing runs). True if something was removed."""
    removed = False
    sock = paths.socket_from_state()
    for path in (paths.state, sock):
        try:
            os.unlink(path)
            removed = True
        except OSError:
            pass
    return removed
