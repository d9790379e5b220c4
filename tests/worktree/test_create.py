"""Worktree creation and retry in place: acceptance checks 1, 2, 13, 14 (the dispatcher's calls, made directly)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Project
from workgraph.errors import WgError
from workgraph.worktree.create import (
    create_worktree,
    isolation_target,
    prepare_worktree,
    wants_isolation,
)

from .conftest import Repo, git, write


def test_creation(repo: Repo) -> None:
    """Check 1."""
    tip = repo.main()
    agent = repo.spawn("t")
    w = repo.root / ".wg-worktrees" / "agent-1"
    assert agent.path == w
    assert git(w, "symbolic-ref", "HEAD") == "refs/heads/wg/agent-1/t"
    assert git(w, "rev-parse", "HEAD") == tip
    assert os.path.islink(w / ".wg") and os.readlink(w / ".wg") == str(repo.p.wg.resolve())
    env = agent.info.env(str(repo.root))
    assert env["WG_BRANCH"] == "wg/agent-1/t" and env["WG_WORKTREE_PATH"] == str(w)
    assert env["WG_TARGET_BRANCH"] == "main" and env["WG_WORKTREE_ACTIVE"] == "1"
    assert env["CARGO_TARGET_DIR"] == str(w / "target")
    assert git(repo.root, "status", "--porcelain") == ""
    assert git(w, "status", "--porcelain") == ""  # the .wg symlink is excluded
    meta = agent.metadata()
    assert meta["worktree_path"] == str(w) and meta["worktree_branch"] == "wg/agent-1/t"
    assert meta["target_branch"] == "main" and meta["base_commit"] == tip
    exclude = Path(git(repo.root, "rev-parse", "--git-common-dir"))
    text = (repo.root / exclude / "info" / "exclude").read_text().splitlines()
    assert {"/.wg", "/.wg-worktrees/", "/.wg-cleanup-pending"} <= set(text)
    # wg inside the worktree reaches the shared graph
    r = repo.p.run("show", "t", cwd=w)
    assert r.code == 0 and "Task t" in r.out


def test_fresh_base(repo: Repo) -> None:
    """Check 2: the base is the target's tip at spawn time, not whatever HEAD is."""
    repo.spawn("t1")
    write(repo.root, "c1.txt", "c1\n")
    git(repo.root, "add", "c1.txt")
    git(repo.root, "commit", "-qm", "c1")
    c1 = repo.main()
    git(repo.root, "checkout", "-q", "--detach", "HEAD~1")  # HEAD elsewhere: the base still comes from main
    a2 = repo.spawn("t2")
    assert a2.metadata()["base_commit"] == c1
    assert git(a2.path, "rev-parse", "HEAD") == c1


def test_existing_directory_refused(repo: Repo) -> None:
    (repo.root / ".wg-worktrees" / "agent-7").mkdir(parents=True)
    with pytest.raises(WgError) as exc:
        create_worktree(str(repo.root), str(repo.p.wg), "agent-7", "t", "main")
    w = repo.root / ".wg-worktrees" / "agent-7"
    assert exc.value.message == (
        f"Worktree already exists at {w}. Worktrees are not auto-removed. Archive it explicitly with: "
        "wg worktree archive agent-7 --remove"
    )


def test_no_git_and_no_commits(tmp_path: Path, project: Project) -> None:
    """Check 13 (the functions the dispatcher calls): one warning, no crash; ``wg done`` works."""
    plain = tmp_path / "plain"
    plain.mkdir()
    target, warning = isolation_target(str(plain), None)
    assert target is None
    assert warning == (
        f"Warning: worktree isolation is on but {plain} is not a git repository — agents share the project directory."
    )
    target, warning = isolation_target(str(project.root), None)  # git init, no commit yet
    assert target is None
    assert warning == (
        f"Warning: worktree isolation is on but {project.root} has no commits yet — agents share the project "
        "directory."
    )
    project.ok("add", "T", "--id", "t", "--no-place")
    project.ok("done", "t")


def test_detached_head_falls_back(repo: Repo) -> None:
    git(repo.root, "checkout", "-q", "--detach")
    assert isolation_target(str(repo.root), None) == ("main", None)
    git(repo.root, "branch", "-m", "main", "trunk")
    target, warning = isolation_target(str(repo.root), None)
    assert target is None and warning is not None and "no target branch could be determined" in warning
    assert isolation_target(str(repo.root), "trunk") == ("trunk", None)


def test_wants_isolation() -> None:
    assert wants_isolation("t", "claude", "full")
    assert not wants_isolation(".evaluate-t", "claude", "full")
    assert not wants_isolation("t", "claude", "light")
    assert not wants_isolation("t", "shell", "full")
    assert wants_isolation("t", "shell", "full", isolate_shell=True)
    assert not wants_isolation("t", "claude", "full", isolation_on=False)


def test_retry_in_place_and_fresh(repo: Repo) -> None:
    """Check 14: agent 1 commits and dies; agent 2 reuses the directory and branch; --fresh starts over."""
    a1 = repo.spawn("t")
    a1.edit("src/a.py", "attempt 1\n")
    a1.commit("attempt 1")
    write(repo.root, "other.txt", "main moved\n")
    git(repo.root, "add", "other.txt")
    git(repo.root, "commit", "-qm", "main moves")
    repo.register("agent-2", "t", str(repo.root / ".wg-worktrees" / "agent-2"), None)
    info = prepare_worktree(str(repo.root), str(repo.p.wg), "agent-2", "t", "main")
    assert info.reused and info.path == str(a1.path) and info.branch == "wg/agent-1/t"
    assert info.log == (
        f"[spawn] Reusing prior worktree for task 't' at {a1.path} (branch: wg/agent-1/t) — retry-in-place"
    )
    # the clean worktree was rebased onto main's tip and keeps attempt 1's commit
    assert git(a1.path, "merge-base", "HEAD", "main") == repo.main()
    assert (a1.path / "src/a.py").read_text() == "attempt 1\n"
    assert git(repo.root, "log", "--oneline", "main..wg/agent-1/t").endswith("attempt 1")
    old_branch = git(repo.root, "rev-parse", "wg/agent-1/t")
    fresh = prepare_worktree(str(repo.root), str(repo.p.wg), "agent-3", "t", "main", fresh=True)
    assert not fresh.reused and fresh.branch == "wg/agent-3/t" and fresh.base_commit == repo.main()
    assert git(repo.root, "rev-parse", "wg/agent-1/t") == old_branch


def test_retry_in_place_rebase_conflict_leaves_worktree(repo: Repo) -> None:
    a1 = repo.spawn("t")
    a1.edit("README.md", "branch version\n")
    head = a1.commit("attempt 1")
    write(repo.root, "README.md", "main version\n")
    git(repo.root, "commit", "-qam", "main edits README")
    info = prepare_worktree(str(repo.root), str(repo.p.wg), "agent-2", "t", "main")
    assert info.reused
    assert git(a1.path, "rev-parse", "HEAD") == head
    assert git(a1.path, "status", "--porcelain") == ""
    assert not (Path(git(a1.path, "rev-parse", "--git-dir")) / "rebase-merge").exists()


def test_live_worktree_not_reused(repo: Repo) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        a1 = repo.spawn("t", live_pid=sleeper.pid)
        info = prepare_worktree(str(repo.root), str(repo.p.wg), "agent-2", "t", "main")
        assert not info.reused and info.path != str(a1.path)
    finally:
        sleeper.kill()
        sleeper.wait()
