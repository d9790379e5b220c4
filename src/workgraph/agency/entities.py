"""Agency records (agency.md 2.2-2.7): key orders, read aliases, defaults, file form. Pure, no I/O.

Entities are plain dicts as read from YAML (after aliases), so keys wg does not model survive a rewrite.
"""

from __future__ import annotations

import math

from ..agency_ids import agent_hash, role_hash, sha256_text
from ..timeutil import format_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Entity = dict[str, Any]

KINDS = ("component", "outcome", "tradeoff", "role", "agent")
FOLDERS = {
    "component": "primitives/components",
    "outcome": "primitives/outcomes",
    "tradeoff": "primitives/tradeoffs",
    "role": "cache/roles",
    "agent": "cache/agents",
}
ALL_FOLDERS = (*FOLDERS.values(), "assignments", "evaluations")

_PRIM = ("id", "name", "description", "quality", "domain_specificity")
KEY_ORDER: dict[str, tuple[str, ...]] = {
    "component": (*_PRIM, "category", "content", "performance", "lineage"),
    "outcome": (*_PRIM, "success_criteria", "performance", "lineage", "requires_human_oversight"),
    "tradeoff": (*_PRIM, "acceptable_tradeoffs", "unacceptable_tradeoffs", "performance", "lineage"),
    "role": (
        "id", "name", "description", "component_ids", "outcome_id", "performance", "lineage",
        "default_context_scope", "default_exec_mode",
    ),
    "agent": (
        "id", "role_id", "tradeoff_id", "name", "performance", "lineage", "capabilities", "rate", "capacity",
        "trust_level", "contact", "executor", "preferred_model", "preferred_provider",
    ),
}  # fmt: skip
READ_ALIASES = {"agent": {"motivation_id": "tradeoff_id"}}
# key -> value at which it is left out of the file
OMIT_AT: dict[str, tuple[Any, ...]] = {
    "quality": (100, None),
    "domain_specificity": (0, None),
    "success_criteria": ([], None),
    "acceptable_tradeoffs": ([], None),
    "unacceptable_tradeoffs": ([], None),
    "component_ids": ([], None),
    "default_context_scope": (None, ""),
    "default_exec_mode": (None, ""),
    "capabilities": ([], None),
    "rate": (None,),
    "capacity": (None,),
    "trust_level": ("provisional", None, ""),
    "contact": (None, ""),
    "executor": ("claude", None, ""),
    "preferred_model": (None, ""),
    "preferred_provider": (None, ""),
}
DEFAULTS: dict[str, Any] = {
    "name": "",
    "description": "",
    "quality": 100,
    "domain_specificity": 0,
    "category": "translated",
    "success_criteria": [],
    "acceptable_tradeoffs": [],
    "unacceptable_tradeoffs": [],
    "requires_human_oversight": True,
    "component_ids": [],
    "outcome_id": "",
    "role_id": "",
    "tradeoff_id": "",
    "capabilities": [],
    "trust_level": "provisional",
    "executor": "claude",
}
HUMAN_EXECUTORS = ("matrix", "email", "shell")
TRUST_LEVELS = ("verified", "provisional", "unknown")
META_ROLE_NAMES = ("Assigner", "Evaluator", "Evolver", "Agent Creator")
META_AGENT_KEYS = ("assigner_agent", "evaluator_agent", "evolver_agent", "creator_agent")


def short(entity_id: str) -> str:
    return entity_id[:8]


def normalize(kind: str, raw: Entity) -> Entity:
    """Apply read aliases (an alias never overrides the real key); keep the original key order."""
    aliases = READ_ALIASES.get(kind, {})
    out: Entity = {}
    for key, value in raw.items():
        new = aliases.get(key, key)
        if new != key and new in raw:
            continue
        out[new] = value
    return out


def field(entity: Entity, key: str) -> Any:
    value = entity.get(key)
    if value is None:
        default = DEFAULTS.get(key)
        return list(default) if isinstance(default, list) else default
    return value


def text(entity: Entity, key: str) -> str:
    value = entity.get(key)
    return "" if value is None else str(value)


def performance(entity: Entity) -> Entity:
    perf = entity.get("performance")
    return perf if isinstance(perf, dict) else {}


def avg_score(entity: Entity) -> float | None:
    value = performance(entity).get("avg_score")
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def task_count(entity: Entity) -> int:
    value = performance(entity).get("task_count")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def perf_entries(entity: Entity) -> list[Entity]:
    evs = performance(entity).get("evaluations")
    return [e for e in evs if isinstance(e, dict)] if isinstance(evs, list) else []


