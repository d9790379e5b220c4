"""Chat tasks as graph records: ids, states and the pure graph changes of create/archive/delete/stop.

Pure: no I/O, no clock (``now`` is epoch nanoseconds passed in). Spec chats.md 1, 2, 4.5, 4.6.
"""

from __future__ import annotations

from ..errors import WgError
from ..model import CHAT_TAGS, log_entry
from ..timeutil import format_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..graph import Graph
    from ..model import Record

# Constants of spec 8, defined in one place.
CHAT_IDLE_SECS = 300
CAP_IDLE_SECS = 300
PURGE_ACTIVE_SECS = 60
CRASH_BUDGET = 3
CRASH_WINDOW = 600.0
CLEAN_RESPAWN_DELAY = 2.0
RETRY_SLEEP = 5.0
CONTENTION_WINDOW = 1.0
CONTENTION_EXIT = 75
CONTENTION_MAX = 6
STOP_GRACE = 5.0
MAX_CHATS = 16
U32_MAX = 2**32 - 1

LOOP_TAG = "chat-loop"
LEGACY_LOOP_TAG = "coordinator-loop"
ARCHIVED_TAG = "archived"


def _u32(text: str) -> int | None:
    if not text.isdigit() or not text.isascii():
        return None
    n = int(text)
    return n if n <= U32_MAX else None


def parse_task_id(task_id: str) -> tuple[int, bool] | None:
    """``.chat-N`` -> (N, False), ``.coordinator-N`` -> (N, True); anything else None."""
    for prefix, legacy in ((".chat-", False), (".coordinator-", True)):
        if task_id.startswith(prefix):
            n = _u32(task_id[len(prefix) :])
            return None if n is None else (n, legacy)
    return None


def parse_hint(text: str) -> int | None:
    """A caller hint or numeric reference: ``.chat-N``, ``.coordinator-N``, ``chat-N``, ``coordinator-N``, ``N``."""
    text = text.strip()
    for prefix in (".chat-", ".coordinator-", "chat-", "coordinator-", ""):
        if text.startswith(prefix):
            n = _u32(text[len(prefix) :])
            if n is not None:
                return n
    return None


def task_id_of(n: int) -> str:
    return f".chat-{n}"


def has_loop(task: Record) -> bool:
    tags = task.get("tags") or ()
    return any(t in tags for t in CHAT_TAGS)


def is_archived(task: Record) -> bool:
    return ARCHIVED_TAG in (task.get("tags") or ())


def is_terminal(task: Record) -> bool:
    """Supervisor step 4: archived, abandoned, or done without a loop tag."""
    status = task.get("status")
    return is_archived(task) or status == "abandoned" or (status == "done" and not has_loop(task))


def is_live(task: Record) -> bool:
    """Boot filter (spec 5): a loop tag, not done/abandoned, not archived."""
    return has_loop(task) and task.get("status") not in ("done", "abandoned") and not is_archived(task)


def find_task(graph: Graph, n: int, *, bare: bool = False) -> Record | None:
    """``.chat-N``, else ``.coordinator-N``, else (``bare`` and N == 0) ``.coordinator``."""
    task = graph.get(f".chat-{n}") or graph.get(f".coordinator-{n}")
    if task is None and bare and n == 0:
        task = graph.get(".coordinator")
    return task


def tasks_for(graph: Graph, n: int) -> list[Record]:
    """Every task that maps to chat N (archive and delete touch them all)."""
    ids = [f".chat-{n}", f".coordinator-{n}"] + ([".coordinator"] if n == 0 else [])
    return [t for t in (graph.get(i) for i in ids) if t is not None]


def chat_numbers(graph: Graph) -> dict[int, Record]:
    """N -> task for every task whose id is a chat id; ``.chat-N`` wins over ``.coordinator-N``."""
    out: dict[int, Record] = {}
    for task in graph.tasks():
        parsed = parse_task_id(task["id"])
        if parsed is None:
            continue
        n, legacy = parsed
        if n not in out or not legacy:
            out[n] = task
    return dict(sorted(out.items()))


def live_chats(graph: Graph) -> list[tuple[int, str]]:
    """Boot enumeration (spec 5): (N, task id) of qualifying tasks, ``.chat-N`` preferred, sorted by N."""
    out: dict[int, str] = {}
    for task in graph.tasks():
        parsed = parse_task_id(task["id"])
        if parsed is None or not is_live(task):
            continue
        n, legacy = parsed
        if n not in out or not legacy:
            out[n] = task["id"]
    return sorted(out.items())


