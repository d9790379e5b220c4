"""Chat operations shared by the CLI's daemon-down path and the daemon's IPC handlers (spec 4.3-4.7).

Each function does the graph change in one transaction, then the file side effects (session, state
file, tmux). Processes are the caller's business (the daemon stops supervisors itself).
"""

from __future__ import annotations

import os
import time

from ..errors import WgError
from . import model as cm
from .store import ChatStore, is_idle

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph
    from ..model import Record
    from ..store.jsonl import JsonlStore

PRESETS = ("claude", "codex", "nex", "native")


def chat_settings(wg_dir: str) -> dict[str, Any]:
    """Chat-related configuration: cap, default executor, idle threshold, migration flag, handler."""
    from ..config import load_config

    cfg = load_config(wg_dir, quiet=True)
    cap = cfg.get("dispatcher.max_coordinators", None)
    if cfg.source("dispatcher.max_coordinators") == "default" and cfg.get("dispatcher.max_chats", None):
        cap = cfg.get("dispatcher.max_chats")
    agent = cfg.get("dispatcher.coordinator_agent", None)
    if agent is None:
        agent = cfg.get("dispatcher.chat_agent", True)
    handler = cfg.get("chat.handler", None)
    return {
        "max_chats": cap if isinstance(cap, int) and not isinstance(cap, bool) else cm.MAX_CHATS,
        "executor": str(cfg.get("dispatcher.executor", None) or "claude"),
        "model": cfg.get("dispatcher.model", None),
        "idle_secs": cfg.get("chat.idle_respawn_secs", cm.CHAT_IDLE_SECS),
        "migrate_on_boot": cfg.get("chat.migrate_legacy_ids_on_boot", True) is not False,
        "chat_agent": agent is not False,
        "handler": handler if isinstance(handler, str | list) else None,
    }


def effective_settings(
    chats: ChatStore, settings: dict[str, Any], n: int, task: Record
) -> tuple[str, str | None, str | None]:
    """Spec 3.1 hot-swappable settings: (executor, model, endpoint) from the overrides, the task, the
    dispatcher default. ``native`` is spelled ``nex``; the shell executor is refused (ValueError)."""
    state = chats.read_state(n)
    executor = str(state.get("executor_override") or task.get("executor_preset_name") or settings["executor"])
    executor = "nex" if executor == "native" else executor
    if executor == "shell":
        raise ValueError("the shell executor cannot run a chat")
    model = state.get("model_override") or task.get("model") or settings["model"]
    endpoint = state.get("endpoint_override") or task.get("endpoint")
    return executor, str(model) if model else None, str(endpoint) if endpoint else None


def preset_argv(executor: str, model: str | None) -> list[str]:
    if executor == "claude":
        argv = ["claude", "--dangerously-skip-permissions"]
    elif executor == "codex":
        argv = ["codex"]
    elif executor in ("nex", "native"):
        argv = ["wg", "nex"]
    else:
        argv = [executor]
    if model:
        argv += ["--model", model.split(":", 1)[1] if model.startswith(f"{executor}:") else model]
    return argv


def live_count(graph: Graph, chats: ChatStore, now: int) -> int:
    """Spec 2 "Cap": live chat tasks, fresh ones (< 300 s old) always counted."""
    from ..timeutil import parse_ts

    count = 0
    for task in graph.tasks():
        tid = task["id"]
        if not (cm.parse_task_id(tid) or tid == ".coordinator"):
            continue
        if not cm.is_live(task):
            continue
        created = parse_ts(task.get("created_at")) or 0
        n = (cm.parse_task_id(tid) or (0, True))[0]
        if (now - created) / 1e9 < cm.CAP_IDLE_SECS or not is_idle(chats.chat_dir(n), cm.CAP_IDLE_SECS):
            count += 1
    return count


