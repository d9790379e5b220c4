"""Worktree isolation through a real daemon (spec worktrees.md 3-7, service.md 5.3-5.4): a fake ``claude``
works and commits in its worktree, and its work lands on ``main`` as one ``feat:`` commit while ``main``'s own
later edits survive; the worktree is removed after the agent exits."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon_helpers import kill_service, started_pid, wait_for
from tests.worktree.conftest import Repo, commit_all, git, write

# By task id prefix: land-* commits then runs `wg done`; quiet-* commits and exits 0 without `wg done`;
# clash-* edits README.md's first line, commits and exits 0; retry-* commits and exits 1 on its first attempt,
# then commits again and runs `wg done` on the next; dirty-* leaves a staged, uncommitted file. Each waits for "$FAKE_RECORD/go" first, so the
# test can move main after the worktree was made.
FAKE_CLAUDE = """#!/bin/bash
rec="$FAKE_RECORD/$WG_TASK_ID"
printf '%s\\n' "$@" > "$rec.argv"
cat > "$rec.stdin"
pwd > "$rec.cwd"
git rev-parse --abbrev-ref HEAD > "$rec.branch"
env > "$rec.env.tmp" && mv "$rec.env.tmp" "$rec.env"  # whole or absent: the test polls for it
for _ in $(seq 200); do [ -e "$FAKE_RECORD/go" ] && break; sleep 0.05; done
case "$WG_TASK_ID" in
  clash-*) printf 'agent title\\n' > README.md ;;
  *) mkdir -p src && printf 'print("from %s")\\n' "$WG_TASK_ID" > "src/$WG_TASK_ID.py" ;;
esac
case "$WG_TASK_ID" in retry-*) printf '# %s\\n' "$WG_AGENT_ID" >> "src/$WG_TASK_ID.py" ;; esac
git add -A
case "$WG_TASK_ID" in dirty-*) exit 0 ;; esac
git commit -q -m "agent work on $WG_TASK_ID" || exit 3
case "$WG_TASK_ID" in
  land-*) wg done "$WG_TASK_ID" > "$rec.done" 2>&1 ;;
  retry-*)
    if [ ! -e "$rec.first" ]; then touch "$rec.first"; exit 1; fi
    wg done "$WG_TASK_ID" > "$rec.done" 2>&1 ;;
