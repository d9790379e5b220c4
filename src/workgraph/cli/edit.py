"""Graph editing commands: edit, reset, pause, resume, publish, add-dep (add-after), rm-dep."""

from __future__ import annotations

from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ..graph import Graph
    from .args import Args
    from .context import Ctx


# -- edit ---------------------------------------------------------------------------------------


def run_edit(ctx: Ctx, a: Args) -> int:
    from ..editing import edit_task, validate_edit

    validate_edit(a)
    res = ctx.store.transaction(lambda g: edit_task(g, a.task, a, ctx.now), ctx.now)
    tid = a.task
    if res["changed"]:
        ctx.mutated("edit", tid, detail={"fields": res["fields"]})
    if ctx.json:
        ctx.emit_json({"id": tid, "changed": res["changed"], "changes": res["lines"]})
        return 0
    ctx.out(*res["lines"])
    if res["changed"]:
        ctx.out("", f"Task '{tid}' updated successfully")
    else:
        ctx.out(f"No changes made to task '{tid}'")
    return 0


_CYCLE_OPTS = [
    Opt("--max-iterations", type=int, help="Configure a cycle of at most N iterations"),
    Opt("--cycle-guard", help="Cycle guard: task:<id>=<status> or always"),
    Opt("--cycle-delay", help="Delay between cycle iterations"),
    flag("--no-converge", help="Force every cycle iteration"),
    flag("--no-restart-on-failure", help="Do not restart the cycle when a member fails"),
    Opt("--max-failure-restarts", type=int, help="Cycle failure restarts (default 3)"),
]

EDIT = Cmd(
    "edit",
    "Edit a task",
    run_edit,
    args=[Arg("task", help="Task id")],
    opts=[
        Opt("--title", help="New title"),
        Opt("-d", "--description", "--desc", dest="description", help="New description"),
        Opt("--add-after", "--add-blocked-by", dest="add_after", csv=True, help="Add dependencies"),
        Opt(
            "--remove-after", "--remove-blocked-by", dest="remove_after", csv=True, help="Remove dependencies"
        ),
        Opt("--add-tag", multiple=True, help="Add a tag (repeatable)"),
        Opt("--remove-tag", multiple=True, help="Remove a tag (repeatable)"),
        Opt("--add-skill", multiple=True, help="Add a skill (repeatable)"),
        Opt("--remove-skill", multiple=True, help="Remove a skill (repeatable)"),
        Opt("--model", help="Model as provider:model"),
        *_CYCLE_OPTS,
        Opt("--visibility", help="internal, public or peer"),
        Opt("--context-scope", help="clean, task, graph or full"),
        Opt("--exec-mode", help="full, light, bare or shell"),
        Opt("--delay", help="Not before now + duration"),
        Opt("--not-before", help="Not before this time (RFC 3339)"),
        Opt("--cron", help='Cron schedule ("" clears)'),
        flag("--allow-phantom", help="Allow dependencies that do not exist yet"),
        flag("--allow-cycle", help="Allow a dependency that closes an unconfigured cycle"),
    ],
)


# -- reset --------------------------------------------------------------------------------------


def run_reset(ctx: Ctx, a: Args) -> int:
    from ..editing import apply_reset, parse_direction, reset_plan

    direction = parse_direction(a.direction)
    seeds = list(dict.fromkeys([a.task, *a.seeds]))
    plan = reset_plan(ctx.store.load(), seeds, direction, a.also_strip_meta)
    tasks, meta = plan["tasks"], plan["meta"]
    ctx.err(
        f"wg reset — seeds={','.join(seeds)}, direction={direction.capitalize()}, "
        f"closure={len(tasks)} task(s), meta-to-strip={len(meta)}"
    )
    ctx.err(*(f"  • {t}" for t in tasks))
    if meta:
        ctx.err("  meta tasks that would be stripped:", *(f"    - {m}" for m in meta))

    def result(dry_run: bool) -> dict[str, object]:
        return {"seeds": seeds, "direction": direction, "tasks": tasks, "stripped": meta, "dry_run": dry_run}

    if a.dry_run:
        ctx.err("(dry run — no changes applied; drop --dry-run to execute)")
        if ctx.json:
            ctx.emit_json(result(True))
        return 0
    count = len(tasks) + len(meta)
    if count > 1 and not a.yes:
        from ..errors import WgError

        raise WgError(
            f"refusing to reset {count} tasks without --yes "
            "(use --dry-run first to preview, then re-run with --yes)"
        )

    def change(g: Graph) -> dict[str, list[str]]:
        fresh = reset_plan(g, seeds, direction, a.also_strip_meta)
        apply_reset(g, seeds, fresh, a.also_strip_meta, ctx.now)
        return fresh

    plan = ctx.store.transaction(change, ctx.now)
    tasks, meta = plan["tasks"], plan["meta"]
    ctx.mutated(
        "reset",
        a.task,
        actor="reset",
        detail={"seeds": seeds, "direction": direction, "closure": tasks, "meta_stripped": meta},
    )
    ctx.err(f"✓ reset {len(tasks)} task(s), stripped {len(meta)} meta task(s)")
    if ctx.json:
        ctx.emit_json(result(False))
    return 0


