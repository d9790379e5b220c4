"""Signalling agents' process groups safely (spec service 5.5 "kill before reopen").

An agent's ``run.sh`` leads its own process group (pgid = its pid). Before every signal the leader's start time is
re-checked against the one the registry recorded, so a reused pid is never signalled: when the leader is gone but
members of its group remain, the group id cannot have been handed out again (Linux never reuses a pid that is still
some group's id), so the group is still ours.
"""

from __future__ import annotations

import os
import signal
import time

from .files import pid_alive, proc_start_time

KILL_GRACE_S = 5.0


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def group_alive(pgid: object) -> bool:
    if not isinstance(pgid, int) or pgid <= 0:
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return _group_has_live_member(pgid)


def _group_has_live_member(pgid: int) -> bool:
    """killpg(0) also succeeds for a group of zombies only; those count as gone."""
    try:
        names = os.listdir("/proc")
    except OSError:
        return True
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", encoding="utf-8", errors="replace") as fh:
                text = fh.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] != "Z":
            return True
    return False


def pid_reused(pid: object, start_time: object) -> bool:
    """The pid is alive but is not the process the registry recorded."""
    if not isinstance(pid, int) or not pid_alive(pid):
        return False
    return isinstance(start_time, int) and proc_start_time(pid) != start_time


def safe_group(entry: dict[str, object]) -> int | None:
    """The entry's process group id when signalling it cannot hit a stranger, else None."""
    pid = entry.get("pid")
    pgid = entry.get("pgid", pid)
    if not isinstance(pgid, int) or pgid <= 0:
        return None
    if pid_reused(pid, entry.get("pid_start_time")):
        return None
    return pgid if group_alive(pgid) else None


def stop_group(entry: dict[str, object], grace: float = KILL_GRACE_S, force: bool = False) -> None:
    """SIGTERM the agent's group, wait ``grace`` seconds, SIGKILL; return once the group is empty.

    The start time is re-checked before each signal; ``force`` sends SIGKILL at once.
    """
    pgid = safe_group(entry)
    if pgid is None:
        return
    if frozen_group(pgid):
        kill_group(pgid, signal.SIGCONT)
    kill_group(pgid, signal.SIGKILL if force else signal.SIGTERM)
    if not force:
        kill_group(pgid, signal.SIGCONT)  # a stopped (frozen) process only sees SIGTERM once continued
    deadline = time.monotonic() + (0 if force else grace)
    while time.monotonic() < deadline:
        if not group_alive(pgid):
            return
        time.sleep(0.05)
    if safe_group(entry) is not None:
        kill_group(pgid, signal.SIGKILL)
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline and group_alive(pgid):
        time.sleep(0.02)


def frozen_group(pgid: int) -> bool:
    try:
        with open(f"/proc/{pgid}/stat", encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return False
    fields = text[text.rfind(")") + 2 :].split()
    return bool(fields) and fields[0] == "T"


def cmdline_has(pid: int, needle: str) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return needle.encode() in fh.read().split(b"\0")
    except OSError:
        return False


def find_by_arg(arg: str) -> int | None:
    """A live process with ``arg`` as one of its argv elements (an agent's ``run.sh`` path)."""
    needle = arg.encode()
    try:
        names = os.listdir("/proc")
    except OSError:
        return None
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as fh:
                if needle in fh.read().split(b"\0") and pid_alive(int(name)):
                    return int(name)
        except OSError:
            continue
    return None
