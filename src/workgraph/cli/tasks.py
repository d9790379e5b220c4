"""Task lifecycle commands: add, claim, unclaim, done, fail, abandon, retry."""

from __future__ import annotations

from ..errors import WgError
from ..model import FAILURE_CLASSES, status_name
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..graph import Graph
    from .args import Args
    from .context import Ctx


# -- add ----------------------------------------------------------------------------------------


def run_add(ctx: Ctx, a: Args) -> int:
    from ..addtask import AddRequest, add_task, validate_request

    req = AddRequest.from_args(a, ctx)
    validate_request(req)
    store = ctx.store
    result = store.transaction(lambda g: add_task(g, req, ctx.now), ctx.now, lazy=True)
    ctx.mutated("add_task", result["id"], kick=req.no_place, detail=_add_detail(req, ctx))
    _write_focus(ctx, result["id"])
    for w in result["warnings"]:
        ctx.err(w)
    if ctx.json:
        ctx.emit_json(
            {
                "id": result["id"],
                "title": req.title,
                "status": "open",
                "paused": result["paused"],
                "draft": result["draft"],
            }
        )
    else:
        tid = result["id"]
        if req.subtask:
            ctx.out(
                f"Added subtask: {req.title} ({tid})",
                f"  Parent '{result['parent']}' is now waiting for subtask to complete.",
                "  You should now exit cleanly. The coordinator will re-spawn you when the subtask finishes.",
            )
        elif result["draft"]:
            ctx.out(
                f"Added task (draft): {req.title} ({tid})",
                f"  Task is paused (draft mode). When ready, run: wg publish {tid}",
            )
        else:
            ctx.out(f"Added task: {req.title} ({tid})")
        if req.explicit_id is None and not req.subtask:
            ctx.out(f"  Use --after {tid} to depend on this task")
    _service_hint(ctx)
    return 0


def _add_detail(req: object, ctx: Ctx) -> dict[str, str]:
    detail = {"title": getattr(req, "title", "")}
    agent = ctx.env("WG_AGENT_ID")
    if agent:
        detail["agent_id"] = agent
    return detail


def _write_focus(ctx: Ctx, task_id: str) -> None:
    import os

    try:
        with open(os.path.join(ctx.wg_dir, ".new_task_focus"), "w", encoding="utf-8") as fh:
            fh.write(task_id + "\n")
    except OSError:
        pass


def _service_hint(ctx: Ctx) -> None:
    from ..notify import notify_daemon

    reply = notify_daemon(ctx.wg_dir, "status")
    if not reply or not reply.get("ok"):
        ctx.err(
            "Warning: No service running. Tasks won't be dispatched automatically.",
            "  Start the coordinator with: wg service start",
        )
        return
    coord = reply.get("coordinator")
    if isinstance(coord, dict) and coord.get("paused"):
        ctx.err(
            "Service: running (paused). New tasks won't be dispatched until resumed. Use `wg service resume`."
        )
    else:
        ctx.err("Service: running. The coordinator will dispatch this automatically.")


ADD = Cmd(
    "add",
    "Add a task",
    run_add,
    args=[Arg("title", help="Task title")],
    opts=[
        Opt("--id", help="Explicit task id"),
        Opt("-d", "--description", "--desc", dest="description", help="Description (Markdown)"),
        Opt(
            "--after",
            "--blocked-by",
            dest="after",
            csv=True,
            help="Dependencies (comma-separated, repeatable)",
        ),
        Opt("--assign", help="Assign to an actor"),
        Opt("--hours", type=float, help="Estimated hours"),
        Opt("--cost", type=float, help="Estimated cost"),
        Opt("-t", "--tag", dest="tag", multiple=True, help="Tag (repeatable)"),
        Opt("--skill", multiple=True, help="Required skill (repeatable)"),
        Opt("--input", multiple=True, help="Input (repeatable)"),
        Opt("--deliverable", multiple=True, help="Deliverable (repeatable)"),
        Opt("-p", "--priority", help="Priority: a number or critical/high/normal/low/idle"),
        Opt("--max-retries", type=int, help="Maximum retries"),
        Opt("--model", help="Model as provider:model"),
        Opt("--provider", hidden=True, help="Deprecated: use provider:model in --model"),
        Opt("--visibility", help="internal, public or peer"),
        Opt("--context-scope", help="clean, task, graph or full"),
        Opt("--exec", dest="exec_cmd", help="Shell command to run (exec_mode=shell)"),
        Opt("--exec-mode", help="full, light, bare or shell"),
        Opt("--timeout", help="Agent timeout (30s, 5m, 1h, 4h, 1d)"),
        Opt("--max-iterations", type=int, help="Make this task close a cycle of at most N iterations"),
        Opt("--cycle-guard", help="Cycle guard: task:<id>=<status> or always"),
        Opt("--cycle-delay", help="Delay between cycle iterations"),
        flag("--no-converge", help="Force every cycle iteration"),
        flag("--no-restart-on-failure", help="Do not restart the cycle when a member fails"),
        Opt("--max-failure-restarts", type=int, help="Cycle failure restarts (default 3)"),
        flag("--paused", help="Create paused"),
        flag("--no-place", "--immediate", "--ready", dest="no_place", help="Create published (not a draft)"),
        Opt("--place-near", csv=True, help="Placement hint (stored)"),
        Opt("--place-before", csv=True, help="Placement hint (stored)"),
        Opt("--delay", help="Not before now + duration"),
        Opt("--not-before", help="Not before this time (RFC 3339)"),
        flag("--allow-phantom", help="Allow dependencies that do not exist yet"),
        flag("--independent", "--no-after", dest="independent", help="No implicit parent in agent context"),
        flag("--no-tier-escalation", help="Never escalate the model tier"),
        Opt("--cron", help="Cron schedule (5 or 6 fields)"),
        flag("--subtask", help="Agents: create a blocking child and park the parent"),
        Opt("--verify", hidden=True, help="Deprecated"),
    ],
)


