"""Dispatcher scaffolding (service.md 9.3-9.4): pure functions, and no duplicate ``.evaluate-*`` under races."""

from __future__ import annotations

import multiprocessing
from typing import Any

from tests.agency.conftest import AgencyProject
from tests.conftest import WG_BIN
from workgraph.agency.scaffold import (
    audit_direct_dispatch,
    scaffold_assignments,
    scaffold_evaluations,
    settle_pending_evals,
)
from workgraph.graph import Graph
from workgraph.model import new_task
from workgraph.timeutil import format_ts

S = 1_000_000_000
T0 = 1_780_000_000 * S


class Cfg:
    def __init__(self, **data: Any) -> None:
        self.data = data

    def get(self, dotted: str, default: Any = None) -> Any:
        return self.data.get(dotted, default)

    def agency_flag(self, key: str) -> bool:
        return bool(self.data.get(f"agency.{key}", True))


def _graph(*tasks: dict[str, Any]) -> Graph:
    return Graph({t["id"]: t for t in tasks})


def _task(tid: str, **kw: Any) -> dict[str, Any]:
    rec = new_task(tid, kw.pop("title", tid.upper()), format_ts(T0))
    rec.update(kw)
    return rec


def test_evaluate_scaffold_created_once_and_marked() -> None:
    g = _graph(_task("a"), _task("b", status="done"))
    created = scaffold_evaluations(g, Cfg(), T0)
    assert created == [".evaluate-a", ".evaluate-b"]
    ev = g.get(".evaluate-a")
    assert ev is not None
    assert ev["title"] == "Evaluate: A" and ev["after"] == ["a"]
    assert ev["exec"] == "wg evaluate run a" and ev["exec_mode"] == "bare"
    assert set(ev["tags"]) == {"evaluation", "agency"} and ev["model"] == "claude:haiku"
    assert "eval-scheduled" in g.get("a")["tags"]  # type: ignore[index]
    assert scaffold_evaluations(g, Cfg(), T0 + S) == []


def test_evaluate_not_recreated_after_gc() -> None:
    g = _graph(_task("a"))
    scaffold_evaluations(g, Cfg(), T0)
    g.remove(".evaluate-a")  # archived or gc'd
    assert scaffold_evaluations(g, Cfg(), T0 + S) == []
    assert g.get(".evaluate-a") is None


def test_existing_evaluate_task_is_not_duplicated() -> None:
    g = _graph(_task("a"), _task(".evaluate-a", after=["a"]))
    assert scaffold_evaluations(g, Cfg(), T0) == []
    assert "eval-scheduled" in g.get("a")["tags"]  # type: ignore[index]


def test_evaluate_skips() -> None:
    g = _graph(
        _task("shell", exec="echo hi"),
        _task("skip", tags=["skip-eval"]),
        _task("paused", paused=True),
        _task("gone", status="abandoned"),
        _task("human", agent="h" * 64),
        _task(".sys"),
        _task("mode", exec_mode="shell"),
    )
    assert scaffold_evaluations(g, Cfg(), T0, human_agents={"h" * 64}) == []
    assert scaffold_evaluations(_graph(_task("a")), Cfg(**{"agency.auto_evaluate": False}), T0) == []


def test_flip_precedes_evaluate() -> None:
    g = _graph(_task("a", tags=["flip-eval"]))
    assert scaffold_evaluations(g, Cfg(), T0) == [".flip-a", ".evaluate-a"]
    assert g.get(".evaluate-a")["after"] == [".flip-a"]  # type: ignore[index]
    assert g.get(".flip-a")["exec"] == "wg evaluate run a --flip"  # type: ignore[index]


