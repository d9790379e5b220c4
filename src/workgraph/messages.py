"""Per-task message queues: ``$WG/messages/<task-id>.jsonl`` and read cursors (spec core 11.13, 8).

A message file is ``flock``ed while a sender assigns the next id and appends, and while a reader rewrites
statuses (``<file>.tmp`` + rename) and moves its cursor. Because a rewrite replaces the file, a process that
locked the old inode notices after the lock is granted and reopens. No other lock is ever held meanwhile
(lock order, spec core 8): callers bump the task's ``last_interaction_at`` only after this module returns.
"""

from __future__ import annotations

import fcntl
import json
import os

from .errors import WgError
from .timeutil import format_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from contextlib import AbstractContextManager
    from typing import Any

    Message = dict[str, Any]

STATUSES = ("sent", "delivered", "read", "acknowledged")
ICONS = {"sent": "✉", "delivered": "📬", "read": "👁", "acknowledged": "✅"}
PRIORITIES = ("normal", "urgent")


# -- paths --------------------------------------------------------------------------------------


def messages_dir(wg_dir: str) -> str:
    return os.path.join(wg_dir, "messages")


def message_file(wg_dir: str, task_id: str) -> str:
    return os.path.join(messages_dir(wg_dir), f"{task_id}.jsonl")


def cursor_file(wg_dir: str, reader: str, task_id: str) -> str:
    return os.path.join(messages_dir(wg_dir), ".cursors", f"{reader}.{task_id}")


# -- pure helpers -------------------------------------------------------------------------------


