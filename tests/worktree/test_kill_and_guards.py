"""Check 12 (SIGKILL mid-land, 20 runs) and the guards of spec 6.1 step 4 called directly."""

from __future__ import annotations

import fcntl
import os
import random
import signal
import subprocess
import time

import pytest

from tests.conftest import WG_BIN
from workgraph.worktree import git as wgit
from workgraph.worktree.land import LandRefused, MergeLock, _guards, land_branch

from .conftest import Repo, git, write


def _wait_for_lock(repo: Repo) -> None:
    """The landing lock is inherited by the lander's git children: holding it means they all finished."""
    fd = os.open(repo.root / ".wg-worktrees" / ".merge-lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    finally:
        os.close(fd)


def test_sigkill_mid_land_20_runs(repo: Repo) -> None:
    env = dict(repo.p.env)
    rng = random.Random(12)
    # measure one landing to spread the kill moments over its whole duration
    probe = repo.spawn("probe")
    probe.edit("probe.txt", "p\n")
    probe.commit()
    repo.register(probe.id, "probe", str(probe.path), None)
    start = time.monotonic()
    subprocess.run([WG_BIN, "land", "probe"], cwd=repo.root, env=env, check=True, capture_output=True)
    duration = time.monotonic() - start
    outcomes = {"old": 0, "new": 0}
    for i in range(20):
        tid = f"k{i}"
        agent = repo.spawn(tid)
        agent.edit(f"k/{i}.txt", f"{i}\n")
        agent.commit()
        old = repo.main()
        proc = subprocess.Popen(
            [WG_BIN, "land", tid],
            cwd=repo.root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.0, duration * 1.3))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        _wait_for_lock(repo)
        main = repo.main()
        if main == old:
            outcomes["old"] += 1
        else:
            outcomes["new"] += 1
            assert git(repo.root, "rev-parse", f"{main}^") == old
            assert git(repo.root, "log", "-1", "--format=%s", main) == f"feat: {tid} ({agent.id})"
        fsck = subprocess.run(
            ["git", "-C", str(repo.root), "fsck", "--no-dangling", "--no-progress"],
            capture_output=True,
            text=True,
        )
        assert fsck.returncode == 0 and fsck.stdout.strip() == "", fsck.stdout + fsck.stderr
        assert git(repo.root, "status", "--porcelain") == ""  # the user's checkout is consistent
        r = repo.p.run("land", tid)
        assert r.code == 0, r.err
        assert repo.file(f"k/{i}.txt") == str(i)
        assert repo.status(tid) == "done"
    assert sum(outcomes.values()) == 20, outcomes


def test_stale_base_guard(repo: Repo) -> None:
    """A result that changes a file the branch never touched is refused, whatever produced it."""
    agent = repo.spawn("t")
    mb = repo.main()
    agent.edit("src/a.py", "branch\n")
    tip = agent.commit()
    write(repo.root, "README.md", "main's newer README\n")
    git(repo.root, "commit", "-qam", "main moves")
    old = repo.main()
    # a "result" built on the stale base: README reverted to the branch's old version
    stale_tree = git(agent.path, "rev-parse", "HEAD^{tree}")
    with pytest.raises(LandRefused) as exc:
        _guards(str(repo.root), mb, tip, old, stale_tree, "t")
    assert exc.value.message == (
        "Stale-base guard tripped for 't': README.md would change without the branch touching it."
    )


def test_target_missing_and_pointer_missing(repo: Repo) -> None:
    agent = repo.spawn("t")
    lock = MergeLock(str(repo.root)).acquire()
    try:
        with pytest.raises(LandRefused) as exc:
            land_branch(str(repo.root), str(agent.path), "wg/agent-1/t", "nope", "t", "agent-1", lock)
        assert exc.value.message == "Target branch 'nope' not found — cannot land 't'."
        os.rename(agent.path / ".git", agent.path / ".git.away")
        with pytest.raises(LandRefused) as exc:
            land_branch(str(repo.root), str(agent.path), "wg/agent-1/t", "main", "t", "agent-1", lock)
        assert exc.value.message == f"Worktree .git pointer missing at {agent.path} — refusing to land 't'."
    finally:
        lock.release()


def test_lock_timeout(repo: Repo) -> None:
    held = MergeLock(str(repo.root)).acquire()
    try:
        with pytest.raises(LandRefused) as exc:
            MergeLock(str(repo.root)).acquire(timeout=0.2)
        assert exc.value.message == "Another landing is in progress; try again."
    finally:
        held.release()


def test_target_moving_is_retried(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Compare-and-set: a target that moves between read and advance makes the landing start again."""
    agent = repo.spawn("t")
    agent.edit("src/a.py", "branch\n")
    agent.commit()
    real_run = wgit.run
    moved = {"n": 0}

    def racing_run(cwd: str, *args: str, **kw: object) -> wgit.Result:
        if args[:1] == ("merge",) and "--ff-only" in args and moved["n"] == 0:
            moved["n"] += 1  # someone else commits to main just before our fast-forward
            write(repo.root, "race.txt", "race\n")
            git(repo.root, "add", "race.txt")
            git(repo.root, "commit", "-qm", "racing commit")
        return real_run(cwd, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(wgit, "run", racing_run)
    lock = MergeLock(str(repo.root)).acquire()
    try:
        out = land_branch(str(repo.root), str(agent.path), "wg/agent-1/t", "main", "t", "agent-1", lock)
    finally:
        lock.release()
    assert out.kind == "landed" and moved["n"] == 1
    assert repo.main() == out.commit
    assert git(repo.root, "log", "--format=%s", "-2", "main").splitlines() == [
        "feat: t (agent-1)",
        "racing commit",
    ]
    assert repo.file("race.txt") == "race" and repo.file("src/a.py") == "branch"


def test_merge_in_progress_in_checkout_refuses(repo: Repo) -> None:
    """Step 6: any other fast-forward failure refuses with ``Cannot fast-forward``; nothing changes."""
    agent = repo.spawn("t")
    agent.edit("src/a.py", "branch\n")
    agent.commit()
    git(repo.root, "checkout", "-q", "-b", "side")
    write(repo.root, "README.md", "side\n")
    git(repo.root, "commit", "-qam", "side")
    git(repo.root, "checkout", "-q", "main")
    write(repo.root, "README.md", "main\n")
    git(repo.root, "commit", "-qam", "main readme")
    git(repo.root, "merge", "-q", "side", check=False)  # leaves a conflicted merge in progress
    before = repo.snapshot()
    r = agent.done()
    assert r.code == 1
    assert f"Cannot fast-forward main in {repo.root}: " in r.err and "refusing to land 't'." in r.err
    assert repo.snapshot() == before and repo.status("t") == "in-progress"


def test_show_state_facts(repo: Repo) -> None:
    from workgraph.worktree.show import worktree_block, worktree_state

    assert worktree_state(str(repo.p.wg), "none") is None
    agent = repo.spawn("t")
    agent.edit("src/a.py", "branch\n")
    agent.commit()
    state = worktree_state(str(repo.p.wg), "t")
    assert state is not None and state["merged_to_main"] is False and state["commits_ahead"] == 1
    assert agent.done().code == 0
    state = worktree_state(str(repo.p.wg), "t")
    assert state is not None
    assert state["merged_to_main"] is True and state["landed_commit"] == repo.main()
    assert state["cleanup_pending"] is True and state["uncommitted_files"] == 0
    block = worktree_block(state, retry_count=1)
    assert block[0] == "Worktree:" and "  Merged to main:    true" in block
    assert block[-1].startswith("  (Retried 1 time(s)")
