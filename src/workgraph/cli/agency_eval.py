"""``wg evaluate run|record|show`` (agency.md 3.7, 4)."""

from __future__ import annotations

from ..errors import UsageError, WgError
from .agency_common import open_store
from .args import Arg, Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..agency.store import AgencyStore
    from ..model import Record
    from .args import Args
    from .context import Ctx

    Entity = dict[str, Any]

EVALUABLE = ("done", "failed", "pending-eval", "failed-pending-eval")
DIM_ORDER = ("correctness", "completeness", "efficiency", "style_adherence")


def _log_on_eval_task(ctx: Ctx, task_id: str, message: str) -> None:
    """Best effort: a failed evaluation is noted on ``.evaluate-<task>`` (the dispatcher fails it by exit code)."""
    from ..model import log_entry
    from ..timeutil import format_ts

    eid = ".evaluate-" + task_id

    def change(g: Any) -> None:
        t = g.get(eid)
        if t is not None:
            g.update(eid, log=[*(t.get("log") or []), log_entry(format_ts(ctx.now), message)])

    try:
        ctx.store.transaction(change, ctx.now)
    except WgError:
        pass


def _verdict(ctx: Ctx, model: str, prompt: str) -> tuple[tuple[float, dict[str, float], str, list[str]], Any]:
    from ..agency.evaluation import call_model, parse_verdict

    reply = ""
    for attempt in range(1, 4):
        reply, usage = call_model(ctx.wg_dir, model, prompt)
        verdict = parse_verdict(reply)
        if verdict is not None:
            return verdict, usage
        if attempt < 3:
            ctx.err(f"[evaluate] JSON extraction failed, retrying ({attempt}/3)...")
    raise WgError(
        f"Failed to extract valid JSON from evaluator output after 3 attempts. Last response:\n{reply}"
    )


def _dry_run(ctx: Ctx, task: Record, ectx: Any, model: str, prompt: str) -> None:
    from ..agency.evaluation import task_model

    lines = [f"=== Dry Run: wg evaluate {task['id']} ===", "", f"Task: {task.get('title', '')} ({task['id']})",
             f"Status: {task.get('status', 'open')}"]  # fmt: skip
    if ectx.agent is not None:
        lines += [f"Agent: {ectx.agent['id']}", f"Role: {ectx.agent.get('role_id') or ''}",
                  f"Tradeoff: {ectx.agent.get('tradeoff_id') or ''}"]  # fmt: skip
    else:
        lines.append("Agent: (none)")
    lines += [
        f"Task model: {task_model(task) or '(unknown)'}",
        f"Artifacts: {len(task.get('artifacts') or [])}",
        f"Log entries: {len(task.get('log') or [])}",
        f"Evaluator model: {model}",
        "",
        "--- Evaluator Prompt ---",
        "",
        prompt,
    ]
    ctx.out(*lines)


def run_evaluate(ctx: Ctx, a: Args) -> int:
    from ..agency.evalprompt import artifact_diff, build_prompt, load_context, project_root
    from ..agency.identity import identity_prompt_section
    from ..agency.scaffold import evaluator_model
    from ..transitions import require

    task = require(ctx.store.load(), a.task)
    if a.flip:
        ctx.err("FLIP is not supported yet; skipping")
        return 0
    status = task.get("status", "open")
    if status not in EVALUABLE:
        raise WgError(
            f"Task '{a.task}' has status {status} — must be done, failed, pending-eval or failed-pending-eval "
            "to evaluate"
        )
    store = open_store(ctx)
    ectx = load_context(store, task)
    ctx.err(*ectx.notes)
    model = evaluator_model(ctx.config, a.evaluator_model)
    evaluator_agent = ctx.config.get("agency.evaluator_agent")
    identity = identity_prompt_section(ctx.wg_dir, evaluator_agent, ctx.err) if evaluator_agent else ""
    prompt = build_prompt(task, ectx, artifact_diff(project_root(ctx.wg_dir), task), identity)
    if a.dry_run:
        _dry_run(ctx, task, ectx, model, prompt)
        return 0
    (ctx.err if ctx.json else ctx.out)(f"Evaluating task '{a.task}' with model '{model}'...")
    try:
        (score, dims, notes, warnings), usage = _verdict(ctx, model, prompt)
    except WgError as exc:
        _log_on_eval_task(ctx, a.task, f"Evaluation failed: {exc.message.splitlines()[0]}")
        raise
    ctx.err(*warnings)
    return _finish_run(ctx, store, task, ectx, score, dims, notes, model, usage)


