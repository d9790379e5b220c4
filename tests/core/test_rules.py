"""Pure rules: readiness (spec core 6) and the status transition table (5). No I/O, pinned clock."""

from __future__ import annotations

import pytest

from workgraph.errors import WgError
from workgraph.graph import Graph, Readiness, dependency_satisfied, ready_tasks, time_ready
from workgraph.timeutil import format_ts, parse_ts
from workgraph.transitions import abandon, claim, done, fail, retry, unclaim

NOW = parse_ts("2026-05-01T12:00:00+00:00") or 0
NS = 1_000_000_000
PAST = format_ts(NOW - 60 * NS)
FUTURE = format_ts(NOW + 60 * NS)
ALL_STATUSES = (
    "open",
    "in-progress",
    "waiting",
    "done",
    "blocked",
    "failed",
    "abandoned",
    "pending-validation",
    "pending-eval",
    "failed-pending-eval",
    "incomplete",
)


def task(tid: str, status: str = "open", **extra: object) -> dict[str, object]:
    return {"kind": "task", "id": tid, "title": tid.upper(), "status": status, "priority": 10, **extra}


def graph(*tasks: dict[str, object]) -> Graph:
    return Graph({str(t["id"]): t for t in tasks})


def ready(*tasks: dict[str, object], now: int = NOW) -> list[str]:
    return [t["id"] for t in ready_tasks(graph(*tasks), now)]


# -- readiness ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_only_open_and_incomplete_are_ready(status: str) -> None:
    assert ready(task("a", status)) == (["a"] if status in ("open", "incomplete") else [])


@pytest.mark.parametrize(
    ("dep_status", "satisfied"),
    [(s, s in ("done", "abandoned")) for s in ALL_STATUSES],
)
def test_dependency_statuses(dep_status: str, satisfied: bool) -> None:
    g = graph(task("d", dep_status), task("t", after=["d"]))
    assert dependency_satisfied(g, g.records["t"], "d") is satisfied
    assert ("t" in ready(task("d", dep_status), task("t", after=["d"]))) is satisfied


def test_failed_blocks_abandoned_satisfies() -> None:
    assert ready(task("a", "failed"), task("b", after=["a"])) == []
    assert ready(task("a", "abandoned"), task("b", after=["a"])) == ["b"]
    assert ready(task("a", "done"), task("b", after=["a"])) == ["b"]


def test_missing_dependency_does_not_satisfy() -> None:
    assert ready(task("c", after=["ghost"])) == []
    assert ready(task("c", after=["ghost", "d"]), task("d", "done")) == []


def test_all_dependencies_must_be_satisfied() -> None:
    assert ready(task("x", "done"), task("y", "in-progress"), task("t", after=["x", "y"])) == []
    assert ready(task("x", "done"), task("y", "abandoned"), task("t", after=["x", "y"])) == ["t"]


def test_paused_is_never_ready() -> None:
    assert ready(task("a", paused=True)) == []
    assert ready(task("a", "incomplete", paused=True)) == []
    assert ready(task("a", paused=False)) == ["a"]


def test_not_before_gate() -> None:
    assert ready(task("a", not_before=FUTURE)) == []
    assert ready(task("a", not_before=PAST)) == ["a"]
    assert ready(task("a", not_before=format_ts(NOW))) == ["a"]  # now >= not_before
    assert ready(task("a", not_before="2026-05-01T12:01:00")) == []  # naive form accepted
    assert ready(task("a", not_before="garbage")) == ["a"]  # unparseable: ignored


def test_ready_after_gate() -> None:
    assert ready(task("a", ready_after=FUTURE)) == []
    assert ready(task("a", ready_after=PAST)) == ["a"]
    assert ready(task("a", ready_after=FUTURE), now=NOW + 61 * NS) == ["a"]


def test_time_ready_cron() -> None:
    assert not time_ready(task("a", cron_enabled=True, next_cron_fire=FUTURE), NOW)
    assert time_ready(task("a", cron_enabled=True, next_cron_fire=PAST), NOW)


