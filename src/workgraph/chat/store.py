"""Chat files on disk (spec chats.md 2): session registry, history directories, messages, cursors,
the idle test, per-chat state files and the session lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import shutil
import time

from ..timeutil import format_ts, now_ns

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

CURSOR = ".cursor"
HANDLER_CURSOR = ".coordinator-cursor"
LOCK_FILE = ".handler.pid"


def uuid7(now: int | None = None) -> str:
    ms = (now if now is not None else now_ns()) // 1_000_000
    rand = int.from_bytes(secrets.token_bytes(10), "big")
    value = (ms & (2**48 - 1)) << 80 | 0x7 << 76 | (rand >> 68 & 0xFFF) << 64 | 0b10 << 62
    value |= rand & (2**62 - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _write_atomic(path: str, text: str) -> None:
    # ``.coordinator-cursor`` has one writer (the session lock's holder) and keeps the spec's ``<name>.tmp``;
    # every other file (``.cursor`` too: several consumers refresh it at once) gets a temp of its own.
    from ..atomic import write_text_atomic

    write_text_atomic(path, text, tmp=f"{path}.tmp" if path.endswith(HANDLER_CURSOR) else None, fsync=False)


class ChatStore:
    """Everything under ``$WG/chat/`` plus the per-chat files under ``$WG/service/``."""

    def __init__(self, wg_dir: str) -> None:
        self.wg_dir = wg_dir
        self.dir = os.path.join(wg_dir, "chat")
        self.sessions_path = os.path.join(self.dir, "sessions.json")
        self.archive_dir = os.path.join(self.dir, ".archive")

    # -- session registry -----------------------------------------------------------------------
    def _locked(self) -> int:
        os.makedirs(self.dir, exist_ok=True)
        fd = os.open(os.path.join(self.dir, ".sessions.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return fd

    def load_sessions(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self.sessions_path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            return {}
        sessions = data.get("sessions") if isinstance(data, dict) else None
        return (
            {k: v for k, v in sessions.items() if isinstance(v, dict)} if isinstance(sessions, dict) else {}
        )

    def _save_sessions(self, sessions: dict[str, dict[str, Any]]) -> None:
        _write_atomic(self.sessions_path, json.dumps({"version": 1, "sessions": sessions}, indent=2) + "\n")

    @staticmethod
    def _by_alias(sessions: dict[str, dict[str, Any]], alias: str) -> str | None:
        for uid, s in sessions.items():
            if alias in (s.get("aliases") or ()):
                return uid
        return None

    def session_of(self, n: int) -> str | None:
        sessions = self.load_sessions()
        return self._by_alias(sessions, f"chat-{n}") or self._by_alias(sessions, f"coordinator-{n}")

    def chat_dir(self, n: int) -> str:
        """The history directory of chat N (under ``.archive/`` when archived), else ``chat/N``."""
        sessions = self.load_sessions()
        uid = self._by_alias(sessions, f"chat-{n}") or self._by_alias(sessions, f"coordinator-{n}")
        if uid is None:
            return os.path.join(self.dir, str(n))
        if sessions[uid].get("archived_at"):
            return os.path.join(self.archive_dir, uid)
        return os.path.join(self.dir, uid)

    def register(self, n: int, now: int | None = None) -> str:
        """Spec 2 "Registering chat N": merge legacy ``chat/N/``, find or create the session, add aliases."""
        fd = self._locked()
        try:
            sessions = self.load_sessions()
            uid = self._by_alias(sessions, f"chat-{n}") or self._by_alias(sessions, f"coordinator-{n}")
            changed = False
            if uid is None:
                uid = uuid7(now)
                sessions[uid] = {
                    "kind": "coordinator",
                    "created": format_ts(now if now is not None else now_ns()),
                    "aliases": [],
                    "label": f"chat {n}",
                }
                changed = True
            entry = sessions[uid]
            base = self.archive_dir if entry.get("archived_at") else self.dir
            path = os.path.join(base, uid)
            os.makedirs(path, exist_ok=True)
            legacy = os.path.join(self.dir, str(n))
            if os.path.isdir(legacy) and not os.path.islink(legacy):
                _merge_dir(legacy, path)
            elif os.path.islink(legacy):
                os.unlink(legacy)
            for name in ("inbox.jsonl", "outbox.jsonl"):
                p = os.path.join(path, name)
                if not os.path.exists(p):
                    open(p, "a").close()
            aliases = list(entry.get("aliases") or [])
            for alias in (f"chat-{n}", f"coordinator-{n}", str(n)):
                owner = self._by_alias(sessions, alias)
                if owner is None:
                    aliases.append(alias)
                    entry["aliases"] = aliases
                    changed = True
            if changed:
                self._save_sessions(sessions)
            return path
        finally:
            os.close(fd)

    def archive_session(self, n: int, now: int) -> str | None:
        """Set ``archived_at`` and move ``chat/<uuid>`` to ``chat/.archive/<uuid>``. Returns a warning."""
        fd = self._locked()
        try:
            sessions = self.load_sessions()
            uid = self._by_alias(sessions, f"chat-{n}") or self._by_alias(sessions, f"coordinator-{n}")
            if uid is None:
                return None
            entry = sessions[uid]
            if entry.get("archived_at"):
                return f"session {uid} is already archived"
            src = os.path.join(self.dir, uid)
            if os.path.isdir(src):
                os.makedirs(self.archive_dir, exist_ok=True)
                try:
                    os.rename(src, os.path.join(self.archive_dir, uid))
                except OSError as exc:
                    return f"could not move {src}: {exc.strerror}"
            entry["archived_at"] = format_ts(now)
            self._save_sessions(sessions)
            return None
        finally:
            os.close(fd)

    def known_ids(self) -> list[int]:
        """Chat numbers from ``chat-history-N.jsonl`` files and coordinator-session aliases (spec 2)."""
        out: list[int] = []
        try:
            names = os.listdir(self.wg_dir)
        except OSError:
            names = []
        for name in names:
            if name.startswith("chat-history-") and name.endswith(".jsonl"):
                num = name[len("chat-history-") : -len(".jsonl")]
                if num.isdigit():
                    out.append(int(num))
        for s in self.load_sessions().values():
            if s.get("kind") != "coordinator":
                continue
            for alias in s.get("aliases") or ():
                for prefix in ("chat-", "coordinator-"):
                    if isinstance(alias, str) and alias.startswith(prefix) and alias[len(prefix) :].isdigit():
                        out.append(int(alias[len(prefix) :]))
        return out

    # -- per-chat state files ---------------------------------------------------------------------
    def state_path(self, n: int) -> str:
        return os.path.join(self.wg_dir, "service", f"coordinator-state-{n}.json")

    def read_state(self, n: int) -> dict[str, Any]:
        try:
            with open(self.state_path(n), encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict) and n == 0:
            try:
                with open(
                    os.path.join(self.wg_dir, "service", "coordinator-state.json"), encoding="utf-8"
                ) as fh:
                    data = json.load(fh)
            except (OSError, ValueError):
                data = None
        return data if isinstance(data, dict) else {}

    def write_overrides(self, n: int, **values: str | None) -> None:
        path = self.state_path(n)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
        except (OSError, ValueError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        for key, value in values.items():
            if value is not None:
                data[f"{key}_override"] = value
        _write_atomic(path, json.dumps(data, indent=2) + "\n")

    def remove_state(self, n: int) -> bool:
        try:
            os.unlink(self.state_path(n))
            return True
        except OSError:
            return False


# -- history directory files ------------------------------------------------------------------------


def _merge_dir(legacy: str, path: str) -> None:
    for name in os.listdir(legacy):
        if name.endswith(".lock"):
            continue
        src, dst = os.path.join(legacy, name), os.path.join(path, name)
        if name in ("inbox.jsonl", "outbox.jsonl", "chat.log"):
            with open(src, "rb") as a, open(dst, "ab") as b:
                shutil.copyfileobj(a, b)
        elif not os.path.exists(dst):
            if os.path.isdir(src):
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)
    shutil.rmtree(legacy, ignore_errors=True)


def read_messages(path: str) -> list[dict[str, Any]]:
    """Records of ``inbox.jsonl``/``outbox.jsonl`` under a shared lock, sorted by id."""
    out: list[dict[str, Any]] = []
    try:
        fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError:
        fd = -1
    try:
        if fd >= 0:
            fcntl.flock(fd, fcntl.LOCK_SH)
        with open(path, encoding="utf-8", errors="replace") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get("id"), int):
                    out.append(rec)
    except OSError:
        pass
    finally:
        if fd >= 0:
            os.close(fd)
    out.sort(key=lambda r: r["id"])
    return out


def append_message(
    chat_dir: str,
    box: str,
    role: str,
    content: str,
    request_id: str,
    now: int,
    user: str | None = None,
) -> int:
    """Append one record to ``<box>.jsonl`` with id max + 1 (spec 2 "Message record"); returns the id."""
    path = os.path.join(chat_dir, f"{box}.jsonl")
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        top = 0
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        old = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(old, dict) and isinstance(old.get("id"), int):
                        top = max(top, old["id"])
        except FileNotFoundError:
            pass
        rec: dict[str, Any] = {
            "id": top + 1,
            "timestamp": format_ts(now),
            "role": role,
            "content": content,
            "request_id": request_id,
        }
        if user:
            rec["user"] = user
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    finally:
        os.close(fd)
    try:
        with open(os.path.join(chat_dir, "chat.log"), "a", encoding="utf-8") as fh:
            fh.write(f"[{format_ts(now)}] {role}: {content}\n\n")
    except OSError:
        pass
    return int(rec["id"])


def read_cursor(chat_dir: str, name: str) -> int:
    try:
        with open(os.path.join(chat_dir, name), encoding="utf-8") as fh:
            text = fh.read().strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


def write_cursor(chat_dir: str, name: str, value: int) -> None:
    _write_atomic(os.path.join(chat_dir, name), f"{value}\n")


def pending_inbox(chat_dir: str) -> bool:
    done = read_cursor(chat_dir, HANDLER_CURSOR)
    return any(m["id"] > done for m in read_messages(os.path.join(chat_dir, "inbox.jsonl")))


def is_idle(chat_dir: str, threshold: float, now_s: float | None = None) -> bool:
    """No pending inbox and ``.cursor`` missing or at least ``threshold`` seconds old (spec 1)."""
    try:
        if pending_inbox(chat_dir):
            return False
        mtime = os.stat(os.path.join(chat_dir, CURSOR)).st_mtime
    except FileNotFoundError:
        return True
    except OSError:
        return True
    return (now_s if now_s is not None else time.time()) - mtime >= threshold


def lock_holder(chat_dir: str) -> int | None:
    """The pid in ``.handler.pid`` when it names a live process."""
    from ..service.files import pid_alive

    try:
        with open(os.path.join(chat_dir, LOCK_FILE), encoding="utf-8") as fh:
            first = fh.readline().strip()
    except OSError:
        return None
    if not first.isdigit():
        return None
    pid = int(first)
    return pid if pid_alive(pid) else None


def tui_holder(chat_dir: str) -> int | None:
    try:
        with open(os.path.join(chat_dir, ".tui-driven"), encoding="utf-8") as fh:
            first = fh.readline().strip()
    except OSError:
        return None
    from ..service.files import pid_alive

    return int(first) if first.isdigit() and pid_alive(int(first)) else None


def take_lock(chat_dir: str, kind: str, now: int | None = None) -> int | None:
    """Take the session lock ``.handler.pid`` (spec 2 "Lock and marker files") for this process.

    Returns None when taken, else the pid of the live holder. A dead holder or an unparseable file is
    removed and the lock taken. The file appears complete (a hard link to a written temp), so no one ever
    reads a half-written lock, and a stale one is removed only under a ``flock`` on it after checking that
    the path still names it: a waiter never removes a lock another process has just taken.
    """
    path = os.path.join(chat_dir, LOCK_FILE)
    stamp = format_ts(now if now is not None else now_ns())
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(f"{os.getpid()}\n{stamp}\n{kind}\n")
    try:
        for _ in range(3):
            try:
                os.link(tmp, path)
                return None
            except FileExistsError:
                pass
            holder = _remove_if_stale(path)
            if holder is not None:
                return holder
        return lock_holder(chat_dir) or -1
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def _remove_if_stale(path: str) -> int | None:
    """The live holder's pid, else None after removing the dead or unparseable lock at ``path``."""
    from ..service.files import pid_alive

    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        mine = os.fstat(fd)
        try:
            current = os.stat(path)
        except FileNotFoundError:
            return None
        if (current.st_ino, current.st_dev) != (mine.st_ino, mine.st_dev):
            return None  # replaced meanwhile: look again
        first = os.pread(fd, 64, 0).decode("utf-8", errors="replace").split("\n", 1)[0].strip()
        if first.isdigit() and int(first) != os.getpid() and pid_alive(int(first)):
            return int(first)
        os.unlink(path)  # still the file we locked: no one else removes it while we hold its flock
        return None
    finally:
        os.close(fd)


def release_lock(chat_dir: str) -> None:
    """Remove ``.handler.pid`` when this process holds it."""
    path = os.path.join(chat_dir, LOCK_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            first = fh.readline().strip()
        if first == str(os.getpid()):
            os.unlink(path)
    except OSError:
        pass