def test_assign_after_grace_and_reopen() -> None:
    g = _graph(_task("a", priority=50), _task("b", agent="x" * 64), _task("c", tags=["evaluation"]))
    assert scaffold_assignments(g, Cfg(), T0 + 5 * S) == []  # within the 10 s grace
    assert scaffold_assignments(g, Cfg(), T0 + 11 * S) == [".assign-a"]
    a = g.get(".assign-a")
    assert a is not None
    assert a["exec"] == "wg assign a --auto" and a["priority"] == 50 and a["title"] == "Assign agent for: A"
    assert set(a["tags"]) == {"assignment", "agency", "skip-eval"}
    assert ".assign-a" in g.get("a")["after"]  # type: ignore[index]
    assert scaffold_assignments(g, Cfg(), T0 + 12 * S) == []  # a is blocked by its .assign- now
    g.update(".assign-a", status="abandoned")
    assert scaffold_assignments(g, Cfg(), T0 + 13 * S) == [".assign-a"]
    a = g.get(".assign-a")
    assert a is not None and a["status"] == "open"
    assert a["log"][-1]["message"] == "Re-opened: task still has no agent"
    assert g.get("a")["after"].count(".assign-a") == 1  # type: ignore[index]


def test_assign_off_and_audit() -> None:
    g = _graph(_task("a"))
    assert scaffold_assignments(g, Cfg(**{"agency.auto_assign": False}), T0 + 60 * S) == []
    assert audit_direct_dispatch(g, "a", T0) == ".assign-a"
    audit = g.get(".assign-a")
    assert audit is not None and audit["status"] == "done"
    assert audit["description"].startswith("Direct dispatch:") and "after" not in g.get("a")  # type: ignore[operator]
    assert audit_direct_dispatch(g, "a", T0) is None


def test_settle_pending_evals() -> None:
    g = _graph(
        _task("p", status="pending-eval"),
        _task(".evaluate-p", status="done"),
        _task("f", status="failed-pending-eval"),
        _task(".evaluate-f", status="done"),
        _task("w", status="pending-eval"),
        _task(".evaluate-w", status="open"),
    )
    settled = settle_pending_evals(g, Cfg(), T0, {"p": 0.9, "f": 0.3})
    assert settled == ["p", "f"]
    assert g.get("p")["status"] == "done"  # type: ignore[index]
    f = g.get("f")
    assert f is not None and f["status"] == "failed" and f["retry_count"] == 1
    assert g.get("w")["status"] == "pending-eval"  # type: ignore[index]


def _scaffold_worker(wg_dir: str) -> list[str]:
    from workgraph.config import load_config
    from workgraph.store.jsonl import JsonlStore
    from workgraph.timeutil import now_ns

    store = JsonlStore(wg_dir)
    out: list[str] = []
    for _ in range(5):
        now = now_ns()
        out += store.transaction(
            lambda g, t=now: scaffold_evaluations(g, load_config(wg_dir, quiet=True), t), now
        )
    return out


def test_no_duplicate_evaluate_under_concurrent_done(bare: AgencyProject) -> None:
    bare.ok("config", "set", "agency.auto_evaluate", "true")
    ids = [f"t{i}" for i in range(6)]
    for tid in ids:
        bare.ok("add", tid.upper(), "--id", tid, "--no-place")
    import subprocess

    env = bare.env
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(3) as pool:
        pending = [pool.apply_async(_scaffold_worker, (str(bare.wg),)) for _ in range(3)]
        procs = [
            subprocess.Popen([WG_BIN, "done", tid], cwd=bare.root, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            for tid in ids
        ]  # fmt: skip
        for p in procs:
            assert p.wait(timeout=60) == 0
        created = [x for r in pending for x in r.get(timeout=60)]
    rows = bare.rows()
    evaluates = [r["id"] for r in rows if str(r["id"]).startswith(".evaluate-")]
    assert sorted(evaluates) == sorted(f".evaluate-{t}" for t in ids)
    assert sorted(created) == sorted(evaluates)  # each created by exactly one transaction
    for tid in ids:
        task = bare.task(tid)
        assert "eval-scheduled" in task["tags"]  # type: ignore[operator]
        assert task["status"] in ("done", "pending-eval")
