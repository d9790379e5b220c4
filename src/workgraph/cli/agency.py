"""``wg agency init|stats``, ``wg role ...``, ``wg tradeoff ...`` (alias ``wg motivation``) (agency.md 3.1-3.4).

Agents, ``wg assign``: ``cli/agency_agents.py``; ``wg evaluate``: ``cli/agency_eval.py``.
"""

from __future__ import annotations

import os

from ..errors import WgError
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..agency.store import AgencyStore
    from .args import Args
    from .context import Ctx

    Entity = dict[str, Any]

HEX = frozenset("0123456789abcdef")


def open_store(ctx: Ctx) -> AgencyStore:
    """The agency store of an initialised project (``WG not initialized`` otherwise)."""
    from ..agency.store import AgencyStore

    ctx.store  # noqa: B018  # raises NotInitialized when there is no graph
    return AgencyStore(ctx.wg_dir, warn=ctx.err)


def not_supported(ctx: Ctx, a: Args) -> int:
    raise WgError(f"'wg {a.cmd_path}' is not supported yet")


def record_json(entity: Entity) -> Entity:
    """``show --json``: the whole record as stored, tags as text."""
    from ..agency.yamlio import Tagged

    def conv(v: Any) -> Any:
        if isinstance(v, Tagged):
            return {v.tag: v.value}
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return {k: conv(v) for k, v in entity.items()}


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


def _lineage_rows(store: AgencyStore, kind: str, entity: Entity) -> list[tuple[int, Entity]]:
    """The entity and its ancestors (depth first, each once), with their depth."""
    from ..agency import entities as E

    rows: list[tuple[int, Entity]] = []
    seen: set[str] = set()

    def walk(e: Entity, depth: int) -> None:
        if e["id"] in seen:
            return
        seen.add(e["id"])
        rows.append((depth, e))
        for pid in E.lineage(e)["parent_ids"]:
            parent = store.get(kind, pid)
            if parent is not None:
                walk(parent, depth + 1)

    walk(entity, 0)
    return rows


def lineage_output(ctx: Ctx, store: AgencyStore, kind: str, entity: Entity, header: str) -> list[str]:
    from ..agency import entities as E

    rows = _lineage_rows(store, kind, entity)
    if ctx.json:
        ctx.emit_json(
            [
                {"id": e["id"], "name": E.text(e, "name"), "generation": E.lineage(e)["generation"],
                 "created_by": E.lineage(e)["created_by"], "created_at": E.lineage(e).get("created_at"),
                 "parent_ids": E.lineage(e)["parent_ids"]}
                for _, e in rows
            ]
        )  # fmt: skip
        return []
    lines = [header, ""]
    for depth, e in rows:
        lin = E.lineage(e)
        gen = int(lin["generation"] or 0)
        label = "gen 0 (root)" if gen == 0 else f"gen {gen}"
        parents = lin["parent_ids"]
        tail = f" <- [{', '.join(E.short(p) for p in parents)}]" if parents else ""
        lines.append(
            f"{'  ' * depth}{E.short(e['id'])} ({E.text(e, 'name')}) [{label}] created by: {lin['created_by']}{tail}"
        )
    if not E.lineage(entity)["parent_ids"]:
        lines += ["", f"This {kind} has no evolutionary history (manually created)."]
    return lines


def edit_entity(ctx: Ctx, store: AgencyStore, kind: str, entity: Entity, label: str) -> list[str]:
    """``edit``: the file in ``$EDITOR``; same identity rewrites, a new one moves the file (3.3)."""
    import shlex
    import subprocess
    import tempfile

    from ..agency import entities as E
    from ..agency.yamlio import AgencyFileError, dumps, loads

    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    with store.lock():
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as fh:
            fh.write(dumps(E.for_write(kind, entity, ctx.now)))
            tmp = fh.name
        try:
            code = subprocess.call([*shlex.split(editor), tmp])
            if code != 0:
                raise WgError("Editor exited with non-zero status")
            with open(tmp, encoding="utf-8") as fh:
                try:
                    data = loads(fh.read(), tmp)
                except AgencyFileError:
                    data = None
        finally:
            os.unlink(tmp)
        if not isinstance(data, dict):
            raise WgError(f"Edited file is not valid {kind} YAML")
        data = E.normalize(kind, data)
        old_id = str(entity["id"])
        data["id"] = old_id
        new_id = E.identity_of(kind, data)
        if new_id == old_id:
            store.write(kind, data, ctx.now)
            return [f"{label} '{E.short(old_id)}' updated"]
        if store.exists(kind, new_id):
            raise WgError(f"{label} with identical content already exists ({E.short(new_id)})")
        data["id"] = new_id
        store.write(kind, data, ctx.now)
        store.remove(kind, old_id)
        return [f"{label} content changed, new ID: {E.short(new_id)}"]


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

    roles = open_store(ctx).all("role")
    if ctx.json:
        ctx.emit_json(
            [{"id": r["id"], "name": E.text(r, "name"), "skill_count": len(E.field(r, "component_ids")),
              "avg_score": E.avg_score(r)} for r in roles]
        )  # fmt: skip
        return 0
    if not roles:
        ctx.out("No roles defined. Use 'wg role add' to create one.")
        return 0
    ctx.out("Roles:", "")
    for r in roles:
        ctx.out(
            f"  {E.short(r['id'])}  {E.text(r, 'name'):<20} skills: {len(E.field(r, 'component_ids'))}  "
            f"avg_score: {E.fmt_score(E.avg_score(r))}"
        )
    return 0


