"""Agency through a real daemon (spec service 5.2 step 6, 9.3, 9.4; agency.md 5): ``.assign-*`` created, run
inline and setting the task's agent, the identity section in the prompt, ``.evaluate-*`` after the task, and the
fake evaluator's verdict recorded and settling ``pending-eval``."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from tests.conftest import Project
from tests.daemon_helpers import started_pid, svc, wait_for

__all__ = ["svc"]  # the fixture: daemon and agents killed at the end, even on failure

# A task agent logs and finishes; the evaluator (called by `wg evaluate run` in `.evaluate-*`) answers JSON.
FAKE_CLAUDE = """#!/bin/bash
rec="$FAKE_RECORD/$WG_TASK_ID"
printf '%s\\n' "$@" > "$rec.argv"
cat > "$rec.stdin"
case "$WG_TASK_ID" in
  .evaluate-*)
    printf '%s\\n' '{"type":"result","result":"{\\"score\\": 0.85, \\"notes\\": \\"fine work\\"}"}' ;;
  *) wg log "$WG_TASK_ID" "working" && wg done "$WG_TASK_ID" ;;
esac
"""


def fake_env(p: Project) -> dict[str, str]:
    bin_dir = p.root.parent / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    record = p.root.parent / "record"
    record.mkdir(exist_ok=True)
    (bin_dir / "claude").write_text(FAKE_CLAUDE)
    (bin_dir / "claude").chmod(0o755)
    path = f"{bin_dir}:{os.path.dirname(sys.executable)}:/usr/bin:/bin"
    return {"PATH": path, "FAKE_RECORD": str(record)}


def set_agency(p: Project, **keys: object) -> None:
    """Replace the ``[agency]`` table of the project config."""
    cfg = p.wg / "config.toml"
    text = cfg.read_text()
    head = text.split("[agency]")[0].rstrip("\n")
    rest = text.split("[agency]", 1)[1] if "[agency]" in text else ""
    tail = rest[rest.find("\n[") :] if "\n[" in rest else ""
    lines = [f"{k} = {json.dumps(v)}" for k, v in keys.items()]
    cfg.write_text(head + "\n\n[agency]\n" + "\n".join(lines) + "\n" + tail)


def rows(p: Project) -> dict[str, dict[str, object]]:
    return {str(r["id"]): r for r in p.rows()}


def agent_dir_of(p: Project, task_id: str) -> Path:
    reg = json.loads((p.wg / "service" / "registry.json").read_text())["agents"]
    ids = [a for a, e in reg.items() if e.get("task_id") == task_id]
    assert ids, f"no agent for {task_id}: {reg}"
    return p.wg / "agents" / ids[-1]


def test_auto_assign_creates_runs_assign_and_spawns_with_identity(svc: Project) -> None:
    env = fake_env(svc)
    svc.ok("agency", "init")
    set_agency(svc, auto_assign=True, auto_evaluate=False, auto_assign_grace_seconds=0)
    started_pid(svc, env=env)
    svc.ok("add", "Build it", "--id", "build", "-d", "Build the thing", "--no-place")
    wait_for(lambda: svc.task("build")["status"] == "done", 30, "build done")

    assign = svc.task(".assign-build")
    assert assign["status"] == "done"
    assert assign["exec"] == "wg assign build --auto" and assign["exec_mode"] == "bare"
    assert set(assign["tags"]) == {"assignment", "agency", "skip-eval"}  # type: ignore[arg-type]
    build = svc.task("build")
    assert ".assign-build" in build["after"]  # type: ignore[operator]
    agent = build["agent"]
    assert isinstance(agent, str) and len(agent) == 64
    log = [str(e["message"]) for e in build["log"]]  # type: ignore[union-attr]
    assert any(m.startswith("Agent assigned (auto)") for m in log), log
    # The assignment ran inline as a shell agent before the task's own agent was spawned.
    assign_dir = agent_dir_of(svc, ".assign-build")
    assert (assign_dir / "prompt.txt").read_text().startswith("[inline shell task")
    prompt = (agent_dir_of(svc, "build") / "prompt.txt").read_text()
    head = (
        "# Task Assignment\n\nYou are an AI agent working on a task in a WG project.\n\n## Agent Identity\n"
    )
    assert prompt.startswith(head), prompt[:400]
    assert "### Role: Programmer" in prompt
    assert prompt.index("## Agent Identity") < prompt.index("## Your Task")
    assert (Path(env["FAKE_RECORD"]) / "build.stdin").read_text() == prompt
    # Exactly one assignment task, and no audit task besides it.
    assert [t for t in rows(svc) if t.startswith(".assign-")] == [".assign-build"]


def test_auto_assign_off_means_no_wait(svc: Project) -> None:
    """``wg init --no-agency`` (auto_assign false): the task runs at once, no ``.assign-*`` appears."""
    env = fake_env(svc)
    started_pid(svc, env=env)
    svc.ok("add", "Plain", "--id", "plain", "--no-place")
    wait_for(lambda: svc.task("plain")["status"] == "done", 20, "plain done")
    assert not [t for t in rows(svc) if t.startswith(".")]
    prompt = (agent_dir_of(svc, "plain") / "prompt.txt").read_text()
    assert "## Agent Identity" not in prompt


def test_grace_period_wakes_the_dispatcher(svc: Project) -> None:
    """A 2 s grace: no ``.assign-*`` at first, then one without any further graph change or poll."""
    env = fake_env(svc)
    svc.ok("agency", "init")
    set_agency(svc, auto_assign=True, auto_evaluate=False, auto_assign_grace_seconds=2)
    started_pid(svc, "--interval", "600", env=env)
    svc.ok("add", "Later", "--id", "later", "--no-place")
    time.sleep(1.0)
    assert ".assign-later" not in rows(svc)
    wait_for(lambda: svc.task("later")["status"] == "done", 20, "later done")
    assert svc.task(".assign-later")["status"] == "done"


def test_auto_evaluate_schedules_once_and_records_score(svc: Project) -> None:
    env = fake_env(svc)
    svc.ok("agency", "init")
    set_agency(svc, auto_assign=True, auto_evaluate=True, auto_assign_grace_seconds=0)
    started_pid(svc, env=env)
    svc.ok("add", "Write docs", "--id", "docs", "--no-place")
    wait_for(lambda: rows(svc).get(".evaluate-docs", {}).get("status") == "done", 40, "evaluation done")
    wait_for(lambda: svc.task("docs")["status"] == "done", 10, "docs settled")

    all_rows = rows(svc)
    assert [t for t in all_rows if t.startswith(".evaluate-")] == [".evaluate-docs"]
    assert not [t for t in all_rows if t.startswith(".flip-")]
    docs = svc.task("docs")
    assert "eval-scheduled" in docs["tags"]  # type: ignore[operator]
    ev = svc.task(".evaluate-docs")
    assert ev["after"] == ["docs"] and ev["exec"] == "wg evaluate run docs"
    assert set(ev["tags"]) == {"evaluation", "agency"}  # type: ignore[arg-type]
    # The task went through pending-eval: `wg done` with a live `.evaluate-docs`.
    log = [str(e["message"]) for e in docs["log"]]  # type: ignore[union-attr]
    assert not any("Evaluation ended without a score" in m for m in log), log
    # The fake evaluator was called by `wg evaluate run` and its verdict saved.
    argv = (Path(env["FAKE_RECORD"]) / ".evaluate-docs.argv").read_text().splitlines()
    assert argv[:2] == ["--model", "haiku"] and "json" in argv
    evals = [json.loads(p.read_text()) for p in (svc.wg / "agency" / "evaluations").glob("*.json")]
    assert [(e["task_id"], e["score"]) for e in evals] == [("docs", 0.85)]
    # The system tasks were never evaluated themselves, and nothing is scheduled twice on later ticks.
    svc.ok("service", "tick")
    assert [t for t in rows(svc) if t.startswith(".evaluate-")] == [".evaluate-docs"]
