"""``wg assign`` and ``wg evaluate`` with a fake claude (agency.md 3.6-3.7, 4, 6.8-6.20)."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

from tests.agency.conftest import (
    CAREFUL,
    CODE_WRITING,
    DEFAULT_AGENT,
    PROGRAMMER,
    WORKING_CODE,
    AgencyProject,
)
from tests.conftest import WG_BIN

NOISY = (
    'Here: ```json {"score":0.8,"dimensions":{"correctness":0.9,"completeness":0.8,"efficiency":0.7,'
    '"style_adherence":0.6},"notes":"ok"} ``` bye'
)


def _done_assigned(p: AgencyProject, tid: str = "t1", *tags: str) -> None:
    extra = [x for t in tags for x in ("--tag", t)]
    p.ok("add", f"Task {tid}", "--id", tid, "--no-place", *extra)
    p.ok("assign", tid, "02e8")
    p.ok("done", tid)


def test_assign(agency: AgencyProject) -> None:
    agency.ok("add", "T one", "--id", "t1", "--no-place")
    r = agency.ok("assign", "t1", "02e8")
    assert r.out.splitlines() == [
        "Assigned agent to task 't1':",
        "  Agent:      Careful Programmer (02e87968)",
        "  Role:       Programmer (b819a338)",
        "  Tradeoff:   Careful (52fb1932)",
    ]
    assert agency.task("t1")["agent"] == DEFAULT_AGENT
    record = agency.yaml("assignments", "t1")
    assert record["agent_id"] == DEFAULT_AGENT and record["composition_id"] == DEFAULT_AGENT
    assert record["mode"]["type"] == "learning"  # type: ignore[index]
    assert agency.ok("assign", "t1", "--clear").out.strip() == "Cleared agent from task 't1'"
    assert "agent" not in agency.task("t1")
    assert agency.ok("assign", "t1", "--clear").out.strip() == "Task 't1' had no agent assigned (no change)"
    agency.fails("assign", "t1", code=2)
    r = agency.fails("assign", "t1", "02e8", "--auto", code=2)
    assert "cannot be used with --auto" in r.err
    assert "Task 'nope' not found" in agency.fails("assign", "nope", "02e8").err
    r = agency.fails("assign", "t1", "ffff")
    assert "No agent matching 'ffff'. Available agents: 02e87968" in r.err


def test_auto_pick(agency: AgencyProject) -> None:
    agency.ok("agent", "create", "B", "--role", "b819", "--tradeoff", "5d07")  # e3a19d14 (A is 02e87968)
    agency.ok("agent", "create", "Erik", "--executor", "matrix")
    agency.ok("add", "T one", "--id", "t1", "--no-place")
    r = agency.ok("assign", "t1", "--auto")
    assert "[assign] Auto-selecting agent: 02e87968 for task 't1'" in r.err  # no scores: the smaller id
    agency.ok("add", "Other", "--id", "o", "--no-place")
    agency.ok("assign", "o", "e3a1")
    agency.ok("evaluate", "record", "--task", "o", "--score", "0.9", "--source", "manual")
    r = agency.ok("assign", "t1", "--auto")
    assert "Auto-selecting agent: e3a19d14" in r.err
    assert agency.task("t1")["agent"].startswith("e3a19d14")  # type: ignore[union-attr]
    log = agency.task("t1")["log"]
    assert log[-1]["message"] == "Agent assigned (auto): B (e3a19d14)"  # type: ignore[index]


def test_evaluate_noisy_reply_and_roll_up(agency: AgencyProject) -> None:
    _done_assigned(agency)
    r = agency.ok("evaluate", "run", "t1", env={"FAKE_EVAL": NOISY})
    assert r.out.splitlines()[0] == "Evaluating task 't1' with model 'claude:haiku'..."
    assert "Score:      0.80" in r.out
    evs = agency.evaluations()
    assert len(evs) == 1
    ev = evs[0]
    assert str(ev["id"]).startswith("eval-t1-") and ev["source"] == "llm" and ev["score"] == 0.8
    assert ev["tradeoff_id"] == CAREFUL and ev["evaluator"] == "claude:haiku"
    assert set(ev["dimensions"]) == {"correctness", "completeness", "efficiency", "style_adherence"}  # type: ignore[arg-type]
    argv = agency.calls()[0]["argv"]
    assert argv[:4] == ["--model", "haiku", "--print", "--output-format"] and "json" in argv  # type: ignore[index]
    # roll-up
    perf = lambda folder, eid: agency.yaml(folder, eid)["performance"]  # noqa: E731
    assert perf("cache/agents", DEFAULT_AGENT)["task_count"] == 1
    assert perf("cache/agents", DEFAULT_AGENT)["avg_score"] == 0.8
    role = perf("cache/roles", PROGRAMMER)
    assert role["task_count"] == 1 and role["evaluations"][0]["context_id"] == CAREFUL
    tradeoff = perf("primitives/tradeoffs", CAREFUL)
    assert tradeoff["avg_score"] == 0.8 and tradeoff["evaluations"][0]["context_id"] == PROGRAMMER
    assert perf("primitives/components", CODE_WRITING)["task_count"] == 1
    outcome = perf("primitives/outcomes", WORKING_CODE)
    assert outcome["task_count"] == 1 and outcome["evaluations"][0]["context_id"] == DEFAULT_AGENT
    agency.ok("evaluate", "record", "--task", "t1", "--score", "0.9", "--source", "manual",
              "--dim", "correctness=0.95")  # fmt: skip
    agent_perf = perf("cache/agents", DEFAULT_AGENT)
    assert agent_perf["task_count"] == 2 and agent_perf["avg_score"] == pytest.approx(0.85, abs=1e-9)
    overview = agency.ok("agency", "stats", "--json").json()["overview"]  # type: ignore[index]
    assert overview["total_evaluations"] == 2 and overview["avg_score"] == pytest.approx(0.85, abs=1e-9)
    # wg show
    show = agency.ok("show", "t1").out.splitlines()
    assert "Evaluations:" in show
    assert any(line.startswith("  [iter 0] Score: 0.80  Source: llm  ") for line in show)
    assert agency.ok("show", "t1", "--json").json()["evaluations"][1]["source"] == "manual"  # type: ignore[index]
    assert not agency.tmp_files()


def test_status_and_malformed_reply(agency: AgencyProject) -> None:
    agency.ok("add", "Open", "--id", "t2", "--no-place")
    r = agency.fails("evaluate", "run", "t2", env={"FAKE_EVAL": NOISY})
    assert ("Task 't2' has status open — must be done, failed, pending-eval or failed-pending-eval to "
            "evaluate") in r.err  # fmt: skip
    assert agency.calls() == []
    _done_assigned(agency)
    before = agency.agent()
    r = agency.fails("evaluate", "run", "t1", env={"FAKE_EVAL": "not json"})
    assert len(agency.calls()) == 3
    assert "retrying (1/3)" in r.err and "retrying (2/3)" in r.err
    assert "Failed to extract valid JSON from evaluator output after 3 attempts" in r.err
    assert agency.evaluations() == [] and agency.agent() == before


def test_garbage_and_crash_are_logged_on_the_evaluation_task(agency: AgencyProject) -> None:
    agency.ok("config", "set", "agency.auto_evaluate", "true")
    agency.ok("add", "G", "--id", "g", "--no-place")
    agency.ok("add", "Evaluate: G", "--id", ".evaluate-g", "--after", "g", "--no-place")
    agency.ok("done", "g")
    r = agency.fails("evaluate", "run", "g", env={"FAKE_MODE": "garbage"})
    assert "Traceback" not in r.err
    log = agency.task(".evaluate-g").get("log") or []
    assert any("Evaluation failed: Failed to extract valid JSON" in e["message"] for e in log)  # type: ignore[union-attr,index]
    r = agency.fails("evaluate", "run", "g", env={"FAKE_MODE": "crash"})
    assert "Claude CLI call failed (exit 3): boom" in r.err
    assert len(agency.calls()) == 4  # a failing CLI is not retried
    assert agency.evaluations() == []


def test_computed_and_clamped(agency: AgencyProject) -> None:
    _done_assigned(agency)
    dims = '{"dimensions":{"correctness":1.0,"completeness":0.5,"efficiency":0.0,"style_adherence":1.0}}'
    agency.ok("evaluate", "run", "t1", env={"FAKE_EVAL": dims})
    ev = agency.evaluations()[0]
    assert ev["score"] == 0.7 and ev["notes"] == ""
    r = agency.ok("evaluate", "run", "t1", env={"FAKE_EVAL": '{"score":1.7}'})
    assert "Warning: evaluator returned score 1.7, clamped to 1.0" in r.err
    assert sorted(e["score"] for e in agency.evaluations()) == [0.7, 1.0]  # type: ignore[type-var]


def test_dry_run_with_diff(agency: AgencyProject) -> None:
    p = agency
    p.ok("add", "D", "--id", "d", "--no-place")
    p.ok("assign", "d", "02e8")
    p.ok("claim", "d")
    time.sleep(1.1)  # git dates have whole seconds: the commit must come after started_at
    (p.root / "a.txt").write_text("hello\n")
    git = ["git", "-C", str(p.root), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], check=True)
    p.ok("artifact", "d", "a.txt")
    p.ok("done", "d")
    r = p.ok("evaluate", "run", "d", "--dry-run")
    assert r.out.startswith("=== Dry Run: wg evaluate d ===\n")
    heads = ["## Task Definition", "## Agent Identity", "## Task Artifacts", "## Artifact Diff", "## Task Log",
             "## Evaluation Criteria", "## Required Output"]  # fmt: skip
    positions = [r.out.index(h) for h in heads]
    assert positions == sorted(positions)
    diff = r.out[r.out.index("## Artifact Diff") : r.out.index("## Task Log")]
    assert "+hello" in diff
    assert f"Agent: {DEFAULT_AGENT}" in r.out
    assert p.calls() == [] and p.evaluations() == []


def test_record_errors_and_note(agency: AgencyProject) -> None:
    agency.ok("add", "Plain", "--id", "p", "--no-place")
    r = agency.fails("evaluate", "record", "--task", "p", "--score", "1.5", "--source", "manual")
    assert "Score must be in [0.0, 1.0] range, got 1.5" in r.err
    agency.fails("evaluate", "record", "--task", "p", "--score", "-0.1", "--source", "manual")
    r = agency.fails("evaluate", "record", "--task", "p", "--score", "0.5", "--source", "m", "--dim", "bad")
    assert "Invalid dimension format 'bad'. Expected key=value (e.g. correctness=0.8)" in r.err
    r = agency.fails("evaluate", "record", "--task", "p", "--score", "0.5", "--source", "m", "--dim", "c=x")
    assert "Invalid dimension score 'x' in 'c=x'" in r.err
    assert "Task 'nope' not found" in agency.fails("evaluate", "record", "--task", "nope", "--score", "0.5",
                                                   "--source", "m").err  # fmt: skip
    agency.fails("evaluate", "record", "--task", "p", "--score", "abc", "--source", "m", code=2)
    assert agency.evaluations() == []
    r = agency.ok("evaluate", "record", "--task", "p", "--score", "0.5", "--source", "manual")
    assert r.out.splitlines()[-1].startswith("  Note:   No agent identity — ")
    assert len(agency.evaluations()) == 1


def test_show_filters(agency: AgencyProject) -> None:
    _done_assigned(agency)
    agency.ok("evaluate", "run", "t1", env={"FAKE_EVAL": '{"score":0.8}'})
    agency.ok("evaluate", "record", "--task", "t1", "--score", "0.9", "--source", "manual")
    manual = agency.ok("evaluate", "show", "--source", "man*", "--json").json()
    assert isinstance(manual, list) and [e["source"] for e in manual] == ["manual"]
    newest = agency.ok("evaluate", "show", "--limit", "1", "--json").json()
    assert isinstance(newest, list) and len(newest) == 1 and newest[0]["score"] == 0.9
    text = agency.ok("evaluate", "list").out.splitlines()
    assert text[1] == "─" * 75 and text[-1] == "2 evaluation(s)"
    per_task = agency.ok("evaluate", "show", "t1").out.splitlines()
    assert per_task[0] == "=== Evaluations for task 't1' ===" and "Evaluations (2):" in per_task


def test_gate_rejects_low_score(agency: AgencyProject) -> None:
    _done_assigned(agency, "t3", "eval-gate")
    r = agency.ok("evaluate", "run", "t3", env={"FAKE_EVAL": '{"score":0.5,"notes":"meh"}'})
    assert "  REJECTED: task 't3' failed by evaluation gate" in r.out.splitlines()
    task = agency.task("t3")
    assert task["status"] == "failed"
    assert task["failure_reason"] == "evaluation rejected: score 0.50 below threshold 0.70 (meh)"
    _done_assigned(agency, "t4", "eval-gate")
    r = agency.ok("evaluate", "run", "t4", env={"FAKE_EVAL": '{"score":0.9}'})
    assert "REJECTED" not in r.out and agency.task("t4")["status"] == "done"
    agency.ok("evaluate", "record", "--task", "t4", "--score", "0.1", "--source", "manual")
    assert agency.task("t4")["status"] == "done"  # record never gates


def test_concurrent_records_lose_no_update(agency: AgencyProject) -> None:
    _done_assigned(agency)
    procs = [
        subprocess.Popen([WG_BIN, "evaluate", "record", "--task", "t1", "--score", "0.5", "--source", "manual"],
                         cwd=agency.root, env=agency.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(8)
    ]  # fmt: skip
    for p in procs:
        assert p.wait(timeout=60) == 0
    assert len(agency.evaluations()) == 8
    assert agency.agent()["performance"]["task_count"] == 8  # type: ignore[index]
    assert not agency.tmp_files()


def test_flip_is_skipped(agency: AgencyProject) -> None:
    _done_assigned(agency)
    r = agency.ok("evaluate", "run", "t1", "--flip")
    assert "FLIP is not supported yet; skipping" in r.err and agency.calls() == []
    json.dumps(r.out)


def test_run_json_without_identity(agency: AgencyProject) -> None:
    agency.ok("add", "N", "--id", "n", "--no-place")
    agency.ok("done", "n")
    r = agency.ok("evaluate", "run", "n", "--json", env={"FAKE_EVAL": '{"score":0.6,"notes":"fine"}'})
    obj = r.json()
    assert isinstance(obj, dict)
    assert obj["task_id"] == "n" and obj["score"] == 0.6 and obj["evaluator"] == "claude:haiku"
    assert obj["warning"].startswith("no identity assigned")
    assert "Evaluating task 'n'" in r.err and "Note: task has no assigned agent" in r.err
    ev = agency.evaluations()[0]
    assert ev["role_id"] == "" and ev["tradeoff_id"] == "" and "agent_id" not in ev