def fmt_score(value: float | None, none: str = "-") -> str:
    return none if value is None else f"{value:.2f}"


def lineage(entity: Entity) -> Entity:
    lin = entity.get("lineage")
    out: Entity = dict(lin) if isinstance(lin, dict) else {}
    created_by = str(out.get("created_by") or "human")
    out["created_by"] = "evolver" if created_by.startswith("evolver-") else created_by
    out.setdefault("generation", 0)
    out["parent_ids"] = [p for p in out.get("parent_ids") or [] if isinstance(p, str)]
    return out


def _perf_for_write(entity: Entity) -> Entity:
    perf = performance(entity)
    out: Entity = {"task_count": task_count(entity), "avg_score": avg_score(entity)}
    evs = perf_entries(entity)
    if evs:
        out["evaluations"] = evs
    out.update({k: v for k, v in perf.items() if k not in ("task_count", "avg_score", "evaluations")})
    return out


def _lineage_for_write(entity: Entity, now: int) -> Entity:
    lin = entity.get("lineage")
    lin = lin if isinstance(lin, dict) else {}
    out: Entity = {}
    if lin.get("parent_ids"):
        out["parent_ids"] = lin["parent_ids"]
    out["generation"] = lin.get("generation", 0)
    out["created_by"] = lin.get("created_by", "human")
    out["created_at"] = lin.get("created_at") or format_ts(now)
    out.update({k: v for k, v in lin.items() if k not in out and k != "parent_ids"})
    return out


def for_write(kind: str, entity: Entity, now: int) -> Entity:
    """The file form: modelled keys in table order (omitting defaults as the table says), then the rest."""
    out: Entity = {}
    order = KEY_ORDER[kind]
    for key in order:
        if key == "performance":
            out[key] = _perf_for_write(entity)
            continue
        if key == "lineage":
            out[key] = _lineage_for_write(entity, now)
            continue
        value = entity.get(key)
        if key in OMIT_AT and any(value == v and type(value) is type(v) for v in OMIT_AT[key]):
            continue
        if value is None and key != "id":
            value = field(entity, key)
            if key in OMIT_AT and value in OMIT_AT[key]:
                continue
        out[key] = value
    for key, value in entity.items():
        if key not in out and key not in order:
            out[key] = value
    return out


# -- identities ------------------------------------------------------------------------------------


def identity_of(kind: str, entity: Entity) -> str:
    if kind in ("component", "outcome", "tradeoff"):
        return sha256_text(text(entity, "description"))
    if kind == "role":
        return role_hash([str(c) for c in field(entity, "component_ids")], text(entity, "outcome_id"))
    role_id, tradeoff_id = text(entity, "role_id"), text(entity, "tradeoff_id")
    if is_human(entity) and not (role_id and tradeoff_id):
        return sha256_text(f"human-agent:{text(entity, 'name')}:{field(entity, 'executor')}")
    return agent_hash(role_id, tradeoff_id)


def is_human(agent: Entity) -> bool:
    return field(agent, "executor") in HUMAN_EXECUTORS


def new_lineage(now: int) -> Entity:
    return {"generation": 0, "created_by": "human", "created_at": format_ts(now)}


def new_perf() -> Entity:
    return {"task_count": 0, "avg_score": None}


def make(kind: str, now: int, **fields: Any) -> Entity:
    entity: Entity = {"id": ""}
    entity.update(fields)
    entity["performance"] = new_perf()
    entity["lineage"] = new_lineage(now)
    entity["id"] = identity_of(kind, entity)
    return entity


# -- performance roll-up (4.4) ---------------------------------------------------------------------


def append_score(entity: Entity, score: float, task_id: str, timestamp: str, context_id: str) -> None:
    perf = dict(performance(entity))
    evs = perf_entries(entity)
    evs.append({"score": score, "task_id": task_id, "timestamp": timestamp, "context_id": context_id})
    perf["evaluations"] = evs
    perf["task_count"] = task_count(entity) + 1
    finite = [
        float(e["score"])
        for e in evs
        if isinstance(e.get("score"), int | float) and math.isfinite(float(e["score"]))
    ]
    perf["avg_score"] = sum(finite) / len(finite) if finite else None
    entity["performance"] = perf
