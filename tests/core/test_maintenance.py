"""The pure maintenance pass of spec core 11.18 (waits, resurrection, cron) and gc/archive selection."""

from __future__ import annotations

from typing import Any

import pytest

from workgraph.archive import parse_older, remove_tasks, select_archive, select_gc
from workgraph.cron import next_fire
from workgraph.errors import WgError
from workgraph.graph import Graph
from workgraph.maintenance import SATISFIED_MSG, mark_incomplete, park, run_maintenance, watched_files
from workgraph.timeutil import format_ts

NS = 1_000_000_000
T0 = 1_800_000_000 * NS  # a fixed "now"
PARKED = format_ts(T0 - 100 * NS)


def task(tid: str, status: str = "open", **extra: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"kind": "task", "id": tid, "title": tid.upper(), "status": status, "priority": 10}
    rec.update(extra)
    return rec


def graph(*records: dict[str, Any]) -> Graph:
    return Graph({r["id"]: r for r in records})


def waiting(tid: str, mode: str, *conditions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return task(
        tid,
        "waiting",
        assigned="agent-7",
        log=[{"timestamp": PARKED, "message": "Agent parked. Waiting for: x"}],
        wait_condition={"mode": mode, "conditions": list(conditions)},
        **extra,
    )


def msg(sender: str, at: int, status: str = "sent") -> dict[str, Any]:
    return {"id": 1, "timestamp": format_ts(at), "sender": sender, "body": "hi", "status": status}


# -- waits --------------------------------------------------------------------------------------


def test_task_status_wait_satisfied_reopens() -> None:
    g = graph(
        task("d", "done"), waiting("w", "all", {"type": "task-status", "task_id": "d", "status": "done"})
    )
    events = run_maintenance(g, T0, {}, {})
    w = g.get("w")
    assert w is not None
    assert w["status"] == "open"
    assert "wait_condition" not in w and "assigned" not in w
    assert w["log"][-1]["message"] == SATISFIED_MSG
    assert events == ["Wait satisfied: 'w' reopened"]


def test_task_status_wait_pending_stays() -> None:
    g = graph(
        task("d", "in-progress"),
        waiting("w", "all", {"type": "task-status", "task_id": "d", "status": "done"}),
    )
    assert run_maintenance(g, T0, {}, {}) == []
    assert g.records["w"]["status"] == "waiting"
    assert not g.touched


def test_unsatisfiable_all_and_any() -> None:
    ts = {"type": "task-status", "task_id": "d", "status": "done"}
    gone = {"type": "task-status", "task_id": "ghost", "status": "done"}
    timer_later = {"type": "timer", "resume_after": format_ts(T0 + 60 * NS)}
    g = graph(
        task("d", "failed"),
        waiting("all1", "all", ts, timer_later),
        waiting("any1", "any", ts, timer_later),
        waiting("any2", "any", ts, gone),
    )
    run_maintenance(g, T0, {}, {})
    assert g.records["all1"]["status"] == "failed"
    assert g.records["all1"]["failure_reason"].startswith("Wait condition unsatisfiable: ")
    assert "'d'" in g.records["all1"]["failure_reason"]
    assert g.records["any1"]["status"] == "waiting"  # the timer may still fire
    assert g.records["any2"]["status"] == "failed"
    assert "'ghost'" in g.records["any2"]["failure_reason"]


def test_timer_wait() -> None:
    cond = {"type": "timer", "resume_after": format_ts(T0 + 10 * NS)}
    g = graph(waiting("w", "all", cond))
    run_maintenance(g, T0, {}, {})
    assert g.records["w"]["status"] == "waiting"
    run_maintenance(g, T0 + 10 * NS, {}, {})
    assert g.records["w"]["status"] == "open"
    g2 = graph(waiting("w", "all", {"type": "timer", "resume_after": "not a time"}))
    run_maintenance(g2, T0, {}, {})
    assert g2.records["w"]["status"] == "open"  # unparseable: holds


def test_message_and_human_input_waits() -> None:
    g = graph(
        task("other"),
        waiting("m", "all", {"type": "message"}),
        waiting("h", "all", {"type": "human-input"}),
    )
    old = msg("user", T0 - 200 * NS)  # before the park: does not count
    agent_msgs = [old, msg("agent-3", T0 - 10 * NS), msg("other", T0 - 5 * NS)]
    run_maintenance(g, T0, {"m": [old], "h": agent_msgs}, {})
    assert g.records["m"]["status"] == "waiting"
    assert g.records["h"]["status"] == "waiting"  # only agent senders after the park
    run_maintenance(
        g, T0, {"m": [old, msg("agent-3", T0 - NS)], "h": [*agent_msgs, msg("erik", T0 - NS)]}, {}
    )
    assert g.records["m"]["status"] == "open"
    assert g.records["h"]["status"] == "open"


def test_file_changed_wait() -> None:
    cond = {"type": "file-changed", "path": "/x/y.txt", "mtime_at_wait": 1000}
    g = graph(waiting("w", "all", cond))
    assert watched_files(g) == ["/x/y.txt"]
    run_maintenance(g, T0, {}, {"/x/y.txt": 1000})
    assert g.records["w"]["status"] == "waiting"
    run_maintenance(g, T0, {}, {"/x/y.txt": None})
    assert g.records["w"]["status"] == "waiting"
    run_maintenance(g, T0, {}, {"/x/y.txt": 1001})
    assert g.records["w"]["status"] == "open"


def test_circular_wait_fails_both() -> None:
    g = graph(
        waiting("a", "all", {"type": "task-status", "task_id": "b", "status": "done"}),
        waiting("b", "all", {"type": "task-status", "task_id": "a", "status": "done"}),
        waiting("c", "all", {"type": "task-status", "task_id": "a", "status": "done"}),
    )
    events = run_maintenance(g, T0, {}, {})
    assert g.records["a"]["failure_reason"] == "Circular wait detected: a -> b"
    assert g.records["b"]["failure_reason"] == "Circular wait detected: a -> b"
    assert g.records["c"]["status"] == "waiting"  # waits on the cycle but is not part of it
    assert "Circular wait detected: a -> b" in events


# -- resurrection -------------------------------------------------------------------------------


def test_resurrection_reopens_done_task() -> None:
    g = graph(task("t", "done", assigned="agent-1"))
    msgs = {"t": [msg("user", T0 - NS), msg("t", T0 - NS), msg("user", T0 - NS, status="read")]}
    run_maintenance(g, T0, msgs, {})
    t = g.records["t"]
    assert t["status"] == "open" and "assigned" not in t
    assert t["log"][-1]["message"] == "Resurrection: reopened due to 1 pending message(s)"
    assert t["resurrection_count"] == 1
    assert t["last_resurrected_at"] == format_ts(T0)


def test_resurrection_limits() -> None:
    msgs = {k: [msg("user", T0 - NS)] for k in ("a", "b", "c", "d")}
    g = graph(
        task("a", "done", tags=["resurrect:false"]),
        task("b", "done", resurrection_count=5),
        task("c", "done", last_resurrected_at=format_ts(T0 - 30 * NS)),
        task("d", "open"),
    )
    run_maintenance(g, T0, msgs, {})
    assert not g.touched
    g2 = graph(task("c", "done", last_resurrected_at=format_ts(T0 - 61 * NS)))
    run_maintenance(g2, T0, {"c": [msg("coordinator", T0 - NS)]}, {})
    assert g2.records["c"]["status"] == "open"


def test_resurrection_child_when_dependent_busy() -> None:
    g = graph(task("t", "done", before=["u"]), task("u", "in-progress", after=["t"]))
    run_maintenance(g, T0, {"t": [msg("agent-9", T0 - NS)]}, {})
    child = g.records[".respond-to-t"]
    assert child["title"] == "Respond to messages on t"
    assert child["after"] == ["t"] and child["tags"] == ["resurrection-child"]
    assert child["status"] == "open"
    t = g.records["t"]
    assert t["status"] == "done"
    assert t["resurrection_count"] == 1
    assert ".respond-to-t" in t["before"]
    # a second pass a minute later makes no second child while the first is open
    run_maintenance(g, T0 + 61 * NS, {"t": [msg("agent-9", T0 - NS)]}, {})
    assert sum(1 for i in g.ids() if i.startswith(".respond-to-")) == 1
    assert g.records["t"]["resurrection_count"] == 1


# -- cron ---------------------------------------------------------------------------------------


def test_cron_reopens_done_task() -> None:
    g = graph(
        task(
            "c",
            "done",
            assigned="x",
            completed_at=format_ts(T0),
            cron_schedule="0 * * * *",
            cron_enabled=True,
        ),
        task("n", "done", cron_schedule="0 * * * *"),  # not enabled
    )
    run_maintenance(g, T0, {}, {})
    c = g.records["c"]
    assert c["status"] == "open"
    assert "assigned" not in c and "completed_at" not in c
    assert c["last_cron_fire"] == format_ts(T0)
    assert c["next_cron_fire"] == format_ts(next_fire("0 * * * *", T0, "c"))
    assert g.records["n"]["status"] == "done"


# -- incomplete / wait as pure changes -----------------------------------------------------------


def test_mark_incomplete_counts_and_cooldown() -> None:
    g = graph(task("w", "in-progress", assigned="a", session_id="s", checkpoint="c"))
    res = mark_incomplete(g, "w", T0, "half", 3, 30)
    assert res["attempt"] == 1 and not res["exhausted"]
    w = g.records["w"]
    assert w["ready_after"] == format_ts(T0 + 30 * NS)
    assert not {"assigned", "session_id", "checkpoint"} & set(w)
    assert mark_incomplete(g, "w", T0, None, 3, 30)["changed"] is False
    g.update("w", status="in-progress", retry_count=2)
    res = mark_incomplete(g, "w", T0, None, 3, 30)
    assert res["exhausted"] and g.records["w"]["status"] == "failed"
    with pytest.raises(WgError, match="is failed and cannot be marked as incomplete"):
        mark_incomplete(g, "w", T0, None, 3, 30)


def test_park_checks_before_touching() -> None:
    g = graph(task("v", "in-progress"))
    with pytest.raises(WgError, match="Cannot mix"):
        park(g, "v", "message,timer:5m|human-input", None, T0, lambda p: 0)
    with pytest.raises(WgError, match="does not exist"):
        park(g, "v", "task:ghost=done", None, T0, lambda p: 0)
    assert not g.touched
    rec = park(g, "v", "timer:5m", "cp", T0, lambda p: 0)
    assert rec["wait_condition"] == {
        "mode": "all",
        "conditions": [{"type": "timer", "resume_after": format_ts(T0 + 300 * NS)}],
    }
    # parked, the pass reopens it once the timer is due
    run_maintenance(g, T0 + 300 * NS, {}, {})
    assert g.records["v"]["status"] == "open"


# -- gc / archive selection ---------------------------------------------------------------------


def test_select_gc_and_strip() -> None:
    g = graph(
        task("f", "failed", before=["g"]),
        task("g", "done", after=["f"], requires=["f"]),
        task("h", "failed", before=["i"]),
        task("i", "open", after=["h"]),
        task(".assign-g", "done"),
        task(".evaluate-i", "done"),  # its parent is still open: kept
    )
    ids = select_gc(g, False, None, T0)
    assert ids == [".assign-g", "f"]
    remove_tasks(g, ids)
    assert "after" not in g.records["g"] and "requires" not in g.records["g"]
    assert set(g.ids()) == {"g", "h", "i", ".evaluate-i"}


def test_select_archive_older_and_parse() -> None:
    assert parse_older("2w") == 14 * 86400
    assert parse_older("3") == 3 * 86400
    with pytest.raises(WgError):
        parse_older("x")
    g = graph(
        task("old", "done", completed_at=format_ts(T0 - 10 * 86400 * NS)),
        task("new", "done", completed_at=format_ts(T0 - 86400 * NS)),
        task(".coordinator-1", "done"),
    )
    assert [t["id"] for t in select_archive(g, [], 7 * 86400, T0)] == ["old"]
    assert [t["id"] for t in select_archive(g, [], None, T0)] == ["old", "new"]