# -- claim / unclaim ----------------------------------------------------------------------------


def run_claim(ctx: Ctx, a: Args) -> int:
    task = ctx.store.claim(a.task, a.actor, ctx.now)
    ctx.mutated("claim", a.task, actor=a.actor)
    if ctx.json:
        ctx.emit_json({"id": a.task, "status": task["status"], "assigned": task.get("assigned")})
    else:
        ctx.out(f"Claimed '{a.task}' for '{a.actor}'" if a.actor else f"Claimed '{a.task}'")
    return 0


def run_unclaim(ctx: Ctx, a: Args) -> int:
    from ..transitions import unclaim

    task = ctx.store.transaction(lambda g: unclaim(g, a.task, ctx.now), ctx.now)
    ctx.mutated("unclaim", a.task, kick=True)
    if ctx.json:
        ctx.emit_json({"id": a.task, "status": task["status"], "assigned": task.get("assigned")})
    else:
        ctx.out(f"Unclaimed '{a.task}'")
    return 0


# -- done / fail / abandon / retry --------------------------------------------------------------


def run_done(ctx: Ctx, a: Args) -> int:
    from ..donegate import run_done_gates
    from ..transitions import done

    graph = ctx.store.load()
    gate_out = run_done_gates(ctx, graph, a)
    if gate_out is not None:
        return gate_out
    from ..worktree.gate import done_landing_gate

    landing = done_landing_gate(ctx, graph, a)  # worktrees.md 5: dirty check and landing, lock held
    try:
        res = ctx.store.transaction(
            lambda g: done(landing.apply(g), a.task, ctx.now, converged=a.converged), ctx.now
        )
    finally:
        landing.finish()
    tid = a.task
    if not res["changed"]:
        if ctx.json:
            ctx.emit_json({"id": tid, "status": "done", "changed": False, "reactivated": []})
        else:
            ctx.out(f"Task '{tid}' is already done")
        return 0
    ctx.mutated("done", tid, actor=res["task"].get("assigned"))
    if res.get("warning"):
        ctx.err(res["warning"])
    _capture_output(ctx, tid)
    if ctx.json:
        ctx.emit_json(
            {"id": tid, "status": res["status"], "changed": True, "reactivated": res["reactivated"]}
        )
        return 0
    ctx.out(_done_line(ctx, tid, res))
    for r in res["reactivated"]:
        ctx.out(f"  Cycle: re-activated '{r}'")
    logs = res["task"].get("log") or []
    if not any("validat" in str(e.get("message", "")).lower() for e in logs):
        ctx.err(f'Tip: Log validation steps before wg done (e.g., wg log {tid} "Validated: tests pass")')
    return 0


def _done_line(ctx: Ctx, tid: str, res: dict[str, object]) -> str:
    if res["status"] == "pending-eval":
        return f"Marked '{tid}' as pending-eval — awaiting `.evaluate-{tid}` to score before downstream tasks unblock"
    from ..cycles import iteration_label

    graph = ctx.store.load()
    label = iteration_label(graph, tid)
    if label is None:
        return f"Marked '{tid}' as done"
    task = graph.get(tid) or {}
    cur, maximum = label
    if res["reactivated"]:
        cur -= 1  # the label now shows the next iteration
    mx = str(maximum) if maximum else "unlimited"
    if "converged" in (task.get("tags") or ()) and not res["reactivated"]:
        return f"Marked '{tid}' as done (cycle iter {cur}/{mx}, converged — cycle halted)."
    return f"Marked '{tid}' as done (cycle iter {cur}/{mx}). To halt the cycle here, use 'wg done {tid} --converged'."