def parse_lines(text: str) -> list[tuple[str, Message | None]]:
    """Each non-blank line with its record, or None when it is not a message (kept verbatim on rewrite)."""
    out: list[tuple[str, Message | None]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            out.append((line, None))
            continue
        ok = isinstance(obj, dict) and isinstance(obj.get("id"), int) and not isinstance(obj["id"], bool)
        out.append((line, obj if ok else None))
    return out


def next_id(records: list[Message]) -> int:
    return max((m["id"] for m in records), default=0) + 1


def new_message(msg_id: int, timestamp: str, sender: str, body: str, priority: str) -> Message:
    return {
        "id": msg_id,
        "timestamp": timestamp,
        "sender": sender,
        "body": body,
        "priority": priority,
        "status": "sent",
    }


def status_rank(status: object) -> int:
    return STATUSES.index(status) if status in STATUSES else 0


def mark(records: list[Message], ids: set[int], status: str, timestamp: str) -> bool:
    """Upgrade (never downgrade) the status of ``ids``; ``read`` also stamps ``read_at``. True if any changed."""
    changed = False
    for m in records:
        if m["id"] in ids and status_rank(status) > status_rank(m.get("status", "sent")):
            m["status"] = status
            if status == "read" and not m.get("read_at"):
                m["read_at"] = timestamp
            changed = True
    return changed


def render_lines(parsed: list[tuple[str, Message | None]]) -> str:
    lines = [
        json.dumps(rec, ensure_ascii=False, separators=(",", ":")) if rec is not None else raw
        for raw, rec in parsed
    ]
    return "".join(line + "\n" for line in lines)


def listing(messages: list[Message]) -> list[str]:
    """``  #<n> <icon> [<ts>] <sender>[ [URGENT]]``, the body lines indented, then a blank line."""
    out: list[str] = []
    for m in messages:
        icon = ICONS.get(str(m.get("status", "sent")), ICONS["sent"])
        urgent = " [URGENT]" if m.get("priority") == "urgent" else ""
        out.append(f"  #{m['id']} {icon} [{m.get('timestamp', '')}] {m.get('sender', '')}{urgent}")
        out.extend(f"    {line}" for line in str(m.get("body", "")).splitlines())
        out.append("")
    return out


# -- file access --------------------------------------------------------------------------------


def _read_text(fd: int) -> str:
    os.lseek(fd, 0, os.SEEK_SET)
    chunks: list[bytes] = []
    while True:
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", errors="replace")


def _locked(path: str, create: bool) -> AbstractContextManager[int | None]:
    from contextlib import contextmanager

    @contextmanager
    def locked() -> Iterator[int | None]:
        flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | (os.O_CREAT if create else 0)
        while True:
            try:
                fd = os.open(path, flags, 0o644)
            except FileNotFoundError:
                yield None
                return
            except OSError as exc:
                raise WgError(f"Failed to open message file {path}: {exc.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    current = os.stat(path)
                except FileNotFoundError:
                    current = None
                mine = os.fstat(fd)
                if current is not None and (current.st_ino, current.st_dev) == (mine.st_ino, mine.st_dev):
                    break
            except OSError as exc:
                os.close(fd)
                raise WgError(f"Failed to acquire lock on message file: {exc.strerror}") from None
            os.close(fd)  # replaced by a rewrite while we waited: lock the new file
        try:
            yield fd
        finally:
            os.close(fd)  # releases the flock

    return locked()


def _atomic_write(path: str, text: str) -> None:
    from .atomic import write_text_atomic

    try:
        write_text_atomic(path, text)
    except OSError as exc:
        raise WgError(f"Failed to write {path}: {exc.strerror}") from None


def list_messages(wg_dir: str, task_id: str) -> list[Message]:
    """All messages of a task ordered by id (no file: none)."""
    try:
        with open(message_file(wg_dir, task_id), encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise WgError(f"Failed to read message file: {exc.strerror}") from None
    return sorted((rec for _, rec in parse_lines(text) if rec is not None), key=lambda m: int(m["id"]))


def send_message(wg_dir: str, task_id: str, body: str, sender: str, priority: str, now: int) -> Message:
    """Assign ``max + 1`` and append, both under the file's flock; returns the new record."""
    try:
        os.makedirs(messages_dir(wg_dir), exist_ok=True)
    except OSError as exc:
        raise WgError(f"Failed to create messages directory: {exc.strerror}") from None
    path = message_file(wg_dir, task_id)
    with _locked(path, create=True) as fd:
        assert fd is not None
        records = [rec for _, rec in parse_lines(_read_text(fd)) if rec is not None]
        msg = new_message(next_id(records), format_ts(now), sender, body, priority)
        data = (json.dumps(msg, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            os.write(fd, data)  # O_APPEND: one write at the end
            os.fsync(fd)
        except OSError as exc:
            raise WgError(f"Failed to write to message file {path}: {exc.strerror}") from None
    return msg


def read_cursor(wg_dir: str, reader: str, task_id: str) -> int:
    """The last id ``reader`` has read on ``task_id`` (0: none; an unreadable cursor counts as none)."""
    try:
        with open(cursor_file(wg_dir, reader, task_id), encoding="utf-8") as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def write_cursor(wg_dir: str, reader: str, task_id: str, last_id: int) -> None:
    path = cursor_file(wg_dir, reader, task_id)
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
    except OSError as exc:
        raise WgError(f"Failed to create cursors directory: {exc.strerror}") from None
    _atomic_write(path, f"{last_id}\n")


def poll_messages(wg_dir: str, task_id: str, reader: str) -> list[Message]:
    """Messages after ``reader``'s cursor, without moving it."""
    cursor = read_cursor(wg_dir, reader, task_id)
    return [m for m in list_messages(wg_dir, task_id) if m["id"] > cursor]


def read_unread(wg_dir: str, task_id: str, reader: str, now: int) -> list[Message]:
    """Messages after the cursor, marked ``read``; the cursor moves to the last one."""
    path = message_file(wg_dir, task_id)
    with _locked(path, create=False) as fd:
        if fd is None:
            return []
        parsed = parse_lines(_read_text(fd))
        cursor = read_cursor(wg_dir, reader, task_id)
        records = [rec for _, rec in parsed if rec is not None]
        unread = sorted((m for m in records if m["id"] > cursor), key=lambda m: int(m["id"]))
        if not unread:
            return []
        # The cursor first: replacing the message file must be the last act under its lock, since a
        # waiter that finds the new file locks that one at once (the old file's lock no longer guards it).
        write_cursor(wg_dir, reader, task_id, unread[-1]["id"])
        if mark(unread, {m["id"] for m in unread}, "read", format_ts(now)):
            _atomic_write(path, render_lines(parsed))
    return unread
