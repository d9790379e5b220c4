"""``wg agency stats`` (agency.md 3.2): overview, leaderboards, synergy matrix, under-explored pairs."""

from __future__ import annotations

from . import entities as E

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .store import AgencyStore

    Entity = dict[str, Any]


def trend(entity: Entity) -> str:
    scores = [float(e["score"]) for e in E.perf_entries(entity) if isinstance(e.get("score"), int | float)]
    if len(scores) < 2:
        return "-"
    half = len(scores) // 2
    first, second = scores[:half], scores[half:]
    delta = sum(second) / len(second) - sum(first) / len(first)
    return "up" if delta > 0.03 else "down" if delta < -0.03 else "flat"


def _board(items: list[Entity]) -> list[Entity]:
    rows = [
        {"id": e["id"], "name": E.text(e, "name"), "avg_score": E.avg_score(e), "task_count": E.task_count(e),
         "trend": trend(e)}
        for e in items
    ]  # fmt: skip
    rows.sort(key=lambda r: (r["avg_score"] is None, -(r["avg_score"] or 0.0), r["id"]))
    return rows


def _score(e: Entity) -> float | None:
    v = e.get("score")
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None


def compute_stats(store: AgencyStore, min_evals: int, by_model: bool) -> dict[str, Any]:
    roles, tradeoffs = store.all("role"), store.all("tradeoff")
    evals = store.evaluations()
    scores = [s for s in (_score(e) for e in evals) if s is not None]
    overview = {
        "total_roles": len(roles),
        "total_components": len(store.all("component")),
        "total_outcomes": len(store.all("outcome")),
        "total_tradeoffs": len(tradeoffs),
        "total_evaluations": len(evals),
        "avg_score": sum(scores) / len(scores) if scores else None,
    }
    pairs: dict[tuple[str, str], list[float]] = {}
    for e in evals:
        s = _score(e)
        if s is not None and (e.get("role_id") or e.get("tradeoff_id")):
            pairs.setdefault((str(e.get("role_id") or ""), str(e.get("tradeoff_id") or "")), []).append(s)
    synergy = []
    for (rid, tid), vals in sorted(pairs.items(), key=lambda kv: -sum(kv[1]) / len(kv[1])):
        avg = sum(vals) / len(vals)
        rating = "high" if avg >= 0.8 else "low" if avg <= 0.4 else "medium"
        synergy.append(
            {"role_id": rid, "tradeoff_id": tid, "avg_score": avg, "count": len(vals), "rating": rating}
        )
    under = [
        {"role_id": r["id"], "tradeoff_id": t["id"], "eval_count": len(pairs.get((r["id"], t["id"]), []))}
        for r in roles
        for t in tradeoffs
        if len(pairs.get((r["id"], t["id"]), [])) < min_evals
    ]
    out: dict[str, Any] = {
        "overview": overview,
        "role_leaderboard": _board(roles),
        "tradeoff_leaderboard": _board(tradeoffs),
        "synergy_matrix": synergy,
        "underexplored": under,
    }
    if by_model:
        models: dict[str, list[float]] = {}
        for e in evals:
            s = _score(e)
            if s is not None:
                models.setdefault(str(e.get("model") or "(unknown)"), []).append(s)
        out["model_leaderboard"] = sorted(
            ({"model": m, "avg_score": sum(v) / len(v), "count": len(v)} for m, v in models.items()),
            key=lambda r: (-r["avg_score"], r["model"]),
        )
    return out


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f}"


def stats_lines(stats: dict[str, Any], min_evals: int, by_model: bool) -> list[str]:
    ov = stats["overview"]
    lines = [
        "=== Agency Performance Stats ===",
        "",
        f"  Components:   {ov['total_components']}",
        f"  Outcomes:     {ov['total_outcomes']}",
        f"  Roles:        {ov['total_roles']}",
        f"  TradeoffConfigs:  {ov['total_tradeoffs']}",
        f"  Evaluations:  {ov['total_evaluations']}",
        f"  Avg score:    {_fmt(ov['avg_score'])}",
    ]
    if not ov["total_evaluations"]:
        return [*lines, "", "No evaluations recorded yet. Run 'wg evaluate run <task-id>' to generate data."]
    for title, key in (
        ("Role Leaderboard", "role_leaderboard"),
        ("TradeoffConfig Leaderboard", "tradeoff_leaderboard"),
    ):
        lines += ["", f"--- {title} ---", f"  {'ID':<10} {'Name':<20} {'Avg':>5}  {'Tasks':>5}  Trend"]
        for r in stats[key]:
            lines.append(
                f"  {E.short(r['id']):<10} {r['name'][:20]:<20} {_fmt(r['avg_score']):>5}  {r['task_count']:>5}  {r['trend']}"
            )
    lines += ["", "--- Synergy Matrix (Role x TradeoffConfig) ---"]
    for s in stats["synergy_matrix"]:
        rating = {"high": "HIGH", "low": "LOW"}.get(s["rating"], "")
        lines.append(
            f"  {E.short(s['role_id']) or '-':<10} x {E.short(s['tradeoff_id']) or '-':<10} "
            f"Avg {s['avg_score']:.2f}  Count {s['count']:>3}  {rating}".rstrip()
        )
    lines += ["", f"--- Under-explored Combinations (< {min_evals} evals) ---"]
    for u in stats["underexplored"]:
        lines.append(f"  {E.short(u['role_id'])} x {E.short(u['tradeoff_id'])}  evals: {u['eval_count']}")
    if by_model:
        lines += ["", "--- Model Leaderboard ---"]
        for m in stats.get("model_leaderboard", []):
            lines.append(f"  {m['model']:<30} Avg {m['avg_score']:.2f}  Count {m['count']}")
    return lines
