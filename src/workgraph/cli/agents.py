"""Agent commands (spec service 8): ``wg agents``, ``kill``, ``spawn``, ``heartbeat``, ``reclaim``, ``sweep``.

Commands that act on a running daemon's agents go through its IPC (it owns their exits); without a daemon
they act directly on the registry and the graph.
"""

from __future__ import annotations

import os
import time

from ..errors import UsageError, WgError
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..service.files import ServicePaths
    from .args import Args
    from .context import Ctx


def _paths(ctx: Ctx) -> ServicePaths:
    from ..service.files import ServicePaths

    ctx.store  # noqa: B018  (raises "WG not initialized" first)
    return ServicePaths(ctx.wg_dir)


# -- wg agents (8.1) ----------------------------------------------------------------------------

_FILTERS = ("alive", "working", "idle", "dead")


def _keep(row: dict[str, Any], which: str | None) -> bool:
    if which == "alive":
        return bool(row["_live"])
    if which == "dead":
        return bool(row["_raw_status"] == "dead" or row["status"] == "dead (process exited)")
    if which in ("working", "idle"):
        return bool(row["_raw_status"] == which and row["_live"])
    return True


def run_agents(ctx: Ctx, a: Args) -> int:
    from ..service.agents import agent_rows

    chosen = [f for f in _FILTERS if a.get(f)]
    if len(chosen) > 1:
        raise UsageError(f"--{chosen[0]} cannot be used with --{chosen[1]}", "Usage: wg agents [OPTIONS]")
    rows = [r for r in agent_rows(_paths(ctx), time.time()) if _keep(r, chosen[0] if chosen else None)]
    if ctx.json:
        ctx.emit_json([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
        return 0
    if not rows:
        ctx.out("No agents registered.")
        return 0
    idw = max(8, *(len(r["id"]) for r in rows))
    tw = min(40, max(20, *(len(str(r["task_id"] or "")) for r in rows)))
    ew = max(8, *(len(str(r["executor"] or "")) for r in rows))
    ctx.out(f"{'ID':<{idw}}  {'TASK':<{tw}}  {'EXECUTOR':<{ew}}  {'PID':>6}  {'UPTIME':>6}  STATUS")
    for r in rows:
        task = str(r["task_id"] or "")
        if len(task) > tw:
            task = task[: tw - 3] + "..."
        pid = r["pid"] if r["pid"] is not None else 0
        ctx.out(
            f"{r['id']:<{idw}}  {task:<{tw}}  {r['executor'] or ''!s:<{ew}}  {pid:>6}  {r['uptime']:>6}  "
            f"{r['status']}"
        )
    alive = sum(1 for r in rows if r["_live"])
    dead = sum(1 for r in rows if _keep(r, "dead"))
    ctx.out("")
    ctx.out(f"{len(rows)} agent(s) total: {alive} alive, {dead} dead" if dead else f"{len(rows)} agent(s)")
    return 0


# -- wg kill (8.2) ------------------------------------------------------------------------------


def _kill_one(ctx: Ctx, paths: ServicePaths, agent_id: str, force: bool, redispatch: bool) -> dict[str, Any]:
    from ..service.agents import daemon_call, kill_agent

    reply = daemon_call(
        paths, {"cmd": "kill", "agent_id": agent_id, "force": force, "redispatch": redispatch}
    )
    if reply is None:
        return kill_agent(paths, ctx.store, agent_id, force=force, redispatch=redispatch)
    if not reply.get("ok"):
        if reply.get("error") == f"Agent '{agent_id}' not found":
            return {"result": "not_found", "agent_id": agent_id}
        raise WgError(str(reply.get("error")))
    return {**reply, "agent_id": agent_id}


def _live_agents(paths: ServicePaths) -> list[dict[str, Any]]:
    from ..service.agents import agent_rows

    return [r for r in agent_rows(paths, time.time()) if r["_live"]]


def run_kill(ctx: Ctx, a: Args) -> int:
    modes = sum(1 for x in (a.agent, a.all, a.tree) if x)
    if modes != 1:
        raise UsageError(
            "give exactly one of <AGENT>, --all or --tree <TASK>", "Usage: wg kill [OPTIONS] [AGENT]"
        )
    paths = _paths(ctx)
    if a.all:
        return _kill_all(ctx, paths, bool(a.force))
    if a.tree:
        return _kill_tree(ctx, paths, a)
    res = _kill_one(ctx, paths, a.agent, bool(a.force), bool(a.redispatch))
    if ctx.json:
        ctx.emit_json({k: res.get(k) for k in ("agent_id", "result", "pid", "task_id", "force", "paused")})
    if res["result"] == "not_found":
        if not ctx.json:
            ctx.out(f"Agent '{a.agent}' not in registry — nothing to kill.")
        return 0
    pid, tid = res.get("pid"), res.get("task_id")
    if res["result"] == "already_dead":
        if not ctx.json:
            ctx.out(
                f"Agent '{a.agent}' (PID {pid}) already dead — task '{tid}' will be reconciled by dispatcher."
            )
        return 0
    ctx.mutated("kill", tid, kick=bool(a.redispatch), agent=a.agent)
    if not ctx.json:
        ctx.out(f"{'Force killed' if a.force else 'Killed'} {a.agent} (PID {pid})")
        if a.redispatch:
            ctx.out(f"Task '{tid}' unclaimed (will be re-dispatched)")
        else:
            ctx.out(f"Task '{tid}' paused (use 'wg resume {tid}' to re-enable dispatch)")
    return 0


def _kill_all(ctx: Ctx, paths: ServicePaths, force: bool) -> int:
    killed = []
    for row in _live_agents(paths):
        res = _kill_one(ctx, paths, row["id"], force, False)
        if res["result"] == "killed":
            killed.append(res)
            ctx.mutated("kill", res.get("task_id"), agent=row["id"])
    if ctx.json:
        ctx.emit_json({"killed": [{k: r.get(k) for k in ("agent_id", "pid", "task_id")} for r in killed]})
    elif not killed:
        ctx.out("No running agents to kill.")
    else:
        ctx.out(f"Killed {len(killed)} agent(s) (tasks paused):")
        for r in killed:
            ctx.out(f"  {r['agent_id']} (PID {r.get('pid')}) - task '{r.get('task_id')}'")
    return 0


def _kill_tree(ctx: Ctx, paths: ServicePaths, a: Args) -> int:
    from ..graph import closure
    from ..model import TERMINAL
    from ..transitions import abandon, not_found

    graph = ctx.store.load()
    if a.tree not in graph:
        raise not_found(graph, a.tree)
    tree = closure(graph, [a.tree], forward=True)
    members = set(tree)
    agents = [r for r in _live_agents(paths) if r["task_id"] in members]
    to_abandon = (
        [] if a.no_abandon else [t for t in tree if (graph.get(t) or {}).get("status") not in TERMINAL]
    )
    if a.dry_run:
        ctx.out(f"Dry run: kill tree of '{a.tree}' ({len(tree)} task(s))")
        for r in agents:
            ctx.out(f"  Would kill {r['id']} (PID {r['pid']}) - task '{r['task_id']}'")
        for t in to_abandon:
            ctx.out(f"  Would abandon '{t}'")
        if not agents and not to_abandon:
            ctx.out("  Nothing to do.")
        return 0
    killed = [_kill_one(ctx, paths, r["id"], bool(a.force), False) for r in agents]
    killed = [k for k in killed if k["result"] == "killed"]
    reason = f"Killed with its tree (wg kill --tree {a.tree})"

    def change(g: Any) -> list[str]:
        done = []
        for t in to_abandon:
            cur = g.get(t)
            if cur is not None and cur.get("status") not in TERMINAL:
                abandon(g, t, ctx.now, reason)
                done.append(t)
        return done

    abandoned = ctx.store.transaction(change, ctx.now) if to_abandon else []
    for t in abandoned:
        ctx.mutated("abandon", t)
    if ctx.json:
        ctx.emit_json({"killed": [k["agent_id"] for k in killed], "abandoned": abandoned})
        return 0
    ctx.out(f"Killed {len(killed)} agent(s) in the tree of '{a.tree}'")
    for k in killed:
        ctx.out(f"  {k['agent_id']} (PID {k.get('pid')}) - task '{k.get('task_id')}'")
    if abandoned:
        ctx.out(f"Abandoned {len(abandoned)} task(s): {', '.join(abandoned)}")
    return 0


# -- wg spawn (8.3) -----------------------------------------------------------------------------


def run_spawn(ctx: Ctx, a: Args) -> int:
    from ..service.agents import daemon_call
    from ..timeutil import parse_duration

    paths = _paths(ctx)
    if a.timeout is not None and a.timeout.strip() not in ("", "0"):
        if parse_duration(a.timeout, bare_unit="s") is None:
            raise WgError(f"Invalid timeout '{a.timeout}' (use N, Ns, Nm, Nh or Nd)")
    req: dict[str, Any] = {"cmd": "spawn", "task_id": a.task, "executor": a.executor or ""}
    if a.model:
        req["model"] = a.model
    if a.timeout is not None:
        req["timeout"] = a.timeout
    reply = daemon_call(paths, req)
    if reply is None:
        reply = _spawn_in_process(ctx, paths, a)
    elif not reply.get("ok"):
        raise WgError(str(reply.get("error")))
    ctx.mutated("spawn", a.task, agent=reply.get("agent_id"))
    if ctx.json:
        ctx.emit_json({k: v for k, v in reply.items() if k != "ok"})
        return 0
    executor = str(reply.get("executor") or "")
    ctx.out(
        f"Spawned {reply.get('agent_id')} for task '{a.task}'",
        f"  Executor: {executor} ({_kind(executor)})",
        f"  Model: {reply.get('model') or 'default'}",
        f"  PID: {reply.get('pid')}",
        f"  Output: {reply.get('output_file')}",
    )
    return 0


def _kind(executor: str) -> str:
    return (
        "native"
        if executor == "nex"
        else executor
        if executor in ("claude", "codex", "native", "shell")
        else "command"
    )


def _spawn_in_process(ctx: Ctx, paths: ServicePaths, a: Args) -> dict[str, Any]:
    """No daemon: spawn here; the agent runs detached and the next daemon adopts it (8.3)."""
    from ..service.agents import spawn_claim
    from ..service.daemon import DaemonLog, settings_from
    from ..service.dispatcher import Dispatcher

    os.makedirs(paths.dir, exist_ok=True)
    graph = ctx.store.load()
    task = graph.get(a.task)
    if task is None:
        from ..transitions import not_found

        raise not_found(graph, a.task)
    settings = settings_from(ctx.wg_dir, {})
    d = Dispatcher(paths, ctx.store, settings, DaemonLog(paths.log, False), lambda: None, lambda: None)
    executor = (
        "shell" if task.get("exec") or task.get("exec_mode") == "shell" else a.executor or settings.executor
    )
    agent_id, claimed = spawn_claim(ctx.store, d.registry, a.task, executor, a.model)
    try:
        d._start(agent_id, claimed)
    except Exception as exc:
        d._roll_back(agent_id, a.task, exc)
        raise WgError(f"Spawn failed: {exc}") from None
    entry = d.registry.load()["agents"].get(agent_id) or {}
    return {
        "agent_id": agent_id,
        "pid": entry.get("pid"),
        "task_id": a.task,
        "executor": entry.get("executor") or executor,
        "model": entry.get("model") or a.model,
        "output_file": entry.get("output_file"),
    }


# -- wg heartbeat (8.4) -------------------------------------------------------------------------


def run_heartbeat(ctx: Ctx, a: Args) -> int:
    from ..service.agents import record_heartbeat

    agent_id = a.agent or ctx.env("WG_AGENT_ID")
    if not agent_id:
        raise WgError("No agent id given and WG_AGENT_ID is not set")
    stamp = record_heartbeat(_paths(ctx), agent_id, ctx.now)
    if ctx.json:
        ctx.emit_json({"agent_id": agent_id, "heartbeat": "recorded", "timestamp": stamp})
    else:
        ctx.out(f"Agent heartbeat recorded for '{agent_id}' at {stamp}")
    return 0


# -- wg reclaim, wg sweep (8.5) -----------------------------------------------------------------


def run_reclaim(ctx: Ctx, a: Args) -> int:
    from ..model import log_entry, status_name
    from ..service.agents import daemon_call, kill_agent
    from ..service.registry import Registry, entry_live
    from ..timeutil import format_ts
    from ..transitions import require

    paths = _paths(ctx)
    tid, src, dst = a.task, a.from_actor, a.to_actor
    if not src or not dst:
        raise UsageError("--from <ACTOR> and --to <ACTOR> are required", "Usage: wg reclaim [OPTIONS] <TASK>")

    def check(g: Any, allow_unassigned: bool = False) -> dict[str, Any]:
        task = require(g, tid)
        status = str(task.get("status", "open"))
        if status != "in-progress":
            raise WgError(
                f"Task '{tid}' is not in progress (status: {status_name(status)}). "
                "Only in-progress tasks can be reclaimed."
            )
        cur = task.get("assigned")
        if cur is None and not allow_unassigned:
            raise WgError(f"Task '{tid}' has no assigned actor. Use 'wg claim' instead.")
        if cur is not None and cur != src:
            raise WgError(f"Task '{tid}' is assigned to '{cur}', not '{src}'. Cannot reclaim.")
        return task

    check(ctx.store.load())
    killed: dict[str, Any] | None = None
    entry = Registry(paths).load()["agents"].get(src)
    if isinstance(entry, dict) and entry_live(entry, time.time()):
        killed = daemon_call(paths, {"cmd": "kill", "agent_id": src, "for_retry": True})
        if killed is None:
            killed = kill_agent(paths, ctx.store, src, for_retry=True)

    def change(g: Any) -> None:
        task = check(g, allow_unassigned=killed is not None)
        msg = f"Task reclaimed from @{src} to @{dst} (agent takeover)"
        g.update(tid, assigned=dst, log=[*(task.get("log") or []), log_entry(format_ts(ctx.now), msg, dst)])

    ctx.store.transaction(change, ctx.now)
    ctx.mutated("reclaim", tid, from_actor=src, to_actor=dst)
    if ctx.json:
        ctx.emit_json({"id": tid, "from": src, "to": dst, "killed": bool(killed)})
    else:
        ctx.out(f"Reclaimed task '{tid}' from '{src}' to '{dst}'")
    return 0


def run_sweep(ctx: Ctx, a: Args) -> int:
    from ..service.sweep import sweep

    _paths(ctx)
    grace = ctx.config.get("agent.reaper_grace_seconds", 30)
    grace_s = float(grace) if isinstance(grace, int | float) and not isinstance(grace, bool) else 30.0
    changes = sweep(ctx.wg_dir, ctx.store, bool(a.dry_run), grace_s)
    if ctx.json:
        ctx.emit_json({"dry_run": bool(a.dry_run), "changes": changes})
        return 0
    if not changes:
        ctx.out("Nothing to sweep: every registered agent and claim is consistent.")
        return 0
    for line in changes:
        ctx.out(("Would: " if a.dry_run else "") + line)
    ctx.out(f"{len(changes)} change(s)" + (" (dry run)" if a.dry_run else ""))
    return 0


_FILTER_OPTS = [flag(f"--{f}", help=f"Only {f} agents") for f in _FILTERS]
_KILL_OPTS = [
    flag("--force", help="SIGKILL at once"),
    flag("--redispatch", help="Do not pause the task; let the dispatcher pick it up again"),
    flag("--all", help="Kill every live agent"),
    Opt("--tree", metavar="TASK", help="Kill the agents of TASK and its transitive dependents"),
    flag("--dry-run", help="With --tree: only show what would happen"),
    flag("--no-abandon", help="With --tree: do not abandon the tasks"),
]
_AGENTS_LIST = Cmd("list", "List registered agents", run_agents, opts=_FILTER_OPTS)
_KILL = Cmd(
    "kill", "Stop an agent and release its task", run_kill, [Arg("agent", required=False)], _KILL_OPTS
)

COMMANDS = {
    "agents": Cmd("agents", "List agent processes", subs=[_AGENTS_LIST, _KILL], default_sub="list"),
    "kill": _KILL,
    "spawn": Cmd(
        "spawn",
        "Start an agent on a task now",
        run_spawn,
        [Arg("task", help="Task id")],
        [
            Opt("--executor", help="Executor name"),
            Opt("--model", help="Model"),
            Opt("--timeout", metavar="DURATION", help="Hard timeout (N, Ns, Nm, Nh, Nd; 0 = none)"),
        ],
    ),
    "heartbeat": Cmd(
        "heartbeat",
        "Record an agent heartbeat",
        run_heartbeat,
        [Arg("agent", required=False, help="Agent id")],
    ),
    "reclaim": Cmd(
        "reclaim",
        "Move an in-progress task to another actor (stopping a live agent first)",
        run_reclaim,
        [Arg("task", help="Task id")],
        [
            Opt("--from", dest="from_actor", metavar="ACTOR", help="Current assignee"),
            Opt("--to", dest="to_actor", metavar="ACTOR", help="New assignee"),
        ],
    ),
    "sweep": Cmd(
        "sweep",
        "Reconcile dead agents and stale claims once",
        run_sweep,
        opts=[flag("--dry-run", help="Only show what would change")],
    ),
}
