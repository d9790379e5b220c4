"""``wg agent create|list|show|rm|lineage|performance`` and ``wg assign`` (agency.md 3.5-3.6)."""

from __future__ import annotations

from ..errors import UsageError, WgError
from .agency_common import lineage_output, list_entities, not_supported, open_store, run_rm
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..agency.store import AgencyStore
    from ..graph import Graph
    from .args import Args
    from .context import Ctx

    Entity = dict[str, Any]

TRUST_LEVELS = ("verified", "provisional", "unknown")


def _name_of(store: AgencyStore, kind: str, entity_id: str) -> str | None:
    from ..agency import entities as E

    e = store.get(kind, entity_id) if entity_id else None
    return E.text(e, "name") if e is not None else None


def run_agent_create(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    store = open_store(ctx)
    executor = a.executor or "claude"
    human = executor in E.HUMAN_EXECUTORS
    role = store.find("role", a.role) if a.role else None
    tradeoff = store.find("tradeoff", a.tradeoff) if a.tradeoff else None
    if not human:
        if role is None:
            raise WgError(f"--role is required for AI agents (executor={executor})")
        if tradeoff is None:
            raise WgError(f"--tradeoff is required for AI agents (executor={executor})")
    fields: Entity = {
        "role_id": role["id"] if role else "",
        "tradeoff_id": tradeoff["id"] if tradeoff else "",
        "name": a.name,
        "capabilities": list(a.capabilities),
        "rate": a.rate,
        "capacity": a.capacity,
        "trust_level": a.trust_level,
        "contact": a.contact,
        "executor": executor,
        "preferred_model": a.model,
        "preferred_provider": a.provider,
    }
    agent = E.make("agent", ctx.now, **fields)
    with store.lock():
        if store.exists("agent", agent["id"]):
            raise WgError(f"Agent with identical identity already exists ({E.short(agent['id'])})")
        path = store.write("agent", agent, ctx.now)
    if ctx.json:
        ctx.emit_json(_agent_json(store, store.read_file("agent", path)))
        return 0
    lines = [f"Created agent '{a.name}' ({E.short(agent['id'])}) at {store.rel(path)}"]
    if role is not None:
        lines.append(f"  {'role:':<12}{E.text(role, 'name')} ({E.short(role['id'])})")
    if tradeoff is not None:
        lines.append(f"  {'tradeoff:':<12}{E.text(tradeoff, 'name')} ({E.short(tradeoff['id'])})")
    lines.append(f"  {'executor:':<12}{executor}")
    if a.model:
        lines.append(f"  {'model:':<12}{a.model} (preferred)")
    if a.provider:
        lines.append(f"  {'provider:':<12}{a.provider} (preferred)")
    if a.capabilities:
        lines.append(f"  capabilities: {', '.join(a.capabilities)}")
    for key in ("rate", "capacity", "contact"):
        if a.get(key) is not None:
            lines.append(f"  {key + ':':<12}{a[key]}")
    ctx.out(*lines)
    return 0


def _agent_json(store: AgencyStore, agent: Entity) -> Entity:
    from ..agency import entities as E

    lin = E.lineage(agent)
    role_id, tradeoff_id = E.text(agent, "role_id"), E.text(agent, "tradeoff_id")
    return {
        "id": agent["id"],
        "name": E.text(agent, "name"),
        "role_id": role_id,
        "role_name": _name_of(store, "role", role_id) or "(not found)",
        "tradeoff_id": tradeoff_id,
        "tradeoff_name": _name_of(store, "tradeoff", tradeoff_id) or "(not found)",
        "executor": E.field(agent, "executor"),
        "preferred_model": agent.get("preferred_model"),
        "preferred_provider": agent.get("preferred_provider"),
        "capabilities": E.field(agent, "capabilities"),
        "rate": agent.get("rate"),
        "capacity": agent.get("capacity"),
        "trust_level": E.field(agent, "trust_level"),
        "contact": agent.get("contact"),
        "performance": {
            "task_count": E.task_count(agent),
            "avg_score": E.avg_score(agent),
            "evaluations": len(E.perf_entries(agent)),
        },
        "lineage": {
            "generation": lin["generation"],
            "parent_ids": lin["parent_ids"],
            "created_by": lin["created_by"],
            "created_at": lin.get("created_at"),
        },
    }


def run_agent_list(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    keys = ("id", "name", "role_id", "tradeoff_id", "executor", "preferred_model", "preferred_provider",
            "capabilities")  # fmt: skip

    def as_json(g: Entity) -> Entity:
        return {
            **{k: E.field(g, k) for k in keys},
            "avg_score": E.avg_score(g),
            "task_count": E.task_count(g),
        }

    def as_line(g: Entity) -> str:
        role, mot = E.text(g, "role_id"), E.text(g, "tradeoff_id")
        model = f" model:{g['preferred_model']}" if g.get("preferred_model") else ""
        return (
            f"  {E.short(g['id'])}  {E.text(g, 'name'):<20} role:{E.short(role) or '-'} mot:{E.short(mot) or '-'} "
            f"exec:{E.field(g, 'executor')}{model} score:{E.fmt_score(E.avg_score(g), 'n/a')} "
            f"tasks:{E.task_count(g)}"
        )

    return list_entities(ctx, "agent", "wg agent create", as_json, as_line)


def run_agent_show(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    store = open_store(ctx)
    g = store.find("agent", a.id)
    if ctx.json:
        ctx.emit_json(_agent_json(store, g))
        return 0
    lines = [f"Agent: {E.text(g, 'name')} ({E.short(g['id'])})", f"ID: {g['id']}", ""]
    for kind, label in (("role", "Role"), ("tradeoff", "Tradeoff")):
        ref = E.text(g, f"{kind}_id")
        name = _name_of(store, kind, ref)
        lines.append(
            f"{label}: {name} ({E.short(ref)})"
            if name is not None
            else f"{label}: {E.short(ref)} (not found)"
        )
    lines += ["", f"Executor: {E.field(g, 'executor')}"]
    if g.get("preferred_model"):
        lines.append(f"Model: {g['preferred_model']} (preferred)")
    if g.get("preferred_provider"):
        lines.append(f"Provider: {g['preferred_provider']} (preferred)")
    if E.field(g, "capabilities"):
        lines.append(f"Capabilities: {', '.join(map(str, E.field(g, 'capabilities')))}")
    for key, label in (("rate", "Rate"), ("capacity", "Capacity"), ("trust_level", "Trust level"),
                       ("contact", "Contact")):  # fmt: skip
        if g.get(key) is not None:
            lines.append(f"{label}: {g[key]}")
    lines += [
        "",
        "Performance:",
        f"  Tasks: {E.task_count(g)}",
        f"  Avg score: {E.fmt_score(E.avg_score(g), 'n/a')}",
    ]
    lin = E.lineage(g)
    lines += ["", "Lineage:", f"  Generation: {lin['generation']}", f"  Created by: {lin['created_by']}"]
    if lin["parent_ids"]:
        lines.append(f"  Parents: {', '.join(E.short(p) for p in lin['parent_ids'])}")
    ctx.out(*lines)
    return 0


def run_agent_lineage(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    store = open_store(ctx)
    g = store.find("agent", a.id)
    lines = [f"Lineage for agent: {E.text(g, 'name')} ({E.short(g['id'])})"]
    for kind in ("role", "tradeoff"):
        e = store.get(kind, E.text(g, f"{kind}_id"))
        if e is not None:
            header = f"Lineage for {kind}: {E.short(e['id'])} ({E.text(e, 'name')})"
            lines += ["", *lineage_output(ctx, store, kind, e, header)]
    if not ctx.json:
        ctx.out(*lines)
    return 0


def run_agent_performance(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E

    g = open_store(ctx).find("agent", a.id)
    if ctx.json:
        ctx.emit_json({"id": g["id"], "name": E.text(g, "name"), "task_count": E.task_count(g),
                       "avg_score": E.avg_score(g), "evaluations": E.perf_entries(g)})  # fmt: skip
        return 0
    lines = [
        f"Performance for agent: {E.text(g, 'name')} ({E.short(g['id'])})",
        f"  Tasks: {E.task_count(g)}",
        f"  Avg score: {E.fmt_score(E.avg_score(g), 'n/a')}",
    ]
    for e in E.perf_entries(g):
        score = e.get("score")
        shown = f"{float(score):.2f}" if isinstance(score, int | float) else "-"
        lines.append(
            f"  task:{str(e.get('task_id', ''))[:12]} score:{shown} context:{E.short(str(e.get('context_id', '')))} "
            f"at:{e.get('timestamp', '')}"
        )
    ctx.out(*lines)
    return 0


# -- wg assign ------------------------------------------------------------------------------------


def _is_meta(agent: Entity, store: AgencyStore, ctx: Ctx) -> bool:
    from ..agency import entities as E

    cfg_ids = {ctx.config.get(f"agency.{k}") for k in E.META_AGENT_KEYS}
    if agent["id"] in cfg_ids:
        return True
    return _name_of(store, "role", E.text(agent, "role_id")) in E.META_ROLE_NAMES


def pick_auto(store: AgencyStore, ctx: Ctx) -> Entity:
    """Highest ``avg_score`` (none = 0.0) among AI, non-meta agents (all if none), ties to the smallest id."""
    from ..agency import entities as E

    agents = store.all("agent")
    if not agents:
        raise WgError(
            "No agents available for automatic assignment. Use 'wg agent create' to create agents first."
        )
    pool = [g for g in agents if not E.is_human(g) and not _is_meta(g, store, ctx)] or agents
    return min(pool, key=lambda g: (-(E.avg_score(g) or 0.0), str(g["id"])))


def _set_agent(graph: Graph, task_id: str, agent_id: str | None, message: str | None, stamp: str) -> bool:
    from ..model import log_entry
    from ..transitions import require

    task = require(graph, task_id, suggest=False)
    if task.get("agent") == agent_id:
        return False
    log = list(task.get("log") or [])
    if message:
        log.append(log_entry(stamp, message))
    graph.update(task_id, agent=agent_id, log=log)
    return True


def run_assign(ctx: Ctx, a: Args) -> int:
    from ..agency import entities as E
    from ..timeutil import format_ts

    chosen = [
        n for n, on in (("<AGENT>", a.agent is not None), ("--auto", a.auto), ("--clear", a["clear"])) if on
    ]
    if len(chosen) > 1:
        raise UsageError(f"{chosen[0]} cannot be used with {chosen[1]}", "Usage: wg assign <TASK> [AGENT]")
    if not chosen:
        raise UsageError("one of <AGENT>, --auto or --clear is required", "Usage: wg assign <TASK> [AGENT]")
    graph = ctx.store.load()
    if graph.get(a.task) is None:
        raise WgError(f"Task '{a.task}' not found")
    stamp = format_ts(ctx.now)
    if a["clear"]:
        changed = ctx.store.transaction(lambda g: _set_agent(g, a.task, None, None, stamp), ctx.now)
        if changed:
            ctx.mutated("assign", a.task, agent=None)
        if ctx.json:
            ctx.emit_json({"task_id": a.task, "agent_id": None, "agent_name": None, "role_id": None,
                           "tradeoff_id": None, "changed": changed})  # fmt: skip
        elif changed:
            ctx.out(f"Cleared agent from task '{a.task}'")
        else:
            ctx.out(f"Task '{a.task}' had no agent assigned (no change)")
        return 0
    store = open_store(ctx)
    if a.auto:
        agent = pick_auto(store, ctx)
        ctx.err(f"[assign] Auto-selecting agent: {E.short(agent['id'])} for task '{a.task}'")
        verb = "Agent assigned (auto)"
    else:
        found = store.matches("agent", a.agent)
        if len(found) != 1:
            if found:
                store.find("agent", a.agent)  # raises the ambiguity error
            shorts = ", ".join(E.short(g["id"]) for g in store.all("agent"))
            tail = (
                f"Available agents: {shorts}"
                if shorts
                else "No agents defined. Use 'wg agent create' to create one."
            )
            raise WgError(f"No agent matching '{a.agent}'. {tail}")
        agent = found[0]
        verb = "Agent assigned"
    name, short = E.text(agent, "name"), E.short(agent["id"])
    msg = f"{verb}: {name} ({short})"
    changed = ctx.store.transaction(lambda g: _set_agent(g, a.task, agent["id"], msg, stamp), ctx.now)
    ctx.mutated("assign", a.task, agent=agent["id"])
    with store.lock():
        store.write_assignment(a.task, agent["id"], stamp)
    role_id, tradeoff_id = E.text(agent, "role_id"), E.text(agent, "tradeoff_id")
    if ctx.json:
        ctx.emit_json({"task_id": a.task, "agent_id": agent["id"], "agent_name": name, "role_id": role_id,
                       "tradeoff_id": tradeoff_id, "changed": changed})  # fmt: skip
        return 0
    role_name = _name_of(store, "role", role_id) or "(not found)"
    tradeoff_name = _name_of(store, "tradeoff", tradeoff_id) or "(not found)"
    ctx.out(
        f"Assigned agent to task '{a.task}':",
        f"  Agent:      {name} ({short})",
        f"  Role:       {role_name} ({E.short(role_id)})",
        f"  Tradeoff:   {tradeoff_name} ({E.short(tradeoff_id)})",
    )
    return 0


_ID = Arg("id", help="Id or unique id prefix")

AGENT = Cmd(
    "agent",
    "Manage agency agents (identities)",
    subs=[
        Cmd(
            "create",
            "Create an agent",
            run_agent_create,
            args=[Arg("name")],
            opts=[
                Opt("--role", help="Role id prefix"),
                Opt("--tradeoff", "--motivation", dest="tradeoff", help="Tradeoff id prefix"),
                Opt("--capabilities", csv=True, help="Capabilities (comma-separated, repeatable)"),
                Opt("--rate", type=float, help="Rate"),
                Opt("--capacity", type=float, help="Capacity"),
                Opt("--trust-level", choices=TRUST_LEVELS, help="verified, provisional or unknown"),
                Opt("--contact", help="Contact"),
                Opt("--executor", help="Executor (default claude; matrix, email, shell: a human agent)"),
                Opt("--model", help="Preferred model"),
                Opt("--provider", help="Preferred provider"),
            ],
        ),
        Cmd("list", "List agents", run_agent_list),
        Cmd("show", "Show an agent", run_agent_show, args=[_ID]),
        Cmd("rm", "Remove an agent", run_rm("agent", "Removed agent '{name}' ({short})"), args=[_ID]),
        Cmd("lineage", "Show an agent's ancestry", run_agent_lineage, args=[_ID]),
        Cmd("performance", "Show an agent's scores", run_agent_performance, args=[_ID]),
        Cmd("run", "Not supported yet", not_supported, args=[Arg("rest", required=False, variadic=True)]),
    ],
)
ASSIGN = Cmd(
    "assign",
    "Assign an agency agent to a task",
    run_assign,
    args=[Arg("task"), Arg("agent", required=False, help="Agent id prefix")],
    opts=[
        flag("--auto", help="Pick the best-scoring agent"),
        flag("--clear", help="Remove the task's agent"),
    ],
)

COMMANDS = {"agent": AGENT, "assign": ASSIGN}
