"""What ``wg html`` shows besides the graph, read from ``.wg``: evaluations, messages, chat conversations.

Unreadable or malformed files are skipped: the site is built from whatever can be read.
"""

from __future__ import annotations

import json
import os

from ..model import is_chat

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph


class SideData:
    """What the pages show besides the graph: evaluations, messages, chat conversations."""

    def __init__(self) -> None:
        self.evals: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.conversations: dict[str, list[dict[str, Any]]] = {}


def _read_records(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _parse_eval(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    data: object = None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
    else:
        try:
            import yaml

            data = yaml.safe_load(text)
        except ImportError:
            data = _mini_yaml(text)
        except Exception:
            return None
    return data if isinstance(data, dict) else None


def _mini_yaml(text: str) -> dict[str, Any]:
    """Top-level ``key: scalar`` pairs and one level of nested mapping (enough for evaluation files)."""
    out: dict[str, Any] = {}
    current: dict[str, Any] | None = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#") or ":" not in raw:
            continue
        key, _, val = raw.strip().partition(":")
        key, val = key.strip().strip("'\""), val.strip()
        value: Any = val.strip("'\"")
        try:
            value = float(val) if any(c in val for c in ".eE") else int(val)
        except ValueError:
            pass
        if raw[0] in " \t" and current is not None:
            current[key] = value
        elif val == "":
            current = {}
            out[key] = current
        else:
            current = None
            out[key] = value
    return out


def load_evaluations(wg_dir: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The latest evaluation per task (agency.md 2.6); unreadable files are skipped."""
    from ..timeutil import parse_ts

    folder = os.path.join(wg_dir, "agency", "evaluations")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return {}
    best: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for name in names:
        if not name.endswith((".json", ".yaml", ".yml")):
            continue
        data = _parse_eval(os.path.join(folder, name))
        if data is None:
            continue
        tid = data.get("task_id")
        if not isinstance(tid, str) or tid not in wanted:
            continue
        ts = parse_ts(data.get("timestamp")) or 0
        key = (ts, name)
        if tid not in best or key > best[tid][:2]:
            best[tid] = (ts, name, data)
    return {tid: v[2] for tid, v in best.items()}


def _chat_dirs(wg_dir: str) -> dict[str, str]:
    """alias -> chat history directory, from ``chat/sessions.json`` (chats.md 2)."""
    chat = os.path.join(wg_dir, "chat")
    out: dict[str, str] = {}
    try:
        with open(os.path.join(chat, "sessions.json"), encoding="utf-8") as fh:
            data = json.load(fh)
        sessions = data.get("sessions") if isinstance(data, dict) else None
    except (OSError, ValueError):
        sessions = None
    if isinstance(sessions, dict):
        for uuid, info in sessions.items():
            if not isinstance(info, dict):
                continue
            base = (
                os.path.join(chat, ".archive", uuid) if info.get("archived_at") else os.path.join(chat, uuid)
            )
            for alias in info.get("aliases") or ():
                if isinstance(alias, str):
                    out[alias] = base
    return out


def load_side_data(wg_dir: str, graph: Graph, ids: list[str]) -> SideData:
    from ..timeutil import parse_ts

    side = SideData()
    wanted = set(ids)
    side.evals = load_evaluations(wg_dir, wanted)
    msg_dir = os.path.join(wg_dir, "messages")
    try:
        names = os.listdir(msg_dir)
    except OSError:
        names = []
    for name in names:
        tid = name[: -len(".jsonl")] if name.endswith(".jsonl") else None
        if tid in wanted:
            msgs = [m for m in _read_records(os.path.join(msg_dir, name)) if "body" in m]
            msgs.sort(key=lambda m: m["id"] if isinstance(m.get("id"), int) else 0)
            if msgs:
                side.messages[tid] = msgs
    chats = [tid for tid in ids if is_chat(graph.get(tid) or {})]
    if chats:
        dirs = _chat_dirs(wg_dir)
        for tid in chats:
            number = tid.rsplit("-", 1)[-1]
            base = dirs.get(tid.lstrip(".")) or dirs.get(number) or os.path.join(wg_dir, "chat", number)
            recs = _read_records(os.path.join(base, "inbox.jsonl")) + _read_records(
                os.path.join(base, "outbox.jsonl")
            )
            recs.sort(key=lambda r: parse_ts(r.get("timestamp")) or 0)  # stable: inbox first on ties
            if recs:
                side.conversations[tid] = recs
    return side