def _finish_run(
    ctx: Ctx, store: AgencyStore, task: Record, ectx: Any, score: float, dims: dict[str, float], notes: str,
    model: str, usage: Any,
) -> int:  # fmt: skip
    from ..agency.evaluation import apply_gate, gate_applies, new_evaluation, save_and_roll_up, task_model
    from ..agency.scaffold import gate_threshold
    from ..timeutil import format_ts

    task_m = task_model(task)
    ev = new_evaluation(task, ectx.agent, score, dims, notes, model, format_ts(ctx.now), task_m, "llm")
    path, rolled = save_and_roll_up(store, ev, str(task.get("agent") or ""), ctx.now, ctx.err)
    tid = task["id"]
    gated = gate_applies(task, ctx.config)
    threshold = gate_threshold(ctx.config)

    def change(g: Any) -> bool:
        rejected = apply_gate(g, tid, score, notes, threshold, ctx.now) if gated else False
        gate_task = g.get(".evaluate-" + tid)
        if usage and gate_task is not None:
            g.update(".evaluate-" + tid, token_usage=usage)
        return rejected

    rejected = ctx.store.transaction(change, ctx.now) if (gated or usage) else False
    if rejected:
        ctx.mutated("fail", tid, reason="evaluation gate")
    warning = None if rolled else "no identity assigned — role/tradeoff performance records not updated"
    if ctx.json:
        obj: Entity = {"task_id": tid, "evaluation_id": ev["id"], "score": score, "dimensions": dims,
                       "notes": notes, "evaluator": model, "model": task_m, "path": path}  # fmt: skip
        if warning:
            obj["warning"] = warning
        ctx.emit_json(obj)
        return 0
    lines = ["", "=== Evaluation Complete ===", f"Task:       {task.get('title', '')} ({tid})"]
    if task_m:
        lines.append(f"Model:      {task_m}")
    lines.append(f"Score:      {score:.2f}")
    lines += [f"{'  ' + d + ':':<24}{dims[d]:.2f}" for d in DIM_ORDER if d in dims]
    lines += [f"Notes:      {notes}", f"Evaluator:  {model}", f"Saved to:   {store.rel(path)}"]
    if warning:
        lines.append(f"Warning: {warning}")
    if rejected:
        lines.append(f"  REJECTED: task '{tid}' failed by evaluation gate")
    ctx.out(*lines)
    return 0


def run_record(ctx: Ctx, a: Args) -> int:
    from ..agency.evaluation import new_evaluation, parse_dimension, save_and_roll_up
    from ..timeutil import format_ts
    from ..transitions import require

    for dest, flag_name in (("task", "--task"), ("score", "--score"), ("source", "--source")):
        if not a.get(dest):
            raise UsageError(
                f"the following required arguments were not provided: {flag_name} <{dest.upper()}>",
                "Usage: wg evaluate record --task <TASK> --score <SCORE> --source <SOURCE>",
            )
    try:
        score = float(a.score)
    except ValueError:
        raise UsageError(
            f"invalid number value '{a.score}' for '--score'", "Usage: wg evaluate record"
        ) from None
    if not 0.0 <= score <= 1.0:
        raise WgError(f"Score must be in [0.0, 1.0] range, got {a.score}")
    dims = dict(parse_dimension(d) for d in a.dim)
    task = require(ctx.store.load(), a.task)
    store = open_store(ctx)
    agent = store.resolve("agent", str(task.get("agent") or ""))
    ev = new_evaluation(task, agent, score, dims, a.notes or "", a.source, format_ts(ctx.now), None, a.source)
    path, rolled = save_and_roll_up(store, ev, str(task.get("agent") or ""), ctx.now, ctx.err)
    if ctx.json:
        obj: Entity = {"task_id": task["id"], "evaluation_id": ev["id"], "score": score, "source": a.source,
                       "dimensions": dims, "path": path}  # fmt: skip
        if not rolled:
            obj["warning"] = "No agent identity — performance records not updated"
        ctx.emit_json(obj)
        return 0
    lines = [f"Recorded evaluation for task '{task['id']}'", f"  Score:  {score:.2f}", f"  Source: {a.source}",
             f"  Saved:  {store.rel(path)}"]  # fmt: skip
    if not rolled:
        lines.append("  Note:   No agent identity — performance records not updated")
    ctx.out(*lines)
    return 0