def run_role_show(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    role = open_store(ctx).find("role", a.id)
    if ctx.json:
        ctx.emit_json(record_json(role))
        return 0
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
    ctx.out(*lines)
    return 0


def _run_edit(kind: str, label: str) -> Any:
    def run(ctx: Ctx, a: Args) -> int:
        store = open_store(ctx)
        ctx.out(*edit_entity(ctx, store, kind, store.find(kind, a.id), label))
        return 0

    return run


def _run_rm(kind: str, fmt: str) -> Any:
    def run(ctx: Ctx, a: Args) -> int:
        from ..agency import entities as E

        store = open_store(ctx)
        with store.lock():
            entity = store.find(kind, a.id)
            store.remove(kind, entity["id"])
        if ctx.json:
            ctx.emit_json({"removed": entity["id"]})
        else:
            ctx.out(fmt.format(name=E.text(entity, "name"), short=E.short(entity["id"])))
        return 0

    return run


def _run_lineage(kind: str, title: str) -> Any:
    def run(ctx: Ctx, a: Args) -> int:
        from ..agency import entities as E

        store = open_store(ctx)
        e = store.find(kind, a.id)
        ctx.out(
            *lineage_output(
                ctx, store, kind, e, f"Lineage for {title}: {E.short(e['id'])} ({E.text(e, 'name')})"
            )
        )
        return 0

    return run


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

    items = open_store(ctx).all("tradeoff")
    if ctx.json:
        ctx.emit_json(
            [{"id": t["id"], "name": E.text(t, "name"), "description": E.text(t, "description"),
              "acceptable_tradeoffs": len(E.field(t, "acceptable_tradeoffs")),
              "unacceptable_tradeoffs": len(E.field(t, "unacceptable_tradeoffs")),
              "avg_score": E.avg_score(t), "task_count": E.task_count(t)} for t in items]
        )  # fmt: skip
        return 0
    if not items:
        ctx.out("No tradeoffs defined. Use 'wg tradeoff add' to create one.")
        return 0
    ctx.out("Tradeoffs:", "")
    for t in items:
        ctx.out(
            f"  {E.short(t['id'])}  {E.text(t, 'name'):<20} accept:{len(E.field(t, 'acceptable_tradeoffs'))} "
            f"reject:{len(E.field(t, 'unacceptable_tradeoffs'))} score:{E.fmt_score(E.avg_score(t), 'n/a')} "
            f"tasks:{E.task_count(t)}"
        )
    return 0


def run_tradeoff_show(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    t = open_store(ctx).find("tradeoff", a.id)
    if ctx.json:
        ctx.emit_json(record_json(t))
        return 0
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
    ctx.out(*lines)
    return 0


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
        Cmd("show", "Show a role", run_role_show, args=[_ID]),
        Cmd("edit", "Edit a role in $EDITOR", _run_edit("role", "Role"), args=[_ID], json=False),
        Cmd("rm", "Remove a role", _run_rm("role", "Removed role '{name}' ({short})"), args=[_ID]),
        Cmd("lineage", "Show a role's ancestry", _run_lineage("role", "role"), args=[_ID]),
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
        Cmd("show", "Show a tradeoff", run_tradeoff_show, args=[_ID]),
        Cmd("edit", "Edit a tradeoff in $EDITOR", _run_edit("tradeoff", "Tradeoff"), args=[_ID], json=False),
        Cmd("rm", "Remove a tradeoff", _run_rm("tradeoff", "Removed tradeoff: {name} ({short})"), args=[_ID]),
        Cmd("lineage", "Show a tradeoff's ancestry", _run_lineage("tradeoff", "tradeoff"), args=[_ID]),
    ],
)

COMMANDS = {
    "agency": AGENCY,
    "role": ROLE,
    "tradeoff": TRADEOFF,
    "motivation": TRADEOFF,
    "evolve": Cmd("evolve", "Not supported yet", not_supported, args=_UNSUPPORTED),
}
