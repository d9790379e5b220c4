"""The evaluator prompt of ``wg evaluate run`` (agency.md 4.1) and the artifact diff it shows."""

from __future__ import annotations

import os
import subprocess

from . import entities as E

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..model import Record
    from .store import AgencyStore

    Entity = dict[str, Any]

DIFF_LIMIT = 30000
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _git(root: str, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def artifact_diff(project_root: str, task: Record) -> str | None:
    """``git diff <base>..HEAD -- <artifacts>`` with base = the last commit before ``started_at``."""
    artifacts = [str(a) for a in task.get("artifacts") or []]
    started = task.get("started_at")
    if not artifacts or not started:
        return None
    base_out = _git(project_root, "log", "--before", str(started), "--format=%H", "-1")
    if base_out is None:
        return None
    base = base_out.strip() or EMPTY_TREE
    diff = _git(project_root, "diff", f"{base}..HEAD", "--", *artifacts)
    if not diff:
        return None
    raw = diff.encode("utf-8")
    if len(raw) > DIFF_LIMIT:
        cut = raw.rfind(b"\n", 0, DIFF_LIMIT)
        kept = raw[: cut if cut > 0 else DIFF_LIMIT].decode("utf-8", "ignore")
        return f"{kept}\n... (diff truncated at {len(kept.encode())} bytes, total {len(raw)} bytes)"
    return diff.rstrip("\n")


class EvalContext:
    """What the prompt and the saved evaluation need to know about the task's identity."""

    def __init__(self) -> None:
        self.agent: Entity | None = None
        self.role: Entity | None = None
        self.tradeoff: Entity | None = None
        self.outcome: Entity | None = None
        self.notes: list[str] = []


def load_context(store: AgencyStore, task: Record) -> EvalContext:
    ctx = EvalContext()
    agent_id = str(task.get("agent") or "")
    if not agent_id:
        ctx.notes.append("Note: task has no assigned agent — evaluating without role/tradeoff context")
        return ctx
    ctx.agent = store.resolve("agent", agent_id)
    if ctx.agent is None:
        ctx.notes.append(f"Warning: agent '{agent_id}' not found, evaluating without agent context")
        return ctx
    for kind in ("role", "tradeoff"):
        ref = E.text(ctx.agent, f"{kind}_id")
        found = store.resolve(kind, ref) if ref else None
        if found is None and ref:
            ctx.notes.append(f"Warning: {kind} '{ref}' not found, evaluating without {kind} context")
        setattr(ctx, kind, found)
    if ctx.role is not None:
        ctx.outcome = store.get("outcome", E.text(ctx.role, "outcome_id"))
    return ctx


def _identity_block(ctx: EvalContext) -> list[str]:
    out = ["## Agent Identity", ""]
    if ctx.agent is not None:
        out += [f"**Agent:** {E.text(ctx.agent, 'name')} ({E.short(str(ctx.agent['id']))})", ""]
    if ctx.role is not None:
        out.append(f"**Role:** {E.text(ctx.role, 'name')} ({ctx.role['id']})")
        if E.text(ctx.role, "description"):
            out.append(E.text(ctx.role, "description"))
        wanted = E.text(ctx.outcome, "name") if ctx.outcome else E.text(ctx.role, "outcome_id")
        out += [f"**Desired Outcome:** {wanted}", ""]
    else:
        out += ["*No role was assigned.*", ""]
    if ctx.tradeoff is not None:
        out.append(f"**Tradeoff:** {E.text(ctx.tradeoff, 'name')} ({ctx.tradeoff['id']})")
        if E.text(ctx.tradeoff, "description"):
            out.append(E.text(ctx.tradeoff, "description"))
        for label, key in (
            ("**Acceptable Trade-offs:**", "acceptable_tradeoffs"),
            ("**Non-negotiable Constraints:**", "unacceptable_tradeoffs"),
        ):
            items = [str(t) for t in E.field(ctx.tradeoff, key)]
            if items:
                out += [label, *(f"- {t}" for t in items)]
        out.append("")
    else:
        out += ["*No tradeoff was assigned.*", ""]
    return out


CRITERIA = """## Evaluation Criteria

Score each dimension from 0.0 to 1.0:
- **correctness**: Does the output match the desired outcome and satisfy the verification criteria?
- **completeness**: Are all aspects of the task addressed?
- **efficiency**: Was the work done without wasted steps, at a scope that fits the task?
- **style_adherence**: Does it follow project conventions, honouring the tradeoff's acceptable trade-offs and
  non-negotiable constraints?

The overall `score` is the weighted mean: correctness 40%, completeness 30%, efficiency 15%,
style_adherence 15%.

Rubric: 0.0-0.2 Failing; 0.2-0.4 Below Expectations; 0.4-0.6 Meets Expectations; 0.6-0.8 Exceeds
Expectations; 0.8-1.0 Exceptional. Competent work mostly scores 0.6-0.8.
"""

OUTPUT = """## Required Output

Respond with ONLY a JSON object, no other text:
{"score": <0.0-1.0>, "dimensions": {"correctness": <0.0-1.0>, "completeness": <0.0-1.0>, "efficiency": <0.0-1.0>, "style_adherence": <0.0-1.0>}, "notes": "<strengths, weaknesses, suggestions>"}
"""


def build_prompt(task: Record, ctx: EvalContext, diff: str | None, evaluator_identity: str) -> str:
    if evaluator_identity:
        out = [evaluator_identity.rstrip("\n"), ""]
    else:
        out = ["# Evaluator Instructions", "", "You are assessing the work an AI agent did on a task."]
    out += [
        "Review the task definition, the agent's identity, the artifacts and the log, then produce a JSON "
        "evaluation.",
        "",
        "## Task Definition",
        "",
        f"**Title:** {task.get('title', '')}",
    ]
    if task.get("description"):
        out += ["", "**Description:**", str(task["description"])]
    if task.get("skills"):
        out += ["", "**Required Skills:**", *(f"- {s}" for s in task["skills"])]
    if task.get("verify"):
        out += ["", "**Verification Criteria:**", str(task["verify"])]
    out += ["", *_identity_block(ctx), "## Task Artifacts", ""]
    artifacts = task.get("artifacts") or []
    out += [f"- `{a}`" for a in artifacts] if artifacts else ["*No artifacts were recorded.*"]
    out.append("")
    if diff:
        out += ["## Artifact Diff", "", "```diff", diff, "```", ""]
    out += ["## Task Log", ""]
    log = task.get("log") or []
    if log:
        out += [
            f"- [{e.get('timestamp', '')}] ({e.get('actor') or 'system'}): {e.get('message', '')}"
            for e in log
        ]
    else:
        out.append("*No log entries.*")
    out.append("")
    if task.get("started_at") or task.get("completed_at"):
        out.append("## Timing")
        out.append("")
        if task.get("started_at"):
            out.append(f"- Started: {task['started_at']}")
        if task.get("completed_at"):
            out.append(f"- Completed: {task['completed_at']}")
        out.append("")
    out += [CRITERIA, OUTPUT]
    return "\n".join(out)


def project_root(wg_dir: str) -> str:
    return os.path.dirname(os.path.abspath(wg_dir))
