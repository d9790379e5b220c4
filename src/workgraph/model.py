"""The task record: keys, types, defaults, statuses, and the canonical JSONL line (spec core 3, 5).

Records are plain dicts (the JSON object, ``kind`` first) so unknown keys and their order survive a
round trip untouched, and loading 100k records costs one dict each. Pure: no I/O, no clock.
"""

from __future__ import annotations

TYPE_CHECKING = False  # avoids importing typing at run time (start-up cost); mypy treats it as True
if TYPE_CHECKING:
    from typing import Any

    Record = dict[str, Any]

KEY_ORDER: tuple[str, ...] = (
    "id", "title", "description", "status", "priority", "assigned", "estimate", "before", "after",
    "requires", "tags", "skills", "inputs", "deliverables", "artifacts", "exec", "timeout", "not_before",
    "created_at", "started_at", "completed_at", "last_interaction_at", "log", "retry_count",
    "max_retries", "failure_reason", "failure_class", "model", "provider", "endpoint", "command_argv",
    "working_dir", "executor_preset_name", "verify", "verify_timeout", "agent", "loop_iteration",
    "last_iteration_completed_at", "cycle_failure_restarts", "cycle_config", "ready_after", "paused",
    "visibility", "context_scope", "exec_mode", "token_usage", "session_id", "wait_condition",
    "checkpoint", "triage_count", "resurrection_count", "last_resurrected_at", "validation",
    "validation_commands", "validator_agent", "validator_model", "gate_attempts", "test_required",
    "rejection_count", "max_rejections", "verify_failures", "rescue_count", "rescued",
    "meta_eval_attempts", "spawn_failures", "tier", "no_tier_escalation", "tried_models",
    "superseded_by", "supersedes", "unplaced", "place_near", "place_before", "independent",
    "iteration_round", "iteration_anchor", "iteration_parent", "iteration_config", "dispatch_count",
    "cron_schedule", "cron_enabled", "last_cron_fire", "next_cron_fire",
)  # fmt: skip
RANK = {k: i for i, k in enumerate(KEY_ORDER)}

STR, LIST, INT, OPT_INT, BOOL, OBJ, LOGS = "str", "list", "int", "optint", "bool", "obj", "log"
_STR_KEYS = [
    "id",
    "title",
    "description",
    "status",
    "assigned",
    "exec",
    "timeout",
    "not_before",
    "failure_reason",
    "failure_class",
    "model",
    "provider",
    "endpoint",
    "working_dir",
    "executor_preset_name",
    "verify",
    "verify_timeout",
    "agent",
    "session_id",
    "checkpoint",
    "validation",
    "validator_agent",
    "validator_model",
    "tier",
    "supersedes",
    "cron_schedule",
    "iteration_anchor",
    "iteration_parent",
    "visibility",
    "context_scope",
    "exec_mode",
    "created_at",
    "started_at",
    "completed_at",
    "last_interaction_at",
    "last_iteration_completed_at",
    "ready_after",
    "last_resurrected_at",
    "last_cron_fire",
    "next_cron_fire",
]
_LIST_KEYS = [
    "after",
    "before",
    "requires",
    "tags",
    "skills",
    "inputs",
    "deliverables",
    "artifacts",
    "command_argv",
    "validation_commands",
    "tried_models",
    "superseded_by",
    "place_near",
    "place_before",
]
_INT_KEYS = [
    "retry_count",
    "loop_iteration",
    "cycle_failure_restarts",
    "triage_count",
    "resurrection_count",
    "gate_attempts",
    "rejection_count",
    "verify_failures",
    "rescue_count",
    "meta_eval_attempts",
    "spawn_failures",
    "dispatch_count",
    "iteration_round",
    "priority",
]
_BOOL_KEYS = [
    "paused",
    "test_required",
    "rescued",
    "no_tier_escalation",
    "unplaced",
    "independent",
    "cron_enabled",
]
_OBJ_KEYS = ["estimate", "token_usage", "cycle_config", "wait_condition", "iteration_config"]

KEY_TYPE: dict[str, str] = {}
KEY_TYPE.update(dict.fromkeys(_STR_KEYS, STR))
KEY_TYPE.update(dict.fromkeys(_LIST_KEYS, LIST))
KEY_TYPE.update(dict.fromkeys(_INT_KEYS, INT))
KEY_TYPE.update(dict.fromkeys(("max_retries", "max_rejections"), OPT_INT))
KEY_TYPE.update(dict.fromkeys(_BOOL_KEYS, BOOL))
KEY_TYPE.update(dict.fromkeys(_OBJ_KEYS, OBJ))
KEY_TYPE["log"] = LOGS
ALWAYS = frozenset(("id", "title", "status", "priority"))

