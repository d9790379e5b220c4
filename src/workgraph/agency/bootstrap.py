"""``wg agency init`` (agency.md 3.1): the starter primitives, roles, tradeoffs, default agent and config."""

from __future__ import annotations

import os

from . import entities as E
from .yamlio import Tagged

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .store import AgencyStore

COMPONENTS = (
    ("code-writing", "Writes production-quality code."),
    ("testing", "Writes and runs tests."),
    ("debugging", "Diagnoses and fixes bugs."),
    ("code-review", "Reviews code for correctness and style."),
    ("security-audit", "Audits code for security vulnerabilities."),
    ("technical-writing", "Produces clear technical documentation."),
    ("system-design", "Designs system architectures."),
    ("dependency-analysis", "Analyzes dependencies and structural decisions."),
)
OUTCOMES = (
    "Working, tested code",
    "Review report with findings",
    "Clear documentation",
    "Design document with rationale",
)
ROLES = (
    (
        "Programmer",
        ("code-writing", "testing", "debugging"),
        "Working, tested code",
        "Writes, tests, and debugs code to implement features and fix bugs.",
    ),
    (
        "Reviewer",
        ("code-review", "security-audit"),
        "Review report with findings",
        "Reviews code for correctness, security, and style.",
    ),
    (
        "Documenter",
        ("technical-writing",),
        "Clear documentation",
        "Produces clear, accurate technical documentation.",
    ),
    (
        "Architect",
        ("system-design", "dependency-analysis"),
        "Design document with rationale",
        "Designs systems, analyzes dependencies, and makes structural decisions.",
    ),
)
TRADEOFFS = (
    ("Careful", "Prioritizes reliability and correctness above speed.", ["Slow", "Verbose"],
     ["Unreliable", "Untested"]),
    ("Fast", "Prioritizes speed and shipping over polish.", ["Less documentation", "Simpler solutions"],
     ["Broken code"]),
    ("Thorough", "Prioritizes completeness and depth of analysis.", ["Expensive", "Slow", "Verbose"],
     ["Incomplete analysis"]),
    ("Balanced", "Moderate on all dimensions; balances speed, quality, and completeness.",
     ["Moderate trade-offs on any single dimension"], ["Extreme compromise on any dimension"]),
)  # fmt: skip
DEFAULT_AGENT = ("Careful Programmer", "Programmer", "Careful")


def _ensure(store: AgencyStore, kind: str, entity: dict[str, Any], now: int) -> bool:
    """Write the entity unless its file exists (existing files, hand edits included, stay as they are)."""
    if store.exists(kind, entity["id"]):
        return False
    store.write(kind, entity, now)
    return True


def seed_store(store: AgencyStore, now: int) -> dict[str, Any]:
    """Create what is missing; call under ``store.lock()``. Returns counts and the default agent."""
    comp_ids: dict[str, str] = {}
    changed = False
    for name, desc in COMPONENTS:
        comp = E.make("component", now, name=name, description=desc, category="translated",
                      content=Tagged("name", name))  # fmt: skip
        comp_ids[name] = comp["id"]
        changed |= _ensure(store, "component", comp, now)
    out_ids: dict[str, str] = {}
    for name in OUTCOMES:
        outcome = E.make("outcome", now, name=name, description=name, requires_human_oversight=True)
        out_ids[name] = outcome["id"]
        changed |= _ensure(store, "outcome", outcome, now)
    roles = 0
    role_ids: dict[str, str] = {}
    for name, comps, outcome_name, desc in ROLES:
        role = E.make("role", now, name=name, description=desc,
                      component_ids=[comp_ids[c] for c in comps], outcome_id=out_ids[outcome_name])  # fmt: skip
        role_ids[name] = role["id"]
        roles += _ensure(store, "role", role, now)
    tradeoffs = 0
    tradeoff_ids: dict[str, str] = {}
    for name, desc, accept, reject in TRADEOFFS:
        tradeoff = E.make("tradeoff", now, name=name, description=desc,
                          acceptable_tradeoffs=accept, unacceptable_tradeoffs=reject)  # fmt: skip
        tradeoff_ids[name] = tradeoff["id"]
        tradeoffs += _ensure(store, "tradeoff", tradeoff, now)
    agent_name, role_name, tradeoff_name = DEFAULT_AGENT
    agent = E.make("agent", now, role_id=role_ids[role_name], tradeoff_id=tradeoff_ids[tradeoff_name],
                   name=agent_name, executor="claude")  # fmt: skip
    agent_created = _ensure(store, "agent", agent, now)
    return {
        "roles_created": roles,
        "tradeoffs_created": tradeoffs,
        "agent_created": agent_created,
        "agent_id": agent["id"],
        "store_changed": changed or bool(roles or tradeoffs or agent_created),
    }


def config_changes(wg_dir: str) -> list[tuple[str, Any]]:
    """The keys ``wg agency init`` sets in ``$WG/config.toml`` (only those not already as wanted)."""
    from ..config import read_toml

    path = os.path.join(wg_dir, "config.toml")
    data = read_toml(path) if os.path.isfile(path) else {}
    agency_raw, models_raw = data.get("agency"), data.get("models")
    agency: dict[str, Any] = agency_raw if isinstance(agency_raw, dict) else {}
    models: dict[str, Any] = models_raw if isinstance(models_raw, dict) else {}
    items: list[tuple[str, Any]] = []
    for key in ("auto_assign", "auto_evaluate"):
        if agency.get(key) is not True:
            items.append((f"agency.{key}", True))
    for role in ("assigner", "evaluator"):
        table = models.get(role)
        if not (isinstance(table, dict) and table.get("model")):
            items.append((f"models.{role}.model", "claude:haiku"))
    return items


def run_bootstrap(wg_dir: str, now: int) -> tuple[list[str], dict[str, Any]]:
    """The whole of ``wg agency init``: stdout lines and the ``--json`` object."""
    from ..config import set_keys
    from .store import AgencyStore

    store = AgencyStore(wg_dir)
    with store.lock():
        result = seed_store(store, now)
        items = config_changes(wg_dir)
        if items:
            set_keys(os.path.join(wg_dir, "config.toml"), items)
    lines: list[str] = []
    r, t = result["roles_created"], result["tradeoffs_created"]
    if r or t:
        lines.append(f"Created {r} roles and {t} tradeoffs.")
    short = E.short(result["agent_id"])
    if result["agent_created"]:
        lines.append(f"Created default agent: {DEFAULT_AGENT[0]} ({short}).")
    else:
        lines.append(f"Default agent already exists ({short}).")
    if items:
        lines.append("Enabled auto_assign and auto_evaluate in config.")
    if not (result["store_changed"] or items):
        lines.append("Agency already initialized.")
    else:
        lines += [
            "",
            "Agency is ready. The service will now auto-assign agents to tasks.",
            "  Next: wg service start",
        ]
    obj = {
        "roles_created": r,
        "tradeoffs_created": t,
        "agent_created": bool(result["agent_created"]),
        "config_changed": bool(items),
    }
    return lines, obj