def _capture_output(ctx: Ctx, tid: str) -> None:
    """Best effort: the task's log and artifacts into ``$WG/output/<id>``."""
    import json
    import os

    try:
        task = ctx.store.load().get(tid) or {}
        out_dir = os.path.join(ctx.wg_dir, "output", tid)
        os.makedirs(out_dir, exist_ok=True)
        with open(os.path.join(out_dir, "log.json"), "w", encoding="utf-8") as fh:
            json.dump(task.get("log") or [], fh, indent=2, ensure_ascii=False)
        with open(os.path.join(out_dir, "artifacts.json"), "w", encoding="utf-8") as fh:
            json.dump(task.get("artifacts") or [], fh, indent=2, ensure_ascii=False)
        ctx.err(f"Output captured to {out_dir}")
    except OSError:
        pass


def run_fail(ctx: Ctx, a: Args) -> int:
    from ..transitions import fail

    auto_eval = ctx.config.agency_flag("auto_evaluate") if a.failure_class == "agent-exit-nonzero" else False
    res = ctx.store.transaction(
        lambda g: fail(g, a.task, ctx.now, a.reason, a.failure_class, a.eval_reject, auto_eval), ctx.now
    )
    task = res["task"]
    tid = a.task
    if not res["changed"]:
        if ctx.json:
            ctx.emit_json(
                {
                    "id": tid,
                    "status": task["status"],
                    "changed": False,
                    "retry_count": task.get("retry_count", 0),
                }
            )
        else:
            ctx.out(f"Task '{tid}' is already failed (retry_count: {task.get('retry_count', 0)})")
        return 0
    ctx.mutated("fail", tid, detail={"reason": a.reason} if a.reason else None)
    if ctx.json:
        ctx.emit_json(
            {"id": tid, "status": task["status"], "changed": True, "retry_count": task.get("retry_count", 0)}
        )
        return 0
    reason = f" ({a.reason})" if a.reason else ""
    n = task.get("retry_count", 0)
    ctx.out(f"Marked '{tid}' as failed{reason} (retry #{n})")
    maximum = task.get("max_retries")
    if maximum is not None:
        if n >= maximum:
            ctx.out(f"  Warning: Max retries ({maximum}) reached. Consider abandoning or increasing limit.")
        else:
            ctx.out(f"  Retries remaining: {maximum - n}")
    if res["reactivated"]:
        ctx.out(
            f"  Cycle failure restart: re-activated {len(res['reactivated'])} task(s): [{', '.join(res['reactivated'])}]"
        )
    return 0


def run_abandon(ctx: Ctx, a: Args) -> int:
    from ..transitions import abandon

    res = ctx.store.transaction(
        lambda g: abandon(g, a.task, ctx.now, a.reason, a.superseded_by or None), ctx.now
    )
    tid = a.task
    if ctx.json:
        ctx.emit_json(
            {
                "id": tid,
                "status": "abandoned",
                "changed": res["changed"],
                "auto_abandoned": res["auto_abandoned"],
            }
        )
    elif not res["changed"]:
        ctx.out(f"Task '{tid}' is already abandoned")
    else:
        ctx.out(f"Marked '{tid}' as abandoned" + (f" ({a.reason})" if a.reason else ""))
        for c in res["auto_abandoned"]:
            ctx.out(f"  Auto-abandoned: {c}")
    if res["changed"]:
        ctx.mutated("abandon", tid, detail={"reason": a.reason} if a.reason else None)
    return 0


def live_agent_ids(wg_dir: str, now: int) -> set[str] | None:
    """Agents the registry knows alive (live status and process); None when there is no registry."""
    import json
    import os

    path = os.path.join(wg_dir, "service", "registry.json")
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError):
        return None
    agents = data.get("agents") if isinstance(data, dict) else None
    if not isinstance(agents, dict):
        return set()
    from ..service.registry import entry_live

    return {
        str(entry.get("id") or key)
        for key, entry in agents.items()
        if isinstance(entry, dict) and entry_live(entry, now / 1e9)
    }


