"""``prompt.txt`` for claude, codex, native and template-less command agents (spec service 6.6).

Sections in order, each only when non-empty. Two sections belong to other packages: the agency's ``## Agent Identity`` (``agency.identity``) and the
isolated worktree's ``## CRITICAL: Worktree Isolation`` (worktrees.md 4).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from ..graph import Graph
    from ..model import Record

SCOPES = ("clean", "task", "graph", "full")
HEADER = "# Task Assignment\n\nYou are an AI agent working on a task in a WG project."
LAST_LINE = "Begin working on the task now."


def _stderr(line: str) -> None:
    import sys

    sys.stderr.write(line + "\n")


def identity_section(wg_dir: str, task: Record, warn: Callable[[str], None] | None = None) -> str:
    """``## Agent Identity`` of the task's ``agent`` (agency.md 5), "" without one or when it does not resolve
    (``identity_prompt_section`` reports that through ``warn``)."""
    agent = task.get("agent")
    if not isinstance(agent, str) or not agent:
        return ""
    try:
        from ..agency.identity import identity_prompt_section

        text = identity_prompt_section(wg_dir, agent, warn or _stderr)
    except Exception:
        return ""
    return text.strip() if isinstance(text, str) else ""


def worktree_section(task: Record, worktree: Mapping[str, str] | None) -> str:
    """``## CRITICAL: Worktree Isolation`` (worktrees.md 4) for an isolated agent."""
    if not worktree or not worktree.get("WG_WORKTREE_PATH"):
        return ""
    tid = task["id"]
    path = worktree.get("WG_WORKTREE_PATH", "")
    branch = worktree.get("WG_BRANCH", "")
    target = worktree.get("WG_TARGET_BRANCH", "") or "main"
    return f"""## CRITICAL: Worktree Isolation

You are working in an isolated git worktree at `{path}` on branch `{branch}`.

- Work and commit ONLY in this worktree. Do not read or write the main checkout.
- Do not switch branches, do not push to `{target}`, and do not create other worktrees.
- `git log --oneline {target}..HEAD` shows commits from earlier attempts of this task.
- When the work is complete, commit everything, then run `wg done {tid}`: it lands your work on `{target}`.
- If `wg done` reports a merge conflict, run `git merge {target}` in this worktree, resolve the conflicts, \
commit, and run `wg done {tid}` again."""


def choose_scope(task: Record, role_scope: str | None = None, default_scope: object = None) -> str:
    for value in (task.get("context_scope"), role_scope, default_scope):
        if isinstance(value, str) and value in SCOPES:
            return value
    return "task"


def _messages(entries: list[Any], n: int) -> list[str]:
    out = []
    for e in entries[-n:]:
        if isinstance(e, dict):
            out.append(f"  - [{e.get('timestamp', '')}] {e.get('message', '')}")
    return out


def task_section(task: Record) -> str:
    lines = ["## Your Task", "", f"- **ID:** {task['id']}", f"- **Title:** {task.get('title', '')}"]
    desc = str(task.get("description") or "").strip()
    if desc:
        lines.append(f"- **Description:** {desc}")
    return "\n".join(lines)


def dependencies_section(graph: Graph, task: Record) -> str:
    lines: list[str] = []
    for dep_id in task.get("after") or []:
        dep = graph.get(dep_id)
        if dep is None:
            continue
        head = f"From {dep_id} ({dep.get('title', '')})"
        arts = dep.get("artifacts") or []
        lines.append(
            f"{head}: artifacts: {', '.join(arts)}" if arts else f"{head}: status {dep.get('status')}"
        )
        status = dep.get("status")
        if status == "done":
            lines += _messages(dep.get("log") or [], 5)
        elif status in ("failed", "failed-pending-eval"):
            lines.append(f"  Failed: {dep.get('failure_reason') or 'no reason given'}")
            lines += _messages(dep.get("log") or [], 3)
    iteration = task.get("loop_iteration")
    if isinstance(iteration, int) and iteration > 0:
        lines.append(
            f"This task is iteration {iteration} of a cycle. When the work has converged and no further "
            f"iteration is needed, finish with `wg done {task['id']} --converged`."
        )
    return "## Context from Dependencies\n\n" + "\n".join(lines) if lines else ""


def previous_attempt_section(task: Record, worktree: Mapping[str, str] | None, limit_tokens: int) -> str:
    if int(task.get("retry_count") or 0) <= 0:
        return ""
    lines = [f"This is attempt {int(task.get('retry_count') or 0) + 1} of this task."]
    if task.get("failure_reason"):
        lines.append(f"Last failure: {task['failure_reason']}")
    tail = _messages(task.get("log") or [], 8)
    if tail:
        lines += ["Recent log:", *tail]
    if worktree:
        lines.append(
            "Work from the previous attempt may still be in your worktree: check `git status` first."
        )
    text = "\n".join(lines)
    limit = max(200, limit_tokens * 4)  # about four characters per token
    if len(text) > limit:
        text = "...\n" + text[-limit:]
    return "## Previous Attempt Context\n\n" + text