def create_chat(
    wg_dir: str,
    store: JsonlStore,
    now: int,
    *,
    name: str | None,
    executor: str | None,
    model: str | None,
    endpoint: str | None,
    command: str | None,
    user: str,
    settings: dict[str, Any] | None = None,
) -> tuple[int, str]:
    """Check the cap, allocate N, write the task, register the session, write overrides."""
    cfg = settings or chat_settings(wg_dir)
    chats = ChatStore(wg_dir)
    root = os.path.dirname(os.path.abspath(wg_dir))
    if command:
        preset: str | None = None
        argv = ["bash", "-lc", command]
    else:
        preset = "nex" if executor == "native" else (executor or cfg["executor"])
        argv = preset_argv(str(preset), model)

    def change(g: Graph) -> int:
        live = live_count(g, chats, now)
        if live >= cfg["max_chats"]:
            raise WgError(f"Chat cap reached ({live}/{cfg['max_chats']})")
        n = cm.next_id([*cm.graph_ids(g), *chats.known_ids()])
        task = cm.new_chat_task(
            n,
            name,
            now,
            root=root,
            user=user,
            executor=preset,
            command_argv=argv,
            model=model,
            endpoint=endpoint,
        )
        g.put(task)
        return n

    n = store.transaction(change, now)
    chats.register(n, now)
    if not command and (model or executor or endpoint):
        chats.write_overrides(n, model=model, executor=executor, endpoint=endpoint)
    return n, cm.task_id_of(n)


def kill_tmux(wg_dir: str, n: int) -> None:
    """Kill ``wg-chat-<project>-chat-N`` when tmux exists (best effort, never blocks long)."""
    import shutil
    import subprocess

    tmux = shutil.which("tmux")
    if tmux is None:
        return
    project = os.path.basename(os.path.dirname(os.path.abspath(wg_dir)))
    for ch in ".:":
        project = project.replace(ch, "-")
    project = "-".join(project.split()) if project.split() else project
    try:
        subprocess.run(
            [tmux, "kill-session", "-t", f"wg-chat-{project}-chat-{n}"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=2,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        pass


def archive_files(wg_dir: str, n: int, now: int) -> str | None:
    """After the graph change: move the session, drop the state file, kill tmux. Returns a warning."""
    chats = ChatStore(wg_dir)
    warning = chats.archive_session(n, now)
    chats.remove_state(n)
    kill_tmux(wg_dir, n)
    return warning


def archive_chat(
    wg_dir: str, store: JsonlStore, now: int, n: int, message: str, actor: str, user: str
) -> str:
    changed = store.transaction(lambda g: cm.archive_change(g, n, now, message, actor, user), now)
    return changed[0]


def delete_chat(wg_dir: str, store: JsonlStore, now: int, n: int, message: str, actor: str, user: str) -> str:
    changed = store.transaction(lambda g: cm.delete_change(g, n, now, message, actor, user), now)
    ChatStore(wg_dir).remove_state(n)
    kill_tmux(wg_dir, n)
    return changed[0]


def resolve_ref(graph: Graph, ref: str) -> tuple[int, Record]:
    """Spec 4.1 chat reference: number/id forms, else a case-insensitive name. Raises the bad-input errors."""
    n = cm.parse_hint(ref)
    if n is not None:
        task = cm.find_task(graph, n, bare=True)
        if task is None:
            raise WgError(f"Chat task '.chat-{n}' not found")
        return n, task
    wanted = ref.strip().lower()
    for num, task in cm.chat_numbers(graph).items():
        title = str(task.get("title") or "")
        if title.startswith("Chat: ") and title[6:].strip().lower() == wanted:
            return num, task
    bare = graph.get(".coordinator")
    if (
        wanted
        and bare is not None
        and str(bare.get("title") or "").partition(": ")[2].strip().lower() == wanted
    ):
        return 0, bare
    raise WgError(f"No chat matching '{ref}'")


def wait_pids_gone(pids: list[int], timeout: float) -> None:
    from ..service.files import pid_alive

    deadline = time.monotonic() + timeout
    while any(pid_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