# Status table (spec core 5): box, terminal, satisfies a dependency, name in messages.
STATUSES: dict[str, tuple[str, bool, bool, str]] = {
    "open": ("[ ]", False, False, "Open"),
    "in-progress": ("[~]", False, False, "InProgress"),
    "waiting": ("[W]", False, False, "Waiting"),
    "done": ("[x]", True, True, "Done"),
    "blocked": ("[!]", False, False, "Blocked"),
    "failed": ("[F]", True, False, "Failed"),
    "abandoned": ("[A]", True, True, "Abandoned"),
    "pending-validation": ("[W]", False, False, "PendingValidation"),
    "pending-eval": ("[E]", False, False, "PendingEval"),
    "failed-pending-eval": ("[e]", False, False, "FailedPendingEval"),
    "incomplete": ("[I]", False, False, "Incomplete"),
}
TERMINAL = frozenset(s for s, v in STATUSES.items() if v[1])
PENDING_EVAL = frozenset(("pending-eval", "failed-pending-eval"))
FAILURE_CLASSES = (
    "api-error-400-document", "api-error-429-rate-limit", "api-error-5xx-transient",
    "agent-hard-timeout", "agent-exit-nonzero", "wrapper-internal", "agent-no-work", "agent-died",
    "spawn-failed", "land-conflict",
)  # fmt: skip
VISIBILITIES = ("internal", "public", "peer")
CONTEXT_SCOPES = ("clean", "task", "graph", "full")
EXEC_MODES = ("full", "light", "bare", "shell")
PRIORITY_NAMES = {"critical": 100, "high": 50, "normal": 10, "low": 5, "idle": 0}
CHAT_TAGS = ("chat-loop", "coordinator-loop")
DEFAULT_PRIORITY = 10


def status_name(status: str) -> str:
    entry = STATUSES.get(status)
    return entry[3] if entry else status


def is_system(task_id: str) -> bool:
    return task_id.startswith(".")


def is_chat(task: Record) -> bool:
    tags = task.get("tags") or ()
    return any(t in tags for t in CHAT_TAGS)


class RecordError(ValueError):
    """What is wrong with one record; the store adds file and line."""


_TYPE_WORDS = {
    STR: "a string",
    LIST: "a list of strings",
    INT: "an integer",
    OPT_INT: "an integer",
    BOOL: "a boolean",
    OBJ: "an object",
    LOGS: "a list of log entries",
}


def _wrong(key: str, kind: str) -> RecordError:
    return RecordError(f'"{key}" must be {_TYPE_WORDS[kind]}')


def _check_value(key: str, kind: str, value: Any) -> None:
    t = type(value)
    if kind == STR:
        if t is not str:
            raise _wrong(key, kind)
    elif kind == LIST:
        if t is not list or any(type(x) is not str for x in value):
            raise _wrong(key, kind)
    elif kind in (INT, OPT_INT):
        if t is not int:
            raise _wrong(key, kind)
    elif kind == BOOL:
        if t is not bool:
            raise _wrong(key, kind)
    elif kind == OBJ:
        if t is not dict:
            raise _wrong(key, kind)
        check_nested(key, value)
    elif kind == LOGS:
        if t is not list:
            raise _wrong(key, kind)
        for e in value:
            if type(e) is not dict or type(e.get("message")) is not str:
                raise _wrong(key, kind)


# Python type each known key must have in a canonical line (the fast path of ``normalize``).
_PY_TYPE: dict[str, type] = {}
for _k, _kt in KEY_TYPE.items():
    _PY_TYPE[_k] = {STR: str, LIST: list, INT: int, OPT_INT: int, BOOL: bool, OBJ: dict, LOGS: list}[_kt]
_LIST_OF_STR = frozenset(_LIST_KEYS)
_STR_TYPE = {str}
_LEGACY_KEYS = ("blocked_by", "blocks", "identity", "loops_to")


def _number(v: Any) -> bool:
    return type(v) is int or type(v) is float


