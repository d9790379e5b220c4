"""Property tests on the pure layer: Graph, transitions, readiness (spec core 5, 6) and the file format."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workgraph import transitions
from workgraph.errors import WgError
from workgraph.graph import Graph, Readiness, dependency_satisfied, dispatchable
from workgraph.ids import slugify, unique_id
from workgraph.model import STATUSES, log_entry, new_task
from workgraph.store.jsonl import JsonlStore, parse_graph, render_graph
from workgraph.timeutil import format_ts

NOW = 1_777_000_000 * 1_000_000_000
IDS = [f"t{i}" for i in range(8)] + [".evaluate-t0", ".evaluate-t1", ".sys"]


@st.composite
def graphs(draw: st.DrawFn) -> Graph:
    ids = draw(st.lists(st.sampled_from(IDS), min_size=1, max_size=len(IDS), unique=True))
    records: dict[str, Any] = {}
    for tid in ids:
        rec = new_task(tid, tid.upper(), format_ts(NOW - 10**12))
        rec["status"] = draw(st.sampled_from(sorted(STATUSES)))
        # dependencies may be missing ids, the task itself, or form cycles
        after = draw(st.lists(st.sampled_from([*IDS, "ghost"]), max_size=3, unique=True))
        if after:
            rec["after"] = after
        if draw(st.booleans()) and draw(st.booleans()):
            rec["paused"] = True
        if draw(st.integers(0, 5)) == 0:
            rec["ready_after"] = format_ts(NOW + draw(st.sampled_from([-(10**9), 10**9])))
        if draw(st.integers(0, 6)) == 0:
            rec["cycle_config"] = {"max_iterations": 3}
        records[tid] = rec
    return Graph(records)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_ready_never_holds_a_task_with_an_unsatisfied_dependency(graph: Graph) -> None:
    r = Readiness(graph, NOW)
    broken_in = {m.split("'")[1] for m in r.break_in_messages}
    for task in r.ready:
        tid = task["id"]
        assert dispatchable(task, NOW), tid
        if tid in broken_in:
            # break-in only picks a member of an unconfigured cycle that has no ready member
            assert any(tid in c and not any(graph.get(m).get("cycle_config") for m in c) for c in r.cycles)  # type: ignore[union-attr]
            continue
        for dep in task.get("after") or ():
            assert dependency_satisfied(graph, task, dep) or (dep, tid) in r.back_edges, (tid, dep)
    # and the converse: a dispatchable task whose dependencies are all satisfied is ready
    for task in graph.tasks():
        if dispatchable(task, NOW) and all(
            dependency_satisfied(graph, task, d) for d in task.get("after") or ()
        ):
            assert task["id"] in r.ready_ids
    # back-edges are only ever edges inside a detected cycle
    members = {m for c in r.cycles for m in c}
    assert all(d in members and t in members for d, t in r.back_edges)


@settings(max_examples=300, deadline=None)
@given(graphs())
def test_without_back_edge_exemption_readiness_is_plain_rules_1_to_4(graph: Graph) -> None:
    r = Readiness(graph, NOW, exempt_back_edges=False)
    expected = [
        t["id"]
        for t in graph.tasks()
        if dispatchable(t, NOW) and all(dependency_satisfied(graph, t, d) for d in t.get("after") or ())
    ]
    assert [t["id"] for t in r.ready] == expected
    assert not r.break_in_messages


# -- random sequences of legal operations -------------------------------------------------------

OPS = st.lists(
    st.tuples(
        st.sampled_from(
            ["add", "claim", "unclaim", "done", "fail", "abandon", "retry", "log", "dep", "rmdep"]
        ),
        st.integers(0, 30),
        st.integers(0, 30),
        st.sampled_from(["Build it", "Fix (bug) #1", "ünïcode wörk", "", "Build it"]),
    ),
    max_size=40,
)


def _pick(graph: Graph, n: int) -> str | None:
    ids = [t["id"] for t in graph.tasks()]
    return ids[n % len(ids)] if ids else None


def _apply(graph: Graph, op: str, x: int, y: int, title: str, now: int) -> None:
    tid, other = _pick(graph, x), _pick(graph, y)
    if op == "add":
        new_id = unique_id(slugify(title), graph, now // 10**9)
        graph.put(new_task(new_id, title or "untitled", format_ts(now)))
        if other is not None and other != new_id:
            graph.add_dependency(new_id, other)
        return
    if tid is None:
        return
    if op == "claim":
        transitions.claim(graph, tid, "p1" if x % 2 else None, now)
    elif op == "unclaim":
        transitions.unclaim(graph, tid, now)
    elif op == "done":
        transitions.done(graph, tid, now)
    elif op == "fail":
        transitions.fail(graph, tid, now, reason="boom")
    elif op == "abandon":
        transitions.abandon(graph, tid, now, reason="nope")
    elif op == "retry":
        transitions.retry(graph, tid, now)
    elif op == "log":
        transitions.append_log(graph, tid, log_entry(format_ts(now), f"note {x}", "p1"))
    elif op == "dep" and other is not None and other != tid:
        graph.add_dependency(tid, other)
    elif op == "rmdep" and other is not None:
        graph.remove_dependency(tid, other)


def _check_invariants(graph: Graph) -> None:
    for rid, rec in graph.records.items():
        assert rec["id"] == rid
    for task in graph.tasks():
        tid = task["id"]
        after = task.get("after") or []
        before = task.get("before") or []
        assert len(after) == len(set(after)) and len(before) == len(set(before)), tid
        for d in after:
            dep = graph.get(d)
            if dep is not None:
                assert tid in (dep.get("before") or []), (tid, d)
        for b in before:
            dependent = graph.get(b)
            if dependent is not None:
                assert tid in (dependent.get("after") or []), (tid, b)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(OPS)
def test_legal_operation_sequences_keep_the_graph_consistent_and_loadable(ops: list[Any]) -> None:
    parsed = parse_graph(b"")
    graph, raw = parsed.graph, parsed.raw
    now = NOW
    for op, x, y, title in ops:
        now += 1_000_000_007
        snapshot = copy.deepcopy(graph.records)
        touched = set(graph.touched)
        try:
            _apply(graph, op, x, y, title, now)
        except WgError:
            # a refused change touches nothing
            assert graph.records == snapshot and graph.touched == touched, op
        _check_invariants(graph)
        if x % 5 == 0:  # commit: stamp, write, read back, as a transaction does
            JsonlStore._stamp(graph, now)
            data = render_graph(graph, raw)
            reparsed = parse_graph(data)
            assert reparsed.graph.records == graph.records
            assert list(reparsed.graph.records) == list(graph.records)  # line order kept
            assert not reparsed.warnings
            graph, raw = reparsed.graph, reparsed.raw
            assert render_graph(graph, raw) == data  # an untouched reload writes the same bytes
    JsonlStore._stamp(graph, now)
    final = parse_graph(render_graph(graph, raw))
    ids = [t["id"] for t in final.graph.tasks()]
    assert len(ids) == len(set(ids))
    _check_invariants(final.graph)


# -- normalize: the per-layout fast path agrees with the per-key full path -------------------------

_FULL_ROW = json.loads(
    (Path(__file__).parents[1] / "store" / "data" / "original_all_keys.jsonl").read_text().splitlines()[2]
)
_ODD_VALUES = [None, 1, True, "x", 2.5, [], ["a", 3], {}, [{"timestamp": "t"}], "pending-review", "finished"]


@settings(max_examples=400, deadline=None)
@given(
    st.lists(st.sampled_from(sorted(_FULL_ROW)), unique=True, max_size=len(_FULL_ROW)),
    st.dictionaries(st.sampled_from(sorted(_FULL_ROW)), st.sampled_from(_ODD_VALUES), max_size=2),
)
def test_normalize_fast_path_matches_full_validation(drop: list[str], odd: dict[str, Any]) -> None:
    from workgraph.model import RecordError, _normalize_full, normalize

    row = {k: v for k, v in _FULL_ROW.items() if k not in drop or k in ("kind", "id", "title")}
    row.update({k: v for k, v in odd.items() if k != "kind"})

    def outcome(fn: Any) -> Any:
        try:
            rec, changed = fn(copy.deepcopy(row))
            return ("ok", rec, changed)
        except RecordError as exc:
            return ("error", str(exc))

    assert outcome(normalize) == outcome(_normalize_full)
