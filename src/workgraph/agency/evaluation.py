"""Evaluations (agency.md 4.2-4.5): calling the evaluator CLI, reading its verdict, saving and rolling up."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess

from ..errors import WgError
from . import entities as E

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..model import Record
    from .store import AgencyStore

    Entity = dict[str, Any]

DIMENSIONS = ("correctness", "completeness", "efficiency", "style_adherence")
WEIGHTS = (0.40, 0.30, 0.15, 0.15)
CALL_TIMEOUT = 300


# -- the verdict (4.3) -----------------------------------------------------------------------------


def extract_json(reply: str) -> Any:
    text = reply.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    if text.startswith("```"):
        body = text.split("\n", 1)[1] if "\n" in text else ""
        end = body.rfind("```")
        candidate = body[:end] if end >= 0 else body
    else:
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            return None
        candidate = text[start : end + 1]
    try:
        return json.loads(candidate.strip())
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value)):
        return float(value)
    return None


def _clamp(name: str, value: float, warnings: list[str]) -> float:
    clamped = min(1.0, max(0.0, value))
    if clamped != value:
        warnings.append(f"Warning: evaluator returned {name} {value}, clamped to {clamped}")
    return clamped


def parse_verdict(reply: str) -> tuple[float, dict[str, float], str, list[str]] | None:
    """(score, dimensions, notes, warnings) of a usable reply, else None."""
    data = extract_json(reply)
    if not isinstance(data, dict):
        return None
    warnings: list[str] = []
    dims_raw = data.get("dimensions")
    dims: dict[str, float] = {}
    if isinstance(dims_raw, dict):
        for name, value in dims_raw.items():
            num = _number(value)
            if num is None:
                warnings.append(f"Warning: dropping non-numeric dimension '{name}'")
                continue
            dims[str(name)] = _clamp(str(name), num, warnings)
    score = _number(data.get("score"))
    if score is None:
        if ("score" in data and data["score"] is not None) or not all(d in dims for d in DIMENSIONS):
            return None
        score = round(sum(w * dims[d] for w, d in zip(WEIGHTS, DIMENSIONS, strict=True)), 4)
    else:
        score = _clamp("score", score, warnings)
    notes = data.get("notes")
    return score, dims, notes if isinstance(notes, str) else ("" if notes is None else str(notes)), warnings


# -- calling the model (4.2) -----------------------------------------------------------------------


def split_model(spec: str) -> tuple[str, str]:
    provider, sep, name = spec.partition(":")
    if not sep:
        return ("claude", spec) if spec in ("opus", "sonnet", "haiku") else ("", spec)
    return provider, name


def _claude_bin(wg_dir: str) -> str:
    import tomllib

    try:
        with open(os.path.join(wg_dir, "executors", "claude.toml"), "rb") as fh:
            data = tomllib.load(fh)
        command = (data.get("executor") or {}).get("command")
        if isinstance(command, str) and command:
            return command
    except (OSError, tomllib.TOMLDecodeError):
        pass
    return "claude"


def _run_cli(argv: list[str], prompt: str, label: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "CLAUDECODE"}
    try:
        proc = subprocess.run(
            argv, input=prompt, capture_output=True, text=True, env=env, timeout=CALL_TIMEOUT
        )
    except FileNotFoundError:
        raise WgError(f"Failed to start {label} CLI: '{argv[0]}' not found") from None
    except OSError as exc:
        raise WgError(f"Failed to start {label} CLI: {exc}") from None
    except subprocess.TimeoutExpired:
        raise WgError(f"{label.capitalize()} CLI call timed out after {CALL_TIMEOUT}s") from None
    if proc.returncode != 0:
        raise WgError(f"{label.capitalize()} CLI call failed (exit {proc.returncode}): {proc.stderr[:500]}")
    return proc.stdout


def call_model(wg_dir: str, model_spec: str, prompt: str) -> tuple[str, dict[str, Any] | None]:
    """The reply text and the reported token usage, if any."""
    provider, name = split_model(model_spec)
    if provider == "claude":
        argv = [_claude_bin(wg_dir), "--model", name, "--print", "--output-format", "json",
                "--dangerously-skip-permissions"]  # fmt: skip
        out = _run_cli(argv, prompt, "claude")
        reply, usage = out, None
        try:
            data = json.loads(out)
            if isinstance(data, dict) and "result" in data:
                reply = str(data.get("result") or "")
                usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
        except ValueError:
            pass
        if not reply.strip():
            raise WgError("Empty response from claude CLI")
        return reply, usage
    if provider == "codex":
        argv = ["codex", "exec", "--json", "--skip-git-repo-check",
                "--dangerously-bypass-approvals-and-sandbox", "--model", name]  # fmt: skip
        out = _run_cli(argv, prompt, "codex")
        reply = ""
        for line in out.splitlines():
            try:
                ev = json.loads(line)
            except ValueError:
                continue
            item = ev.get("item") if isinstance(ev, dict) else None
            if isinstance(item, dict) and item.get("type") == "agent_message":
                reply = str(item.get("text") or "")
            elif isinstance(ev, dict) and ev.get("type") == "agent_message":
                reply = str(ev.get("message") or ev.get("text") or "")
        if not reply.strip():
            raise WgError("Empty response from codex CLI")
        return reply, None
    raise WgError(f"Evaluator model '{model_spec}' needs the claude or codex CLI")


# -- the record, the roll-up (2.6, 4.4) --------------------------------------------------------------


def task_model(task: Record) -> str | None:
    for entry in reversed(task.get("log") or []):
        msg = str(entry.get("message", ""))
        if msg.startswith("Spawned by ") and " --model " in msg:
            tail = msg.split(" --model ", 1)[1].split()
            if tail:
                return tail[0]
    model = task.get("model")
    return str(model) if model else None


def new_evaluation(
    task: Record, agent: Entity | None, score: float, dims: dict[str, float], notes: str, evaluator: str,
    timestamp: str, model: str | None, source: str,
) -> Entity:  # fmt: skip
    ev: Entity = {"id": f"eval-{task['id']}-{timestamp.replace(':', '-')}", "task_id": task["id"]}
    if agent is not None:
        ev["agent_id"] = agent["id"]
    ev["role_id"] = E.text(agent, "role_id") if agent else ""
    ev["tradeoff_id"] = E.text(agent, "tradeoff_id") if agent else ""
    ev["score"] = score
    if dims:
        ev["dimensions"] = dims
    ev["notes"] = notes
    ev["evaluator"] = evaluator
    ev["timestamp"] = timestamp
    if model:
        ev["model"] = model
    ev["source"] = source
    if task.get("loop_iteration"):
        ev["loop_iteration"] = task["loop_iteration"]
    return ev


def save_and_roll_up(
    store: AgencyStore, evaluation: Entity, agent_ref: str, now: int, warn: Callable[[str], None]
) -> tuple[str, bool]:
    """Under the store lock: save the evaluation, then append its score to the agent, role, tradeoff,
    components and outcome (4.4). Returns (path, whether an identity was rolled up)."""
    with store.lock():
        agent = store.resolve("agent", agent_ref) if agent_ref else None
        if agent is not None and not evaluation.get("agent_id"):
            evaluation["agent_id"] = agent["id"]
        path = store.save_evaluation(evaluation)
        if agent is None:
            return path, False
        score = float(evaluation["score"])
        tid, ts = str(evaluation["task_id"]), str(evaluation["timestamp"])
        role_id, tradeoff_id = E.text(agent, "role_id"), E.text(agent, "tradeoff_id")
        E.append_score(agent, score, tid, ts, role_id)
        store.write("agent", agent, now)
        role = store.get("role", role_id) if role_id else None
        if role is not None:
            E.append_score(role, score, tid, ts, tradeoff_id)
            store.write("role", role, now)
        tradeoff = store.get("tradeoff", tradeoff_id) if tradeoff_id else None
        if tradeoff is not None:
            E.append_score(tradeoff, score, tid, ts, role_id)
            store.write("tradeoff", tradeoff, now)
        if role is not None:
            for comp_id in E.field(role, "component_ids"):
                comp = store.get("component", str(comp_id))
                if comp is None:
                    warn(f"Warning: could not propagate eval to component '{comp_id}'")
                    continue
                E.append_score(comp, score, tid, ts, role_id)
                store.write("component", comp, now)
            outcome_id = E.text(role, "outcome_id")
            outcome = store.get("outcome", outcome_id) if outcome_id else None
            if outcome is None:
                warn(f"Warning: could not propagate eval to outcome '{outcome_id}'")
            else:
                E.append_score(outcome, score, tid, ts, str(agent["id"]))
                store.write("outcome", outcome, now)
        return path, True


# -- the gate (4.5) ----------------------------------------------------------------------------------


def gate_applies(task: Record, config: Any) -> bool:
    return "eval-gate" in (task.get("tags") or ()) or config.get("agency.eval_gate_all") is True


def apply_gate(graph: Any, task_id: str, score: float, notes: str, threshold: float, now: int) -> bool:
    """A pure change: fail the task as ``wg fail --eval-reject`` when the score is below the threshold."""
    from ..model import log_entry
    from ..timeutil import format_ts
    from ..transitions import fail

    task = graph.get(task_id)
    if task is None:
        return False
    if score >= threshold:
        entry = log_entry(
            format_ts(now), f"Evaluation gate passed: score {score:.2f} ≥ threshold {threshold:.2f}"
        )
        graph.update(task_id, log=[*(task.get("log") or []), entry])
        return False
    if task.get("status") in ("abandoned", "failed"):
        return False
    reason = f"evaluation rejected: score {score:.2f} below threshold {threshold:.2f} ({notes})"
    fail(graph, task_id, now, reason=reason, eval_reject=True)
    return True


_DIM_RE = re.compile(r"^([^=]+)=(.*)$")


def parse_dimension(text: str) -> tuple[str, float]:
    m = _DIM_RE.match(text)
    if not m or not m.group(1).strip():
        raise WgError(f"Invalid dimension format '{text}'. Expected key=value (e.g. correctness=0.8)")
    try:
        value = float(m.group(2))
    except ValueError:
        raise WgError(f"Invalid dimension score '{m.group(2)}' in '{text}'") from None
    return m.group(1).strip(), value