def run_retry(ctx: Ctx, a: Args) -> int:
    from ..transitions import retry

    graph = ctx.store.load()
    task = graph.get(a.task)
    was_running = task is not None and task.get("status") == "in-progress"
    stopped = _stop_live_agent(ctx, graph, a.task) if was_running else None
    live = live_agent_ids(ctx.wg_dir, ctx.now)
    discarded, resume = _retry_worktree(ctx, a, live)
    res = ctx.store.transaction(
        lambda g: retry(g, a.task, ctx.now, a.reason, a.preserve_session, live), ctx.now
    )
    tid = a.task
    ctx.mutated("retry", tid, kick=True)
    if ctx.json:
        obj: dict[str, Any] = {
            "id": tid,
            "status": "open",
            "attempt": res["attempt"],
            "cleared_stale_claims": res["cleared"],
        }
        if resume is not None:
            obj["resume_worktree"] = resume
        if discarded:
            obj["discarded_worktrees"] = [d["path"] for d in discarded]
        ctx.emit_json(obj)
        return 0
    if was_running:  # service.md 8.4
        killed = stopped is not None and stopped.get("result") == "killed"
        tail = (
            f"killed agent {stopped.get('agent_id') or stopped.get('killed')} (PID {stopped.get('pid')})"
            if killed and stopped is not None
            else "no live agent to kill"
        )
        ctx.out(f"Reset '{tid}' from in-progress to open (attempt #{res['attempt']}); {tail}")
    else:
        ctx.out(f"Reset '{tid}' from {res['from']} to open for retry (attempt #{res['attempt']})")
    if res["max_retries"] is not None:
        ctx.out(f"  Retries remaining after this: {res['max_retries'] - res['attempt'] + 1}")
    if res["cleared"]:
        ctx.out(
            f"  Cleared stale claim on {len(res['cleared'])} downstream task(s): {', '.join(res['cleared'])}"
        )
    for d in discarded:  # worktrees.md 8
        ctx.out(f"  --fresh: discarded prior worktree at {d['path']}", *(f"  {m}" for m in d["messages"]))
    if resume is not None:
        ctx.out(f"  Next attempt will resume in-place at {resume}")
    return 0


def _retry_worktree(ctx: Ctx, a: Args, live: set[str] | None) -> tuple[list[dict[str, Any]], str | None]:
    """worktrees.md 8: ``--fresh`` archives and removes the prior worktree (branch kept when unlanded) BEFORE
    the task reopens, so no agent spawned meanwhile can reuse it; without it, the kept worktree is reported.
    ``--fresh`` first checks the retry would be accepted (on a throwaway copy), so a refused retry discards
    nothing."""
    import os

    root = os.path.dirname(os.path.realpath(ctx.wg_dir))
    if not os.path.isdir(os.path.join(root, ".wg-worktrees")):
        return [], None
    from ..worktree.retry import discard_prior, resume_path

    if not a.fresh:
        return [], resume_path(ctx.wg_dir, a.task)
    from ..transitions import retry

    retry(ctx.store.load(), a.task, ctx.now, a.reason, a.preserve_session, live)  # raises when refused
    return discard_prior(ctx.wg_dir, a.task), None


def _stop_live_agent(ctx: Ctx, graph: Graph, task_id: str) -> dict[str, Any] | None:
    """In-progress retry: the service stops the task's live agent first (service.md 8.4)."""
    from ..service.agents import stop_agent_for_task

    return stop_agent_for_task(ctx.wg_dir, task_id)


_TASK = Arg("task", help="Task id")

COMMANDS = {
    "add": ADD,
    "claim": Cmd("claim", "Claim a task", run_claim, [_TASK], [Opt("--actor", help="Who claims it")]),
    "unclaim": Cmd("unclaim", "Release a claim", run_unclaim, [_TASK]),
    "done": Cmd(
        "done",
        "Mark a task done",
        run_done,
        [_TASK],
        [
            flag("--converged", help="Stop the cycle here"),
            flag("--skip-verify", help="Skip the legacy verify command (humans only)"),
            flag("--skip-smoke", help="Bypass the smoke gate"),
            flag("--full-smoke", help="Run every smoke scenario"),
            flag("--ignore-unmerged-worktree", help="Finish without landing the worktree"),
        ],
    ),
    "fail": Cmd(
        "fail",
        "Mark a task failed",
        run_fail,
        [_TASK],
        [
            Opt("--reason", help="Why it failed"),
            Opt("--class", dest="failure_class", choices=FAILURE_CLASSES, help="Failure class"),
            flag("--eval-reject", help="Evaluation rejected the work"),
        ],
    ),
    "abandon": Cmd(
        "abandon",
        "Abandon a task",
        run_abandon,
        [_TASK],
        [Opt("--reason", help="Why"), Opt("--superseded-by", csv=True, help="Tasks that replace it")],
    ),
    "retry": Cmd(
        "retry",
        "Reopen a failed or incomplete task",
        run_retry,
        [_TASK],
        [
            Opt("--reason", help="Why"),
            flag("--preserve-session", help="Keep session_id and checkpoint"),
            flag("--fresh", help="Start from a fresh worktree"),
        ],
    ),
}

__all__ = ["COMMANDS", "WgError", "status_name"]
