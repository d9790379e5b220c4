"""Evaluation records ``$WG/agency/evaluations/*.json`` (agency.md 2.6): reading, and the ``wg show`` block.

Stdlib only (``wg show`` imports it): no YAML here.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Entity = dict[str, Any]

EVAL_DIR = "evaluations"
_ALIASES = {
    "motivation_id": "tradeoff_id",
    "value": "score",
    "reasoning": "notes",
    "evaluated_by": "evaluator",
}


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


def normalize_evaluation(raw: Entity) -> Entity:
    out: Entity = {}
    for key, value in raw.items():
        new = _ALIASES.get(key, key)
        if new != key and new in raw:
            continue
        out[new] = value
    for key in ("role_id", "tradeoff_id"):
        if out.get(key) == "unknown" or out.get(key) is None:
            out[key] = ""
    out.setdefault("source", "llm")
    return out


def load_evaluations(wg_dir: str, warn: Callable[[str], None] = _stderr) -> list[Entity]:
    """All evaluations, sorted by id; corrupt files are skipped with a warning."""
    folder = os.path.join(wg_dir, "agency", EVAL_DIR)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(".json") and not n.startswith("."))
    except (FileNotFoundError, NotADirectoryError):
        return []
    out: list[Entity] = []
    bad: list[str] = []
    for name in names:
        path = os.path.join(folder, name)
        try:
            with open(path, encoding="utf-8") as fh:
                data = json.load(fh)
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
        except json.JSONDecodeError as exc:
            bad.append(path)
            warn(f"Warning: skipping corrupt JSON file {path}: {path}:{exc.lineno}: {exc.msg}")
            continue
        except (OSError, ValueError) as exc:
            bad.append(path)
            warn(f"Warning: skipping corrupt JSON file {path}: {path}:1: {exc}")
            continue
        data.setdefault("id", name[: -len(".json")])
        out.append(normalize_evaluation(data))
    if names and not out:
        from ..errors import WgError

        raise WgError(f"All {len(bad)} JSON file(s) in {folder} are corrupt (skipped: {', '.join(bad)})")
    out.sort(key=lambda e: str(e.get("id", "")))
    return out


def _score(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def task_evaluations(wg_dir: str, task_id: str) -> list[Entity]:
    """The evaluations of one task (exact ``task_id``) in id order; silent on unreadable files."""
    try:
        evs = load_evaluations(wg_dir, warn=lambda _line: None)
    except Exception:
        return []
    return [e for e in evs if e.get("task_id") == task_id]


def show_block(wg_dir: str, task_id: str) -> list[str]:
    """``wg show``'s ``Evaluations:`` block (agency.md 3.7), with its leading blank line; [] when none."""
    evs = task_evaluations(wg_dir, task_id)
    if not evs:
        return []
    lines = ["", "Evaluations:"]
    for e in evs:
        score = _score(e.get("score"))
        shown = f"{score:.2f}" if score is not None else "-"
        lines.append(
            f"  [iter {e.get('loop_iteration') or 0}] Score: {shown}  Source: {e.get('source') or 'llm'}  "
            f"{e.get('timestamp', '')}"
        )
    return lines


def show_json(wg_dir: str, task_id: str) -> list[Entity]:
    """``wg show --json``'s ``evaluations`` list; empty when none."""
    out: list[Entity] = []
    for e in task_evaluations(wg_dir, task_id):
        item: Entity = {"score": e.get("score"), "source": e.get("source") or "llm"}
        if e.get("dimensions"):
            item["dimensions"] = e["dimensions"]
        item["timestamp"] = e.get("timestamp")
        item["loop_iteration"] = e.get("loop_iteration") or 0
        out.append(item)
    return out


def newest_scores(wg_dir: str) -> dict[str, float | None]:
    """Task id -> score of its newest evaluation (by timestamp, then id), for ``settle_pending_evals``."""
    out: dict[str, tuple[str, float | None]] = {}
    for e in task_evaluations_all(wg_dir):
        tid = e.get("task_id")
        if not isinstance(tid, str):
            continue
        key = f"{e.get('timestamp', '')}\x00{e.get('id', '')}"
        if tid not in out or key >= out[tid][0]:
            out[tid] = (key, _score(e.get("score")))
    return {tid: score for tid, (_, score) in out.items()}


def task_evaluations_all(wg_dir: str) -> list[Entity]:
    try:
        return load_evaluations(wg_dir, warn=lambda _line: None)
    except Exception:
        return []