def test_evaluation_gate_for_user_tasks() -> None:
    # done dependency with a live .evaluate-<d>: not satisfied for a non-system task
    assert "t" not in ready(task("d", "done"), task(".evaluate-d", after=["d"]), task("t", after=["d"]))
    assert "t" not in ready(task("d", "abandoned"), task(".evaluate-d"), task("t", after=["d"]))
    # terminal gate: satisfied
    for gate in ("done", "failed", "abandoned"):
        assert "t" in ready(task("d", "done"), task(".evaluate-d", gate), task("t", after=["d"]))


def test_system_tasks_satisfied_by_pending_eval() -> None:
    assert ready(task("d", "pending-eval"), task(".evaluate-d", after=["d"])) == [".evaluate-d"]
    assert ready(task("d", "failed-pending-eval"), task(".flip-d", after=["d"])) == [".flip-d"]
    # a user task is not
    assert ready(task("d", "pending-eval"), task("u", after=["d"])) == []
    # a system task is not blocked by the evaluation gate
    assert ready(task("d", "done"), task(".evaluate-d", "in-progress"), task(".x", after=["d"])) == [".x"]
    # but a system task still needs its dependency resolved
    assert ready(task("d", "failed"), task(".x", after=["d"])) == []


def test_ready_keeps_system_and_assigned_tasks_in_graph_order() -> None:
    assert ready(task("b", assigned="bob"), task(".sys"), task("a")) == ["b", ".sys", "a"]


def test_back_edge_ignored_in_cycle() -> None:
    # a -> b -> a, with a depending on e outside the cycle (done): a is the header, b->a is the back-edge
    assert ready(task("e", "done"), task("a", after=["e", "b"]), task("b", after=["a"])) == ["a"]


def test_auto_break_in() -> None:
    g = graph(task("e"), task("a", after=["b"]), task("b", after=["a", "e"]))
    r = Readiness(g, NOW)
    assert [t["id"] for t in r.ready] == ["e", "a"]
    assert r.break_in_messages == [
        "Auto-break-in: selecting task 'a' to break cycle deadlock in unconfigured cycle [a → b]"
    ]


def test_no_break_in_with_cycle_config() -> None:
    g = graph(
        task("e"),
        task("a", after=["b"], cycle_config={"max_iterations": 3}),
        task("b", after=["a", "e"]),
    )
    r = Readiness(g, NOW)
    assert [t["id"] for t in r.ready] == ["e"]
    assert r.break_in_messages == []


# -- transition table ---------------------------------------------------------------------------

CLAIMABLE = {"open", "blocked", "incomplete"}
UNCLAIMABLE = {"in-progress", "open", "blocked", "incomplete"}
RETRYABLE = {"failed", "incomplete", "in-progress"}


def _one(status: str, **extra: object) -> Graph:
    return graph(task("a", status, **extra))


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_claim_table(status: str) -> None:
    g = _one(status)
    if status in CLAIMABLE:
        rec = claim(g, "a", "bob", NOW)
        assert rec["status"] == "in-progress"
        assert rec["assigned"] == "bob"
        assert rec["started_at"] == format_ts(NOW)
        assert rec["log"][-1] == {
            "timestamp": format_ts(NOW),
            "actor": "bob",
            "message": "Task claimed by @bob",
        }
    else:
        with pytest.raises(WgError):
            claim(g, "a", None, NOW)
        assert g.touched == set()


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_unclaim_table(status: str) -> None:
    g = _one(status, assigned="x", started_at=PAST)
    if status in UNCLAIMABLE:
        rec = unclaim(g, "a", NOW)
        assert rec["status"] == "open" and "assigned" not in rec and rec["started_at"] == PAST
    else:
        with pytest.raises(WgError, match="Cannot unclaim task 'a'"):
            unclaim(g, "a", NOW)
        assert g.touched == set()


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_done_table(status: str) -> None:
    g = _one(status)
    res = done(g, "a", NOW)
    if status == "done":
        assert res["changed"] is False and g.touched == set()
    else:
        assert res["changed"] is True
        assert g.records["a"]["status"] == "done"
        assert g.records["a"]["completed_at"] == format_ts(NOW)


def test_done_pending_eval_only_with_live_gate() -> None:
    g = graph(task("a"), task(".evaluate-a", after=["a"]))
    assert done(g, "a", NOW)["status"] == "pending-eval"
    g = graph(task("a"), task(".evaluate-a", "done"))
    assert done(g, "a", NOW)["status"] == "done"
    g = graph(task(".s"), task(".evaluate-.s"))
    assert done(g, ".s", NOW)["status"] == "done"


