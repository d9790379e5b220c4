"""The ``## Agent Identity`` section of a task prompt (agency.md 5).

Called by the service when it builds ``prompt.txt`` (service.md 6.6) and by ``wg evaluate run`` for the
evaluator agent's own identity.
"""

from __future__ import annotations

import os
import sys

from . import entities as E
from .yamlio import Tagged

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from .store import AgencyStore

    Entity = dict[str, Any]


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


def _read_skill_file(path: str, project_root: str, warn: Callable[[str], None]) -> str | None:
    full = os.path.expanduser(path)
    if not os.path.isabs(full):
        full = os.path.join(project_root, full)
    try:
        with open(full, encoding="utf-8") as fh:
            return fh.read().rstrip("\n")
    except (OSError, UnicodeDecodeError) as exc:
        warn(f"Warning: Failed to read skill file {path}: {exc}")
        return None


def _file_path(spec: str) -> str:
    return spec[len("file://") :] if spec.startswith("file://") else spec


def _content_tag(content: Any) -> tuple[str, str] | None:
    if isinstance(content, Tagged):
        return content.tag, content.value
    if isinstance(content, dict) and len(content) == 1:
        tag, value = next(iter(content.items()))
        return str(tag), "" if value is None else str(value)
    return None


def skill_entry(
    store: AgencyStore, comp_id: str, project_root: str, warn: Callable[[str], None]
) -> list[str] | None:
    """Lines of one ``#### Skills`` entry; None drops it (an unreadable file)."""
    comp = store.get("component", comp_id)
    if comp is not None:
        lines = [f"- **{E.text(comp, 'name')}**"]
        if E.text(comp, "description"):
            lines.append(E.text(comp, "description"))
        tagged = _content_tag(comp.get("content"))
        if tagged is not None:
            tag, value = tagged
            if tag == "inline" and value:
                lines.append(value)
            elif tag == "file":
                body = _read_skill_file(_file_path(value), project_root, warn)
                if body is None:
                    return None
                lines.append(body)
            elif tag == "url" and value:
                lines.append(value)
        return lines
    if comp_id.startswith("inline:"):
        return ["- **inline**", comp_id[len("inline:") :]]
    if comp_id.startswith("file://"):
        body = _read_skill_file(_file_path(comp_id), project_root, warn)
        return None if body is None else [f"- **{os.path.basename(_file_path(comp_id))}**", body]
    if comp_id.startswith(("http://", "https://")):
        return [f"- {comp_id}"]
    return [f"- {comp_id}"]


def render_identity(
    store: AgencyStore, role: Entity, tradeoff: Entity, warn: Callable[[str], None] = _stderr
) -> str:
    project_root = os.path.dirname(os.path.abspath(store.wg_dir))
    out = ["## Agent Identity", "", f"### Role: {E.text(role, 'name')}"]
    if E.text(role, "description"):
        out.append(E.text(role, "description"))
    out.append("")
    skills: list[str] = []
    for comp_id in E.field(role, "component_ids"):
        entry = skill_entry(store, str(comp_id), project_root, warn)
        if entry is not None:
            skills += entry
    if skills:
        out += ["#### Skills", *skills, ""]
    out.append("#### Desired Outcome")
    outcome_id = E.text(role, "outcome_id")
    outcome = store.get("outcome", outcome_id) if outcome_id else None
    if outcome is not None:
        out.append(f"**{E.text(outcome, 'name')}**")
        if E.text(outcome, "description"):
            out.append(E.text(outcome, "description"))
        out.append("")
        criteria = [str(c) for c in E.field(outcome, "success_criteria")]
        if criteria:
            out += ["**Success Criteria:**", *(f"- {c}" for c in criteria), ""]
    else:
        out += [outcome_id, ""]
    accept = [str(t) for t in E.field(tradeoff, "acceptable_tradeoffs")]
    reject = [str(t) for t in E.field(tradeoff, "unacceptable_tradeoffs")]
    if accept or reject:
        out.append("### Operational Parameters")
        if accept:
            out += ["#### Acceptable Trade-offs", *(f"- {t}" for t in accept), ""]
        if reject:
            out += ["#### Non-negotiable Constraints", *(f"- {t}" for t in reject), ""]
    out += ["---", ""]
    return "\n".join(out)


def identity_prompt_section(wg_dir: str, agent_id: str, warn: Callable[[str], None] = _stderr) -> str:
    """The identity section for a task's ``agent`` (a full id or prefix); it ends with ``---`` + newline.

    ``wg_dir`` is ``$WG`` (``$WG/agency`` is accepted too). Returns "" when the agent, its role or its
    tradeoff does not resolve, after a ``Warning: could not resolve <kind> '<id>'...`` line via ``warn``.
    Never raises for store problems: the spawn goes on without the section.
    """
    from .store import AgencyStore

    if os.path.basename(os.path.normpath(wg_dir)) == "agency":
        wg_dir = os.path.dirname(os.path.normpath(wg_dir))
    if not agent_id:
        return ""
    try:
        store = AgencyStore(wg_dir, warn=warn)
        agent = store.resolve("agent", agent_id)
        if agent is None:
            warn(f"Warning: could not resolve agent '{agent_id}', spawning without an identity section")
            return ""
        role = store.resolve("role", E.text(agent, "role_id"))
        if role is None:
            warn(
                f"Warning: could not resolve role '{E.text(agent, 'role_id')}', spawning without an identity section"
            )
            return ""
        tradeoff = store.resolve("tradeoff", E.text(agent, "tradeoff_id"))
        if tradeoff is None:
            warn(
                f"Warning: could not resolve tradeoff '{E.text(agent, 'tradeoff_id')}', "
                "spawning without an identity section"
            )
            return ""
        return render_identity(store, role, tradeoff, warn)
    except Exception as exc:  # a corrupt store never stops a spawn
        warn(f"Warning: could not resolve agent '{agent_id}': {exc}")
        return ""


def agent_spawn_defaults(wg_dir: str, agent_id: str) -> dict[str, str]:
    """What a spawn takes from the task's agent (service.md 6.1, 6.6): the agent's non-default ``executor``,
    ``preferred_model``/``preferred_provider``, and its role's ``default_exec_mode``/``default_context_scope``.
    Only keys that are set; {} when nothing resolves (never raises)."""
    from .store import AgencyStore

    out: dict[str, str] = {}
    if not agent_id:
        return out
    try:
        store = AgencyStore(wg_dir, warn=lambda _line: None)
        agent = store.resolve("agent", agent_id)
        if agent is None:
            return out
        if E.field(agent, "executor") != "claude":
            out["executor"] = str(E.field(agent, "executor"))
        for key in ("preferred_model", "preferred_provider"):
            if agent.get(key):
                out[key] = str(agent[key])
        role = store.resolve("role", E.text(agent, "role_id"))
        for key in ("default_exec_mode", "default_context_scope"):
            if role is not None and role.get(key):
                out[key] = str(role[key])
    except Exception:
        return {}
    return out