# Nested keys whose type the readers rely on (spec core 3.2-3.3): key -> (check, words).
_NESTED: dict[str, dict[str, tuple[Any, str]]] = {
    "estimate": {"hours": (_number, "a number"), "cost": (_number, "a number")},
    "token_usage": {
        k: (_number, "a number")
        for k in (
            "cost_usd", "input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"
        )
    },
    "cycle_config": {
        "max_iterations": (lambda v: type(v) is int, "an integer"),
        "delay": (lambda v: type(v) is str, "a string"),
        "no_converge": (lambda v: type(v) is bool, "a boolean"),
        "restart_on_failure": (lambda v: type(v) is bool, "a boolean"),
        "max_failure_restarts": (lambda v: type(v) is int, "an integer"),
        "guard": (lambda v: v == "Always" or type(v) is dict, "\"Always\" or an object"),
    },
    "wait_condition": {
        "mode": (lambda v: v in ("all", "any"), "\"all\" or \"any\""),
        "conditions": (lambda v: type(v) is list and all(type(c) is dict for c in v), "a list of objects"),
    },
}  # fmt: skip


def check_nested(key: str, value: dict[str, Any]) -> None:
    """Raise RecordError when a nested key of a known object has the wrong type."""
    rules = _NESTED.get(key)
    if not rules:
        return
    for sub, sub_value in value.items():
        rule = rules.get(sub)
        if rule is not None and sub_value is not None and not rule[0](sub_value):
            raise RecordError(f'"{key}.{sub}" must be {rule[1]}')


class _Layout:
    """What a canonical record with this exact key sequence must look like (types by position)."""

    __slots__ = ("lists", "log", "nested", "types")

    def __init__(self, keys: tuple[str, ...]) -> None:
        self.types = (str, *(_PY_TYPE[k] for k in keys[1:]))
        self.lists = tuple(k for k in keys if k in _LIST_OF_STR)
        self.log = "log" in keys
        self.nested = tuple(k for k in keys if k in _NESTED)


_LAYOUTS: dict[tuple[str, ...], _Layout | None] = {}


def _layout(keys: tuple[str, ...]) -> _Layout | None:
    """A fast-path layout for canonical key sequences: kind first, known keys only, in spec order."""
    if len(_LAYOUTS) > 4096:
        _LAYOUTS.clear()
    lay = None
    if keys and keys[0] == "kind" and all(k in _PY_TYPE for k in keys[1:]):
        ranks = [RANK[k] for k in keys[1:]]
        if ranks == sorted(set(ranks)) and all(k in keys for k in _REQUIRED):
            lay = _Layout(keys)
    _LAYOUTS[keys] = lay
    return lay


_REQUIRED = ("id", "title", "status", "priority", "last_interaction_at")


def normalize(obj: Any) -> tuple[Record, bool]:
    """Validate one parsed line; return the canonical record and whether it differs from ``obj``.

    Raises RecordError for a corrupt record. Legacy forms (3.4) are converted.
    """
    # Fast path: a task line already in canonical form (what the store writes). Every check of the
    # full path below is made, just per key sequence instead of per key; any doubt takes the full path.
    if type(obj) is dict and obj.get("kind") == "task":
        keys = tuple(obj)
        lay = _LAYOUTS.get(keys)
        if lay is None and keys not in _LAYOUTS:
            lay = _layout(keys)
        if lay is not None and tuple(map(type, obj.values())) == lay.types and obj["status"] in STATUSES:
            for k in lay.lists:
                items = obj[k]
                if items and {type(x) for x in items} != _STR_TYPE:
                    break
            else:
                if not lay.log or all(type(e) is dict and type(e.get("message")) is str for e in obj["log"]):
                    for k in lay.nested:
                        check_nested(k, obj[k])
                    return obj, False
    return _normalize_full(obj)