def messages_section(wg_dir: str, task_id: str) -> str:
    from ..messages import list_messages

    try:
        msgs = [m for m in list_messages(wg_dir, task_id) if m.get("status") in ("sent", "delivered")]
    except Exception:
        return ""
    if not msgs:
        return ""
    lines = [f"- from {m.get('sender', '?')}: {m.get('body', '')}" for m in msgs]
    return (
        "## Queued Messages\n\n"
        + "\n".join(lines)
        + f"\n\nRead and acknowledge them with `wg msg read {task_id}`."
    )


def downstream_section(graph: Graph, task_id: str) -> str:
    lines = []
    for dep_id in graph.dependents(task_id):
        dep = graph.get(dep_id)
        if dep is not None:
            lines.append(f"- {dep_id}: {dep.get('title', '')}")
    if not lines:
        return ""
    return "## Downstream Consumers\n\nThese tasks wait for your output:\n" + "\n".join(lines)


def usage_sections(task_id: str) -> str:
    return f"""## WG Usage Guide

- `wg show {task_id}`: the task, its log and its dependencies
- `wg msg read {task_id}`: messages sent to this task
- `wg log {task_id} "<message>"`: record progress (do this as you work)
- `wg artifact {task_id} <path>`: record a file you produced
- `wg add "<title>" --after {task_id}`: create a follow-up task
- `wg done {task_id}`: mark the task done when the work is complete
- `wg fail {task_id} --reason "<why>"`: only after a real attempt that cannot succeed

## Required Workflow

1. Read your messages: `wg msg read {task_id}`.
2. Do the work. Log progress with `wg log {task_id} "..."` as you go.
3. Record every file you produce with `wg artifact {task_id} <path>`.
4. Validate your work (build, tests, checks) before finishing.
5. Commit your changes.
6. Run `wg done {task_id}`. Use `wg fail {task_id} --reason "..."` only after a real attempt."""


def graph_sections(graph: Graph, task: Record, project: Mapping[str, Any]) -> list[str]:
    out = []
    name, desc = project.get("name"), project.get("description")
    if name or desc:
        out.append("## Project\n\n" + "\n".join(str(x) for x in (name, desc) if x))
    near = [*(task.get("after") or []), *graph.dependents(task["id"])]
    lines = []
    for other in near:
        rec = graph.get(other)
        if rec is not None:
            lines.append(f"- {other} [{rec.get('status', 'open')}]: {rec.get('title', '')}")
    if lines:
        out.append("## Neighbouring Tasks\n\n" + "\n".join(lines))
    return out


def full_summary(graph: Graph) -> str:
    counts: dict[str, int] = {}
    for t in graph.tasks():
        status = str(t.get("status", "open"))
        counts[status] = counts.get(status, 0) + 1
    if not counts:
        return ""
    body = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
    return f"## Full Graph Summary\n\n{sum(counts.values())} tasks ({body})"


def build_prompt(
    graph: Graph,
    task: Record,
    *,
    wg_dir: str,
    scope: str = "task",
    worktree: Mapping[str, str] | None = None,
    project: Mapping[str, Any] | None = None,
    retry_context_tokens: int = 2000,
    identity: str | None = None,
) -> str:
    """The prompt; ``identity`` is the already-built ``## Agent Identity`` section (None: build it here)."""
    rank = SCOPES.index(scope) if scope in SCOPES else 1
    tid = task["id"]
    parts: list[str] = []
    if rank >= 3:
        parts.append(
            "## System Awareness\n\nYou are one of several agents a wg dispatcher runs on a shared task graph; "
            "other agents may work on other tasks at the same time."
        )
    if identity is None:
        identity = identity_section(wg_dir, task)
    parts += [HEADER, identity, task_section(task)]
    if task.get("verify"):
        parts.append(f"## Verification Required\n\n{task['verify']}")
    if rank >= 1:
        for key, title in (("tags", "Tags"), ("skills", "Skills")):
            if task.get(key):
                parts.append(f"## {title}\n\n{', '.join(str(x) for x in task[key])}")
    parts.append(dependencies_section(graph, task))
    parts.append(previous_attempt_section(task, worktree, retry_context_tokens))
    if rank >= 1:
        parts += [messages_section(wg_dir, tid), downstream_section(graph, tid)]
    parts += [usage_sections(tid), worktree_section(task, worktree)]
    if rank >= 2:
        parts += graph_sections(graph, task, project or {})
    if rank >= 3:
        parts.append(full_summary(graph))
        claude_md = os.path.join(os.path.dirname(wg_dir), "CLAUDE.md")
        try:
            with open(claude_md, encoding="utf-8") as fh:
                parts.append("## Project Instructions (CLAUDE.md)\n\n" + fh.read().strip())
        except OSError:
            pass
    parts.append(LAST_LINE)
    return "\n\n".join(p for p in parts if p) + "\n"


def shell_prompt(command: str) -> str:
    return f"[inline shell task — no LLM prompt; runs: {command}]\n"
