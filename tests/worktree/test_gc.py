"""Cleanup, ``wg worktree list|archive|gc``: acceptance check 11 and spec 7-8."""

from __future__ import annotations

import json
import subprocess

from workgraph.worktree.gc import remove_if_removable, sweep

from .conftest import Repo, commit_all, git, write


def test_landed_worktree_removed_after_exit(repo: Repo) -> None:
    """Check 11 (first part, the daemon's call): landed + agent gone → worktree and branch removed."""
    agent = repo.spawn("t")
    agent.edit("src/a.py", "landed\n")
    agent.commit()
    assert agent.done().code == 0
    assert remove_if_removable(str(repo.p.wg), str(repo.root), str(agent.path))
    assert not agent.path.exists()
    assert git(repo.root, "branch", "--list", "wg/agent-1/t") == ""
    assert repo.file("src/a.py") == "landed"


def test_live_or_dirty_worktree_never_removed(repo: Repo) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        live = repo.spawn("t1", live_pid=sleeper.pid)
        assert not remove_if_removable(str(repo.p.wg), str(repo.root), str(live.path))
    finally:
        sleeper.kill()
        sleeper.wait()
    dirty = repo.spawn("t2")
    dirty.edit("scratch.txt", "x\n")  # untracked files count
    assert sweep(str(repo.p.wg), str(repo.root)) == [str(live.path)]  # live one is dead now, nothing else
    assert dirty.path.exists()


def test_gc_squash_landed_by_hand_and_unlanded_kept(repo: Repo) -> None:
    """Check 11: a hand-made squash landing is recognized; 2 unlanded commits keep their branch."""
    landed = repo.spawn("t1")
    landed.edit("feature.txt", "feature\n")
    landed.commit("one")
    landed.edit("feature.txt", "feature v2\n")
    landed.commit("two")
    git(repo.root, "merge", "-q", "--squash", "wg/agent-1/t1")  # a person squash-lands it by hand
    git(repo.root, "commit", "-qm", "squash by hand")
    repo.p.ok("done", "t1", "--ignore-unmerged-worktree")  # already landed: nothing to merge
    abandoned = repo.spawn("t2")
    abandoned.edit("wip.txt", "1\n")
    abandoned.commit("wip 1")
    abandoned.edit("wip.txt", "2\n")
    tip = abandoned.commit("wip 2")
    repo.p.ok("abandon", "t2")
    r = repo.p.ok("worktree", "gc")
    assert "remove  agent-1  t1  landed" in r.out
    assert "keep-branch  agent-2  t2  2 unlanded commit(s) on wg/agent-2/t2" in r.out
    assert r.out.rstrip().endswith("Re-run with --execute to actually archive and remove.")
    assert landed.path.exists() and abandoned.path.exists()  # dry run
    r = repo.p.ok("worktree", "gc", "--execute")
    assert not landed.path.exists() and not abandoned.path.exists()
    assert git(repo.root, "branch", "--list", "wg/agent-1/t1") == ""
    assert f"Kept unlanded commits of {abandoned.path} on branch wg/agent-2/t2 (2 commit(s))" in r.out
    assert git(repo.root, "rev-parse", "wg/agent-2/t2") == tip


def test_gc_uncommitted_and_force(repo: Repo) -> None:
    agent = repo.spawn("t")
    agent.edit("src/a.py", "uncommitted\n")
    repo.p.ok("abandon", "t")
    r = repo.p.ok("worktree", "gc", "--execute")
    assert "uncommitted  agent-1  t  1 uncommitted file(s)" in r.out
    assert agent.path.exists()
    r = repo.p.ok("worktree", "gc", "--execute", "--force")
    assert not agent.path.exists()
    assert git(repo.root, "log", "-1", "--format=%s", "wg/agent-1/t") == "archive: agent-1 work snapshot"
    assert git(repo.root, "show", "wg/agent-1/t:src/a.py") == "uncommitted"


def test_gc_skips_in_progress_and_callers_own(repo: Repo) -> None:
    agent = repo.spawn("t")  # claimed: in-progress
    agent.edit("x.txt", "x\n")
    agent.commit()
    r = repo.p.ok("worktree", "gc", "--execute")
    assert "skip  agent-1  t  task is in-progress" in r.out
    assert agent.path.exists()


def test_worktree_list(repo: Repo) -> None:
    repo.p.ok("worktree", "list")
    assert repo.p.ok("worktree", "list").out.strip() == "No agent worktrees."
    a1 = repo.spawn("t1")
    a1.edit("one.txt", "1\n")
    a1.commit()
    a2 = repo.spawn("t2")
    a2.edit("two.txt", "2\n")
    a2.commit()
    assert a2.done().code == 0
    a3 = repo.spawn("t3")
    a3.edit("src/a.py", "dirty\n")
    r = repo.p.ok("worktree", "list")
    lines = r.out.splitlines()
    assert lines[0] == "Agent worktrees (3):"
    assert lines[1].startswith("  agent-1 — ") and lines[1].endswith(" [unlanded: 1 commit(s)]")
    assert lines[2].endswith(" [landed]") and lines[3].endswith(" [dirty]")
    data = json.loads(repo.p.ok("worktree", "list", "--json").out)
    assert [d["state"] for d in data] == ["unlanded", "landed", "dirty"]
    assert (
        data[0]["branch"] == "wg/agent-1/t1" and data[0]["task_id"] == "t1" and data[0]["commits_ahead"] == 1
    )
    assert set(data[0]) == {
        "agent",
        "path",
        "branch",
        "task_id",
        "size_bytes",
        "modified",
        "state",
        "commits_ahead",
    }


def test_archive_remove_keeps_branch(repo: Repo) -> None:
    agent = repo.spawn("t")
    agent.edit("wip.txt", "wip\n")
    commit_all(agent.path, "wip")
    write(agent.path, "more.txt", "more\n")
    r = repo.p.ok("worktree", "archive", "agent-1", "--remove")
    assert not agent.path.exists()
    assert git(repo.root, "log", "-1", "--format=%s", "wg/agent-1/t") == "archive: agent-1 work snapshot"
    assert git(repo.root, "rev-list", "--count", "main..wg/agent-1/t") == "2"
    assert "Kept unlanded commits" in r.out