def _normalize_full(obj: Any) -> tuple[Record, bool]:
    if type(obj) is not dict:
        raise RecordError("not a JSON object")
    kind = obj.get("kind")
    if kind == "resource":
        if type(obj.get("id")) is not str:
            raise RecordError('missing "id"')
        return obj, False
    if kind != "task":
        if kind is None:
            raise RecordError('missing "kind"')
        raise RecordError(f"unknown kind '{kind}'")
    changed = False
    last_rank = -1
    seen_unknown = False
    py_type = _PY_TYPE
    rank_of = RANK
    list_of_str = _LIST_OF_STR
    record: Record = obj
    for key, value in record.items():
        expected = py_type.get(key)
        if expected is None:
            if key != "kind":
                seen_unknown = True
                if key in _LEGACY_KEYS:
                    changed = True
            continue
        rank = rank_of[key]
        if rank < last_rank or seen_unknown:
            changed = True
        last_rank = rank
        if type(value) is expected:
            # the common case: right container type; check list items and log entries
            if key in list_of_str:
                items: Any = value  # (mypy narrowed value to ``object`` above)
                if items and {type(x) for x in items} != _STR_TYPE:
                    raise _wrong(key, LIST)
            elif key == "log":
                _check_value(key, LOGS, value)
            elif key in _NESTED:
                check_nested(key, value)  # type: ignore[arg-type]
            elif key == "status" and value not in STATUSES:
                if value != "pending-review":
                    raise RecordError(f"unknown status '{value}'")
                changed = True
            continue
        if value is None and key not in ALWAYS:
            changed = True
            continue
        if key == "priority":
            changed = True
            continue
        _check_value(key, KEY_TYPE[key], value)  # raises: the type is wrong
    if "id" not in obj:
        raise RecordError('missing "id"')
    if "title" not in obj:
        raise RecordError('missing "title"')
    if (
        changed
        or "status" not in obj
        or "priority" not in obj
        or "last_interaction_at" not in obj
        or next(iter(obj)) != "kind"
    ):
        return canonical(obj), True
    return obj, False


def _legacy_priority(value: Any) -> int:
    if type(value) is int:
        return value
    if isinstance(value, str):
        return PRIORITY_NAMES.get(value.lower(), DEFAULT_PRIORITY)
    return DEFAULT_PRIORITY


def canonical(obj: Record) -> Record:
    """Rebuild a task record in the canonical key order, converting legacy forms and dropping defaults."""
    src = dict(obj)
    if "blocked_by" in src:
        src["after"] = _merge(src.get("after"), src.pop("blocked_by"))
    if "blocks" in src:
        src["before"] = _merge(src.get("before"), src.pop("blocks"))
    src.pop("loops_to", None)
    identity = src.pop("identity", None)
    if isinstance(identity, dict) and "agent" not in src:
        from .agency_ids import agent_hash_from_identity

        h = agent_hash_from_identity(identity)
        if h:
            src["agent"] = h
    src["priority"] = _legacy_priority(src.get("priority", DEFAULT_PRIORITY))
    status = src.get("status") or "open"
    src["status"] = "done" if status == "pending-review" else status
    if not src.get("last_interaction_at") and src.get("created_at"):
        src["last_interaction_at"] = src["created_at"]
    out: Record = {"kind": src.get("kind", "task")}
    for key in KEY_ORDER:
        if key not in src:
            continue
        value = src[key]
        if key in ALWAYS:
            out[key] = value
        elif not is_default(key, value):
            _check_value(key, KEY_TYPE[key], value)
            out[key] = value
    for key, value in src.items():
        if key != "kind" and key not in KEY_TYPE:
            out[key] = value
    return out


def _merge(a: Any, b: Any) -> list[str]:
    out = [x for x in (a or []) if isinstance(x, str)]
    for x in b or []:
        if isinstance(x, str) and x not in out:
            out.append(x)
    return out


def is_default(key: str, value: Any) -> bool:
    if value is None:
        return True
    kt = KEY_TYPE.get(key)
    if kt == LIST:
        return not value
    if kt == INT:
        return bool(value == 0)
    if kt == BOOL:
        return value is False
    if key == "visibility":
        return bool(value == "internal")
    if kt == OBJ and key == "token_usage":
        return isinstance(value, dict) and not any(value.values())
    return False


def new_task(task_id: str, title: str, created_at: str) -> Record:
    return {
        "kind": "task",
        "id": task_id,
        "title": title,
        "status": "open",
        "priority": DEFAULT_PRIORITY,
        "created_at": created_at,
        "last_interaction_at": created_at,
    }


def dumps_line(record: Record) -> str:
    """The compact JSONL form (no spaces, non-ASCII unescaped), without the newline."""
    from .fastjson import dumps

    return dumps(record)


def log_entry(timestamp: str, message: str, actor: str | None = None, user: str | None = None) -> Record:
    entry: Record = {"timestamp": timestamp}
    if actor:
        entry["actor"] = actor
    if user:
        entry["user"] = user
    entry["message"] = message
    return entry