RESET = Cmd(
    "reset",
    "Reset tasks (and their closure) to open",
    run_reset,
    args=[Arg("task", help="Seed task id")],
    opts=[
        Opt("--seeds", csv=True, help="More seed task ids"),
        Opt("--direction", default="forward", help="forward (default), backward or both"),
        flag("--also-strip-meta", help="Also remove the closure's scaffolding tasks"),
        flag("--dry-run", help="Only print what would be reset"),
        flag("-y", "--yes", dest="yes", help="Reset more than one task"),
    ],
)


# -- pause / resume / publish -------------------------------------------------------------------


def run_pause(ctx: Ctx, a: Args) -> int:
    from ..editing import pause

    tid = a.task
    changed = ctx.store.transaction(lambda g: pause(g, tid, ctx.now, ctx.user), ctx.now)
    if changed:
        ctx.mutated("pause", tid)
    if ctx.json:
        ctx.emit_json({"id": tid, "changed": changed, "paused": [tid] if changed else []})
    elif changed:
        ctx.out(f"Paused '{tid}'")
    else:
        ctx.out(f"Task '{tid}' is already paused")
    return 0


def _unpause(ctx: Ctx, a: Args, publish: bool) -> int:
    from ..editing import unpause

    tid = a.task
    mode = "only" if a.only else "wcc" if a.get("wcc") else "downstream"
    done = ctx.store.transaction(lambda g: unpause(g, tid, mode, publish, ctx.now, ctx.user), ctx.now)
    ctx.mutated("publish" if publish else "resume", tid, kick=True)
    if ctx.json:
        ctx.emit_json({"id": tid, "changed": bool(done), "unpaused": done})
        return 0
    verb = "Published" if publish else "Resumed"
    others = max(0, len(done) - 1)
    if mode == "only":
        ctx.out(f"Published '{tid}' — task is now available for dispatch" if publish else f"Resumed '{tid}'")
    elif mode == "wcc":
        ctx.out(f"{verb} '{tid}' and {others} task(s) in the weakly-connected component")
    else:
        ctx.out(f"{verb} '{tid}' and {others} downstream task(s)")
    return 0


def run_resume(ctx: Ctx, a: Args) -> int:
    return _unpause(ctx, a, publish=False)


def run_publish(ctx: Ctx, a: Args) -> int:
    return _unpause(ctx, a, publish=True)


# -- add-dep / rm-dep ---------------------------------------------------------------------------


def _run_dep_change(
    ctx: Ctx, a: Args, change: Callable[[Graph, str, str], bool], op: str, changed: str, unchanged: str
) -> int:
    """add-dep / rm-dep: ``changed``/``unchanged`` are messages with ``{task}`` and ``{dep}``."""
    did = ctx.store.transaction(lambda g: change(g, a.task, a.dep), ctx.now)
    if did:
        ctx.mutated(op, a.task, detail={"dep": a.dep})
    if ctx.json:
        ctx.emit_json({"task": a.task, "dep": a.dep, "changed": did})
    else:
        ctx.out((changed if did else unchanged).format(task=a.task, dep=a.dep))
    return 0


def run_add_dep(ctx: Ctx, a: Args) -> int:
    from ..editing import add_dep

    return _run_dep_change(
        ctx,
        a,
        add_dep,
        "link",
        "Linked: '{task}' now depends on '{dep}'",
        "'{task}' already depends on '{dep}' — no change",
    )


def run_rm_dep(ctx: Ctx, a: Args) -> int:
    from ..editing import rm_dep

    return _run_dep_change(
        ctx,
        a,
        rm_dep,
        "unlink",
        "Unlinked: '{task}' no longer depends on '{dep}'",
        "'{task}' does not depend on '{dep}' — no change",
    )


_TASK = Arg("task", help="Task id")
_DEP_ARGS = [_TASK, Arg("dep", help="Dependency id")]
_ONLY = flag("--only", help="This task alone, not its dependents")

COMMANDS = {
    "edit": EDIT,
    "reset": RESET,
    "pause": Cmd("pause", "Pause a task", run_pause, [_TASK]),
    "resume": Cmd("resume", "Resume a paused task and its dependents", run_resume, [_TASK], [_ONLY]),
    "publish": Cmd(
        "publish",
        "Publish a draft task and its dependents",
        run_publish,
        [_TASK],
        [_ONLY, flag("--wcc", help="The whole weakly connected component, in dependency order")],
        conflicts=[("--wcc", "--only")],
    ),
    "add-dep": Cmd("add-dep", "Add a dependency", run_add_dep, _DEP_ARGS),
    "add-after": Cmd("add-after", "Add a dependency (alias of add-dep)", run_add_dep, _DEP_ARGS),
    "rm-dep": Cmd("rm-dep", "Remove a dependency", run_rm_dep, _DEP_ARGS),
}