def test_done_refused_by_unresolved_dependencies() -> None:
    g = graph(task("a", "in-progress"), task("b", after=["a", "ghost"]))
    with pytest.raises(WgError) as exc:
        done(g, "b", NOW)
    assert (
        exc.value.message
        == "Cannot mark 'b' as done: blocked by 1 unresolved task(s):\n  - a (A): InProgress"
    )
    assert g.touched == set()
    for ok in ("done", "failed", "abandoned"):
        g = graph(task("a", ok), task("b", after=["a"]))
        assert done(g, "b", NOW)["changed"] is True
    g = graph(task("a", "pending-eval"), task(".s", after=["a"]))
    assert done(g, ".s", NOW)["changed"] is True


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_fail_table(status: str) -> None:
    g = _one(status, retry_count=1)
    if status in ("done", "abandoned"):
        with pytest.raises(WgError):
            fail(g, "a", NOW, "r")
        assert g.touched == set()
    elif status == "failed":
        res = fail(g, "a", NOW, "r")
        assert res["changed"] is False and g.touched == set()
    else:
        res = fail(g, "a", NOW, "r", "agent-died")
        rec = g.records["a"]
        assert rec["status"] == "failed" and rec["retry_count"] == 2
        assert rec["failure_reason"] == "r" and rec["failure_class"] == "agent-died"


def test_fail_rescue_to_failed_pending_eval() -> None:
    g = graph(task("a", "in-progress"), task(".evaluate-a", after=["a"]))
    fail(g, "a", NOW, None, "agent-exit-nonzero", auto_evaluate=True)
    assert g.records["a"]["status"] == "failed-pending-eval"
    assert "retry_count" not in g.records["a"]
    g = graph(task("a", "in-progress"), task(".evaluate-a", after=["a"]))
    fail(g, "a", NOW, None, "agent-exit-nonzero", auto_evaluate=False)
    assert g.records["a"]["status"] == "failed"


def test_fail_eval_reject_on_done() -> None:
    g = _one("done")
    fail(g, "a", NOW, "bad", eval_reject=True)
    assert g.records["a"]["status"] == "failed"
    assert g.records["a"]["log"][-1]["message"] == "Evaluation rejected task: bad"


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_abandon_table(status: str) -> None:
    g = _one(status)
    if status == "done":
        with pytest.raises(WgError, match="already done and cannot be abandoned"):
            abandon(g, "a", NOW)
    elif status == "abandoned":
        assert abandon(g, "a", NOW)["changed"] is False
        assert g.touched == set()
    else:
        abandon(g, "a", NOW, "why")
        assert g.records["a"]["status"] == "abandoned"
        assert g.records["a"]["failure_reason"] == "why"


@pytest.mark.parametrize("status", ALL_STATUSES)
def test_retry_table(status: str) -> None:
    g = _one(status, retry_count=1, failure_reason="x", assigned="z", session_id="s")
    if status in RETRYABLE:
        res = retry(g, "a", NOW)
        rec = g.records["a"]
        assert rec["status"] == "open"
        for gone in ("failure_reason", "assigned", "session_id"):
            assert gone not in rec
        # an in-progress retry counts the running attempt
        assert rec["retry_count"] == (2 if status == "in-progress" else 1)
        assert res["attempt"] == rec["retry_count"] + 1
    else:
        with pytest.raises(WgError, match="is not failed or incomplete"):
            retry(g, "a", NOW)
        assert g.touched == set()


def test_retry_stale_claims_respects_live_agents() -> None:
    def build() -> Graph:
        return graph(
            task("a", "failed"),
            task("b", "in-progress", after=["a"], assigned="alive", started_at=PAST),
            task("c", "in-progress", after=["b"], assigned="gone", started_at=PAST),
            task("d", "done", after=["a"], assigned="gone"),
        )

    g = build()
    assert retry(g, "a", NOW, live_agents={"alive"})["cleared"] == ["c"]
    assert g.records["b"]["assigned"] == "alive"
    assert g.records["c"]["status"] == "open" and "started_at" not in g.records["c"]
    assert g.records["d"]["assigned"] == "gone"  # terminal: untouched
    g = build()
    assert sorted(retry(g, "a", NOW, live_agents=None)["cleared"]) == ["b", "c"]