esac
exit 0
"""


@pytest.fixture
def svc(repo: Repo) -> Iterator[Repo]:
    """The worktree harness; its daemon and agents are always killed at the end, even on failure."""
    yield repo
    kill_service(repo.p.wg)


def start(r: Repo) -> Path:
    bin_dir = r.root.parent / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    record = r.root.parent / "record"
    record.mkdir(exist_ok=True)
    (bin_dir / "claude").write_text(FAKE_CLAUDE)
    (bin_dir / "claude").chmod(0o755)
    path = f"{bin_dir}:{os.path.dirname(sys.executable)}:/usr/bin:/bin"
    started_pid(r.p, env={"PATH": path, "FAKE_RECORD": str(record)})
    return record


def agent_of(r: Repo, task_id: str) -> tuple[str, dict[str, object]]:
    reg = json.loads((r.p.wg / "service" / "registry.json").read_text())["agents"]
    found = [(a, e) for a, e in reg.items() if e.get("task_id") == task_id]
    assert found, reg
    return found[-1]


def test_isolated_agent_lands_on_main_and_worktree_is_removed(svc: Repo) -> None:
    record = start(svc)
    old = svc.main()
    svc.p.ok("add", "Land it", "--id", "land-a", "--no-place")
    wait_for(lambda: (record / "land-a.env").exists(), 15, "agent started")
    agent, entry = agent_of(svc, "land-a")
    wt = svc.root / ".wg-worktrees" / agent
    assert (record / "land-a.cwd").read_text().strip() == str(wt)
    assert (record / "land-a.branch").read_text().strip() == f"wg/{agent}/land-a"
    assert entry["worktree_path"] == str(wt)
    assert os.path.realpath(wt / ".wg") == os.path.realpath(svc.p.wg)
    env = dict(line.split("=", 1) for line in (record / "land-a.env").read_text().splitlines() if "=" in line)
    assert env["WG_WORKTREE_PATH"] == str(wt) and env["WG_BRANCH"] == f"wg/{agent}/land-a"
    assert env["WG_TARGET_BRANCH"] == "main" and env["WG_WORKTREE_ACTIVE"] == "1"
    meta = json.loads((svc.p.wg / "agents" / agent / "metadata.json").read_text())
    assert meta["base_commit"] == old and meta["worktree_branch"] == f"wg/{agent}/land-a"
    prompt = (record / "land-a.stdin").read_text()
    assert "## CRITICAL: Worktree Isolation" in prompt and f"`{wt}`" in prompt
    assert "git log --oneline main..HEAD" in prompt and "git merge main" in prompt
    assert prompt.index("## CRITICAL: Worktree Isolation") < prompt.index("Begin working on the task now.")
    assert "Agent,EnterWorktree,ExitWorktree" in (record / "land-a.argv").read_text()
    assert git(svc.root, "status", "--porcelain") == ""

    # main moves after the worktree was made, and the user has an uncommitted edit of another file
    write(svc.root, "README.md", "# Project\n\nmain's own edit\n")
    mine = commit_all(svc.root, "main edits README")
    write(svc.root, "CLAUDE.md", "# Claude\n\nuser's uncommitted edit\n")
    (record / "go").touch()

    wait_for(lambda: svc.status("land-a") == "done", 20, "task done")
    # the agent's own `wg done` (its output is written after its transaction, so the status can come first)
    done_out = record / "land-a.done"
    wait_for(lambda: "Marked 'land-a' as done" in done_out.read_text(), 10, "wg done output")
    new = svc.main()
    assert git(svc.root, "log", "-1", "--format=%s%n%n%b", "main").strip() == (
        f"feat: land-a ({agent})\n\nSquash-merged from worktree branch wg/{agent}/land-a"
    )
    assert git(svc.root, "rev-parse", f"{new}^") == mine
    assert git(svc.root, "diff", "--name-only", mine, new) == "src/land-a.py"
    assert svc.file("src/land-a.py") == 'print("from land-a")'
    assert svc.file("README.md") == "# Project\n\nmain's own edit"
    assert (svc.root / "src" / "land-a.py").exists()  # the main checkout was fast-forwarded
    assert (svc.root / "CLAUDE.md").read_text() == "# Claude\n\nuser's uncommitted edit\n"
    assert any("Squash-merged" in m for m in svc.log("land-a"))
    # after the agent exits its landed, clean worktree and branch are removed
    wait_for(
        lambda: not wt.exists() and not git(svc.root, "branch", "--list", f"wg/{agent}/land-a"),
        15,
        "worktree and branch removed",
    )
    assert agent not in git(svc.root, "worktree", "list")


def test_daemon_lands_when_agent_exits_without_wg_done(svc: Repo) -> None:
    record = start(svc)
    (record / "go").touch()
    svc.p.ok("add", "Quiet", "--id", "quiet-b", "--no-place")
    wait_for(lambda: svc.status("quiet-b") == "done", 20, "task done")
    agent, _ = agent_of(svc, "quiet-b")
    assert git(svc.root, "log", "-1", "--format=%s", "main") == f"feat: quiet-b ({agent})"
    assert svc.file("src/quiet-b.py") == 'print("from quiet-b")'
    wait_for(lambda: agent_of(svc, "quiet-b")[1]["status"] == "done", 10, "registry entry done")
    assert not (record / "quiet-b.done").exists()
    assert any(m.startswith("[merge] Squash-merged") for m in svc.log("quiet-b"))
    wait_for(lambda: not (svc.root / ".wg-worktrees" / agent).exists(), 15, "worktree removed")


def test_conflict_after_exit_fails_task_and_keeps_worktree(svc: Repo) -> None:
    record = start(svc)
    svc.p.ok("add", "Clash", "--id", "clash-c", "--no-place")
    wait_for(lambda: (record / "clash-c.env").exists(), 15, "agent started")
    write(svc.root, "README.md", "main title\n")
    mine = commit_all(svc.root, "main edits README")
    (record / "go").touch()
    wait_for(lambda: svc.status("clash-c") == "failed", 20, "task failed")
    task = svc.p.task("clash-c")
    assert task["failure_class"] == "land-conflict"
    assert task["failure_reason"] == "Landing conflict with main: README.md"
    assert svc.main() == mine
    agent, _ = agent_of(svc, "clash-c")
    assert (svc.root / ".wg-worktrees" / agent).is_dir()  # unlanded work is kept
    assert any(m.startswith("Landing conflict with main") for m in svc.log("clash-c"))


def test_retry_resumes_in_the_same_worktree(svc: Repo) -> None:
    record = start(svc)
    (record / "go").touch()
    svc.p.ok("add", "Retry", "--id", "retry-d", "--no-place")
    wait_for(lambda: svc.status("retry-d") == "failed", 20, "first attempt failed")
    first, _ = agent_of(svc, "retry-d")
    wt = svc.root / ".wg-worktrees" / first
    assert wt.is_dir()  # unlanded work of a failed attempt is kept
    svc.p.ok("retry", "retry-d")
    wait_for(lambda: svc.status("retry-d") == "done", 20, "second attempt done")
    second, entry = agent_of(svc, "retry-d")
    assert second != first and entry["worktree_path"] == str(wt)
    assert (record / "retry-d.cwd").read_text().strip() == str(wt)
    assert (record / "retry-d.branch").read_text().strip() == f"wg/{first}/retry-d"
    daemon_log = (svc.p.wg / "service" / "daemon.log").read_text()
    assert (
        f"[spawn] Reusing prior worktree for task 'retry-d' at {wt} (branch: wg/{first}/retry-d)"
        in daemon_log
    )
    assert git(svc.root, "log", "-1", "--format=%s", "main") == f"feat: retry-d ({second})"
    assert git(svc.root, "diff", "--name-only", "main^", "main") == "src/retry-d.py"
    assert svc.file("src/retry-d.py") == f'print("from retry-d")\n# {second}'
    assert "git log --oneline main..HEAD" in (record / "retry-d.stdin").read_text()


def test_uncommitted_work_is_refused_as_a_death(svc: Repo) -> None:
    """Exit 0 with a staged, uncommitted file: nothing lands, the refusal is logged and handled as a death."""
    record = start(svc)
    (record / "go").touch()
    old = svc.main()
    svc.p.ok("add", "Dirty", "--id", "dirty-e", "--max-retries", "0", "--no-place")
    wait_for(lambda: svc.status("dirty-e") == "failed", 20, "task failed")
    wait_for(lambda: agent_of(svc, "dirty-e")[1]["status"] == "failed", 10, "registry entry failed")
    agent, _ = agent_of(svc, "dirty-e")
    wt = svc.root / ".wg-worktrees" / agent
    log = svc.log("dirty-e")
    assert f"wg done refused: uncommitted changes in {wt}: src/dirty-e.py" in log, log
    task = svc.p.task("dirty-e")
    assert task["failure_class"] == "agent-died", task
    assert str(task["failure_reason"]).startswith("Retry limit reached (max_retries=0)")
    assert svc.main() == old
    assert wt.is_dir() and git(wt, "status", "--porcelain") == "A  src/dirty-e.py"