def _source_matches(pattern: str | None, source: str) -> bool:
    if not pattern:
        return True
    if "*" in pattern:
        head, _, tail = pattern.partition("*")
        return len(source) >= len(head) + len(tail) and source.startswith(head) and source.endswith(tail)
    return source == pattern


def _num(v: Any) -> float | None:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def run_show_evals(ctx: Ctx, a: Args) -> int:
    store = open_store(ctx)
    evs = store.evaluations()
    task_prefix = a.task or a.task_opt
    if task_prefix:
        evs = [e for e in evs if str(e.get("task_id", "")).startswith(task_prefix)]
    if a.agent:
        evs = [e for e in evs if str(e.get("agent_id", "")).startswith(a.agent)]
    evs = [e for e in evs if _source_matches(a.source, str(e.get("source") or "llm"))]
    evs.sort(key=lambda e: (str(e.get("timestamp", "")), str(e.get("id", ""))), reverse=True)
    if a.limit is not None:
        evs = evs[: max(a.limit, 0)]
    if a.task:
        return _show_for_task(ctx, a.task, evs)
    if ctx.json:
        ctx.emit_json(evs)
        return 0
    if not evs:
        ctx.out("No evaluations found.")
        return 0
    lines = [f"{'Task':<20} {'Score':<6} {'Source':<16} {'Agent':<12} Timestamp", "─" * 75]
    for e in evs:
        score = _num(e.get("score"))
        agent = str(e.get("agent_id") or "")[:10] or "-"
        lines.append(
            f"{str(e.get('task_id', ''))[:18]:<20} {('-' if score is None else f'{score:.2f}'):<6} "
            f"{str(e.get('source') or 'llm')[:14]:<16} {agent:<12} {e.get('timestamp', '')}"
        )
    lines += ["", f"{len(evs)} evaluation(s)"]
    ctx.out(*lines)
    return 0


def _show_for_task(ctx: Ctx, task: str, evs: list[Entity]) -> int:
    if ctx.json:
        ctx.emit_json({"task_id": task, "evaluations": evs})
        return 0
    lines = [f"=== Evaluations for task '{task}' ===", "", f"Evaluations ({len(evs)}):"]
    if not evs:
        lines.append("  (none)")
    for e in evs:
        score = _num(e.get("score"))
        agent = str(e.get("agent_id") or "")[:10] or "-"
        lines.append(
            f"  Score: {'-' if score is None else f'{score:.3f}'}  Source: {e.get('source') or 'llm'}  "
            f"Agent: {agent}  {e.get('timestamp', '')}"
        )
        raw = e.get("dimensions")
        dims: dict[str, Any] = raw if isinstance(raw, dict) else {}
        for name, value in dims.items():
            v = _num(value)
            lines.append(f"    {name}: {'-' if v is None else f'{v:.3f}'}")
    ctx.out(*lines)
    return 0


_SHOW = Cmd(
    "show",
    "List evaluations (newest first)",
    run_show_evals,
    args=[Arg("task", required=False, help="Task id prefix")],
    opts=[
        Opt("--task", dest="task_opt", help="Task id prefix"),
        Opt("--agent", help="Agent id prefix"),
        Opt("--source", help="Source, exact or with one '*'"),
        Opt("--limit", type=int, help="At most this many"),
    ],
)
EVALUATE = Cmd(
    "evaluate",
    "Evaluate tasks and record scores",
    subs=[
        Cmd(
            "run",
            "Evaluate a finished task with the evaluator model",
            run_evaluate,
            args=[Arg("task")],
            opts=[
                Opt("--evaluator-model", help="Model spec (default: [models.evaluator] model, claude:haiku)"),
                flag("--dry-run", help="Print the prompt; call no model, write nothing"),
                flag("--flip", help="FLIP evaluation (not supported yet)"),
            ],
        ),
        Cmd(
            "record",
            "Record a score from another source",
            run_record,
            opts=[
                Opt("--task", help="Task id"),
                Opt("--score", help="Score 0.0-1.0"),
                Opt("--source", help="Source (e.g. manual)"),
                Opt("--notes", help="Notes"),
                Opt("--dim", multiple=True, help="Dimension NAME=VALUE (repeatable)"),
            ],
        ),
        _SHOW,
        Cmd("list", _SHOW.help, run_show_evals, args=_SHOW.args, opts=_SHOW.opts),
    ],
)

COMMANDS = {"evaluate": EVALUATE}
