"""``wg agency init|stats``, ``wg role ...``, ``wg tradeoff ...`` (alias ``wg motivation``) (agency.md 3.1-3.4).

Agents, ``wg assign``: ``cli/agency_agents.py``; ``wg evaluate``: ``cli/agency_eval.py``; what they share
(store, lineage, generic list/show/rm/edit): ``cli/agency_common.py``.
"""

from __future__ import annotations

from ..errors import WgError
from .agency_common import (
    list_entities,
    not_supported,
    open_store,
    record_json,
    run_edit,
    run_lineage,
    run_rm,
    run_show,
)
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..agency.store import AgencyStore
    from .args import Args
    from .context import Ctx

    Entity = dict[str, Any]

HEX = frozenset("0123456789abcdef")


# -- wg agency init / stats -----------------------------------------------------------------------


def run_agency_init(ctx: Ctx, a: Args) -> int:
    from ..agency.bootstrap import run_bootstrap

    open_store(ctx)
    lines, obj = run_bootstrap(ctx.wg_dir, ctx.now)
    if ctx.json:
        ctx.emit_json(obj)
    else:
        ctx.out(*lines)
    return 0


def run_agency_stats(ctx: Ctx, a: Args) -> int:
    from ..agency.stats import compute_stats, stats_lines

    store = open_store(ctx)
    stats = compute_stats(store, int(a.min_evals), bool(a.by_model))
    if ctx.json:
        ctx.emit_json(stats)
    else:
        ctx.out(*stats_lines(stats, int(a.min_evals), bool(a.by_model)))
    return 0


# -- shared helpers for role and tradeoff ----------------------------------------------------------


def _is_hex_prefix(text: str) -> bool:
    return len(text) >= 4 and set(text) <= HEX


def primitive_by_text(store: AgencyStore, kind: str, text: str) -> Entity | None:
    """A unique id prefix of ≥ 4 hex digits, else the first entity (by id) whose ``name`` equals the text."""
    if _is_hex_prefix(text):
        found = store.matches(kind, text)
        if len(found) == 1:
            return found[0]
    return next((e for e in store.all(kind) if e.get("name") == text), None)


def component_from_spec(spec: str, now: int) -> Entity:
    from ..agency import entities as E
    from ..agency.yamlio import Tagged

    name, sep, rest = spec.partition(":")
    if sep and rest.startswith("inline:"):
        body = rest[len("inline:") :]
        return E.make("component", now, name=name, description=body, category="translated",
                      content=Tagged("inline", body))  # fmt: skip
    if sep and rest.startswith("file://"):
        return E.make("component", now, name=name, description=rest, category="translated",
                      content=Tagged("file", rest[len("file://") :]))  # fmt: skip
    if sep and rest.startswith(("http://", "https://")):
        return E.make("component", now, name=name, description=rest, category="translated",
                      content=Tagged("url", rest))  # fmt: skip
    return E.make("component", now, name=spec, description=spec, category="translated",
                  content=Tagged("name", spec))  # fmt: skip


# -- wg role --------------------------------------------------------------------------------------