def next_id(known: Iterable[int]) -> int:
    ids = list(known)
    return max(ids) + 1 if ids else 0


def graph_ids(graph: Graph) -> list[int]:
    return [p[0] for p in (parse_task_id(i) for i in graph.ids()) if p is not None]


def state_error(n: int, task: Record) -> str | None:
    """The bad-input message for acting on a chat in a terminal state, else None."""
    if task.get("status") == "abandoned":
        return f"Chat {n} is deleted"
    if is_archived(task):
        return f"Chat {n} is archived"
    return None


# -- pure changes -------------------------------------------------------------------------------


def new_chat_task(
    n: int,
    name: str | None,
    now: int,
    *,
    root: str,
    user: str,
    executor: str | None,
    command_argv: list[str],
    model: str | None = None,
    endpoint: str | None = None,
) -> Record:
    ts = format_ts(now)
    rec: Record = {
        "kind": "task",
        "id": task_id_of(n),
        "title": f"Chat: {name}" if name else f"Chat {n}",
        "description": f"Chat {n} — persistent chat agent.",
        "status": "in-progress",
        "priority": 50,
        "tags": [LOOP_TAG],
        "created_at": ts,
        "started_at": ts,
        "last_interaction_at": ts,
        "log": [log_entry(ts, f"Chat {n} task created via IPC", "daemon", user)],
        "cycle_config": {"max_iterations": 0, "no_converge": True},
        "working_dir": root,
        "command_argv": command_argv,
    }
    if model:
        rec["model"] = model
    if endpoint:
        rec["endpoint"] = endpoint
    if executor:
        rec["executor_preset_name"] = executor
    return rec


def _with_log(task: Record, now: int, message: str, actor: str, user: str | None) -> list[Record]:
    return [*(task.get("log") or []), log_entry(format_ts(now), message, actor, user)]


def archive_change(
    graph: Graph, n: int, now: int, message: str, actor: str, user: str | None = None, *, strict: bool = True
) -> list[str]:
    """Spec 4.5: every task of chat N becomes done + archived without loop tags. Returns the ids changed."""
    tasks = tasks_for(graph, n)
    if not tasks:
        raise WgError(f"Chat task '.chat-{n}' not found")
    main = find_task(graph, n, bare=True)
    assert main is not None
    if strict:
        if main.get("status") == "abandoned":
            raise WgError(f"Chat {n} is deleted")
        if is_archived(main) and not has_loop(main):
            raise WgError(f"Chat {n} is already archived")
    changed = []
    for task in tasks:
        if is_archived(task) and not has_loop(task) and task.get("status") == "done":
            continue
        tags = [t for t in (task.get("tags") or []) if t not in CHAT_TAGS]
        if ARCHIVED_TAG not in tags:
            tags.append(ARCHIVED_TAG)
        graph.update(
            task["id"],
            status="done",
            tags=tags,
            completed_at=task.get("completed_at") or format_ts(now),
            log=_with_log(task, now, message, actor, user),
        )
        changed.append(task["id"])
    return changed


def delete_change(graph: Graph, n: int, now: int, message: str, actor: str, user: str | None) -> list[str]:
    """Spec 4.6: status abandoned, tags kept."""
    tasks = tasks_for(graph, n)
    if not tasks:
        raise WgError(f"Chat task '.chat-{n}' not found")
    main = find_task(graph, n, bare=True)
    assert main is not None
    if main.get("status") == "abandoned":
        raise WgError(f"Chat {n} is already deleted")
    for task in tasks:
        graph.update(task["id"], status="abandoned", log=_with_log(task, now, message, actor, user))
    return [t["id"] for t in tasks]


def set_status_change(graph: Graph, n: int, now: int, status: str, message: str, user: str | None) -> str:
    """Stop (``open``, assigned cleared) or resume (``in-progress``) the chat's task."""
    task = find_task(graph, n, bare=True)
    if task is None:
        raise WgError(f"Chat task '.chat-{n}' not found")
    bad = state_error(n, task)
    if bad:
        raise WgError(bad)
    changes: dict[str, object] = {"status": status, "log": _with_log(task, now, message, "daemon", user)}
    if status == "open":
        changes["assigned"] = None
    elif not task.get("started_at"):
        changes["started_at"] = format_ts(now)
    graph.update(task["id"], **changes)
    return str(task["id"])