def run_role_add(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    if not a.outcome:
        from ..errors import UsageError

        raise UsageError("the following required arguments were not provided: --outcome <OUTCOME>")
    store = open_store(ctx)
    with store.lock():
        new_prims: list[tuple[str, Entity]] = []
        outcome = primitive_by_text(store, "outcome", a.outcome)
        if outcome is None:
            outcome = E.make("outcome", ctx.now, name=a.outcome, description=a.outcome,
                             requires_human_oversight=True)  # fmt: skip
            new_prims.append(("outcome", outcome))
        comp_ids: list[str] = []
        for spec in a.skill:
            comp = primitive_by_text(store, "component", spec)
            if comp is None:
                comp = component_from_spec(spec, ctx.now)
                new_prims.append(("component", comp))
            comp_ids.append(str(comp["id"]))
        role = E.make("role", ctx.now, name=a.name, description=a.description or "", component_ids=comp_ids,
                      outcome_id=outcome["id"])  # fmt: skip
        if store.exists("role", role["id"]):
            raise WgError(f"Role with identical content already exists ({E.short(role['id'])})")
        for kind, prim in new_prims:
            if not store.exists(kind, prim["id"]):
                store.write(kind, prim, ctx.now)
        path = store.write("role", role, ctx.now)
    if ctx.json:
        ctx.emit_json(record_json(store.read_file("role", path)))
    else:
        ctx.out(f"Created role '{a.name}' ({E.short(role['id'])}) at {store.rel(path)}")
    return 0


def run_role_list(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    def as_json(r: Entity) -> Entity:
        return {"id": r["id"], "name": E.text(r, "name"), "skill_count": len(E.field(r, "component_ids")),
                "avg_score": E.avg_score(r)}  # fmt: skip

    def as_line(r: Entity) -> str:
        return (
            f"  {E.short(r['id'])}  {E.text(r, 'name'):<20} skills: {len(E.field(r, 'component_ids'))}  "
            f"avg_score: {E.fmt_score(E.avg_score(r))}"
        )

    return list_entities(ctx, "role", "wg role add", as_json, as_line)


def _role_lines(role: Entity) -> list[str]:
    from ..agency import entities as E

    lines = [
        f"Role: {E.text(role, 'name')} ({E.short(role['id'])})",
        f"ID: {role['id']}",
        f"Description: {E.text(role, 'description') or '(none)'}",
        f"Outcome ID: {E.text(role, 'outcome_id')}",
        "",
    ]
    comps = E.field(role, "component_ids")
    lines += ["Components:", *(f"  - {c}" for c in comps)] if comps else ["Components: (none)"]
    lines += [
        "",
        "Performance:",
        f"  Tasks: {E.task_count(role)}",
        f"  Avg score: {E.fmt_score(E.avg_score(role))}",
    ]
    if E.perf_entries(role):
        lines.append(f"  Evaluations: {len(E.perf_entries(role))}")
    return lines


# -- wg tradeoff ----------------------------------------------------------------------------------


def run_tradeoff_add(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    store = open_store(ctx)
    tradeoff = E.make("tradeoff", ctx.now, name=a.name, description=a.description or a.name,
                      acceptable_tradeoffs=list(a.accept), unacceptable_tradeoffs=list(a.reject))  # fmt: skip
    with store.lock():
        if store.exists("tradeoff", tradeoff["id"]):
            raise WgError(f"Tradeoff with identical content already exists ({E.short(tradeoff['id'])})")
        path = store.write("tradeoff", tradeoff, ctx.now)
    if ctx.json:
        ctx.emit_json(record_json(store.read_file("tradeoff", path)))
    else:
        ctx.out(f"Created tradeoff: {a.name} ({E.short(tradeoff['id'])})", f"  File: {store.rel(path)}")
    return 0


def run_tradeoff_list(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    def as_json(t: Entity) -> Entity:
        return {"id": t["id"], "name": E.text(t, "name"), "description": E.text(t, "description"),
                "acceptable_tradeoffs": len(E.field(t, "acceptable_tradeoffs")),
                "unacceptable_tradeoffs": len(E.field(t, "unacceptable_tradeoffs")),
                "avg_score": E.avg_score(t), "task_count": E.task_count(t)}  # fmt: skip

    def as_line(t: Entity) -> str:
        return (
            f"  {E.short(t['id'])}  {E.text(t, 'name'):<20} accept:{len(E.field(t, 'acceptable_tradeoffs'))} "
            f"reject:{len(E.field(t, 'unacceptable_tradeoffs'))} score:{E.fmt_score(E.avg_score(t), 'n/a')} "
            f"tasks:{E.task_count(t)}"
        )

    return list_entities(ctx, "tradeoff", "wg tradeoff add", as_json, as_line)


def _tradeoff_lines(t: Entity) -> list[str]:
    from ..agency import entities as E

    lines = [f"Tradeoff: {E.text(t, 'name')} ({E.short(t['id'])})", f"ID: {t['id']}"]
    if E.text(t, "description"):
        lines.append(f"Description: {E.text(t, 'description')}")
    lines.append("")
    accept, reject = E.field(t, "acceptable_tradeoffs"), E.field(t, "unacceptable_tradeoffs")
    if accept:
        lines += ["Acceptable tradeoffs:", *(f"  + {x}" for x in accept)]
    if reject:
        lines += ["Unacceptable tradeoffs:", *(f"  - {x}" for x in reject)]
    if accept or reject:
        lines.append("")
    lines.append(f"Performance: {E.task_count(t)} tasks, avg score: {E.fmt_score(E.avg_score(t), 'n/a')}")
    return lines


_ID = Arg("id", help="Id or unique id prefix")
_UNSUPPORTED = [Arg("rest", required=False, variadic=True)]

AGENCY = Cmd(
    "agency",
    "Agency store: init, stats",
    subs=[
        Cmd("init", "Seed starter roles, tradeoffs and a default agent", run_agency_init),
        Cmd(
            "stats",
            "Performance statistics",
            run_agency_stats,
            opts=[
                Opt("--min-evals", type=int, default=3, help="Under-explored below this many evaluations"),
                flag("--by-model", help="Add a per-model leaderboard"),
            ],
        ),
        *(
            Cmd(n, "Not supported yet", not_supported, args=_UNSUPPORTED)
            for n in (
                "create",
                "deferred",
                "approve",
                "reject",
                "scan",
                "pull",
                "push",
                "merge",
                "remote",
                "import",
                "export",
                "migrate",
            )
        ),
    ],
)
ROLE = Cmd(
    "role",
    "Manage roles",
    subs=[
        Cmd(
            "add",
            "Create a role",
            run_role_add,
            args=[Arg("name")],
            opts=[
                Opt("--outcome", help="Outcome id prefix, name or text"),
                Opt("--skill", multiple=True, help="Component id prefix, name or spec (repeatable)"),
                Opt("-d", "--description", help="Description"),
            ],
        ),
        Cmd("list", "List roles", run_role_list),
        Cmd("show", "Show a role", run_show("role", _role_lines), args=[_ID]),
        Cmd("edit", "Edit a role in $EDITOR", run_edit("role", "Role"), args=[_ID], json=False),
        Cmd("rm", "Remove a role", run_rm("role", "Removed role '{name}' ({short})"), args=[_ID]),
        Cmd("lineage", "Show a role's ancestry", run_lineage("role", "role"), args=[_ID]),
    ],
)
TRADEOFF = Cmd(
    "tradeoff",
    "Manage tradeoffs",
    subs=[
        Cmd(
            "add",
            "Create a tradeoff",
            run_tradeoff_add,
            args=[Arg("name")],
            opts=[
                Opt("--accept", multiple=True, help="Acceptable trade-off (repeatable)"),
                Opt("--reject", multiple=True, help="Unacceptable trade-off (repeatable)"),
                Opt("-d", "--description", help="Description (default: the name)"),
            ],
        ),
        Cmd("list", "List tradeoffs", run_tradeoff_list),
        Cmd("show", "Show a tradeoff", run_show("tradeoff", _tradeoff_lines), args=[_ID]),
        Cmd("edit", "Edit a tradeoff in $EDITOR", run_edit("tradeoff", "Tradeoff"), args=[_ID], json=False),
        Cmd("rm", "Remove a tradeoff", run_rm("tradeoff", "Removed tradeoff: {name} ({short})"), args=[_ID]),
        Cmd("lineage", "Show a tradeoff's ancestry", run_lineage("tradeoff", "tradeoff"), args=[_ID]),
    ],
)

COMMANDS = {
    "agency": AGENCY,
    "role": ROLE,
    "tradeoff": TRADEOFF,
    "motivation": TRADEOFF,
    "evolve": Cmd("evolve", "Not supported yet", not_supported, args=_UNSUPPORTED),
}
