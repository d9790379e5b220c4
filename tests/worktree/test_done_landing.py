"""``wg done`` on isolated tasks: spec worktrees.md 5-6 and acceptance checks 3-10, 15, 16."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.conftest import WG_BIN

from .conftest import FILES, Repo, git, write


def test_task_page_case_no_stale_base_revert(repo: Repo) -> None:
    """Check 3: main edits the three docs after the branch point; they survive, only src/a.py lands."""
    agent = repo.spawn("t")
    write(repo.root, "README.md", "# Project\n\nNEW install section\n")
    write(repo.root, "CLAUDE.md", "# Claude\n\n## Agency tasks run on claude CLI\n")
    write(repo.root, "docs/AGENT-GUIDE.md", "# Guide\n\nstep 1 tweaked\n")
    git(repo.root, "commit", "-qam", "docs on main")
    old = repo.main()
    docs = {rel: repo.file(rel) for rel in ("README.md", "CLAUDE.md", "docs/AGENT-GUIDE.md")}
    agent.edit("src/a.py", "feature = 1\n" + FILES["src/a.py"])
    agent.commit("feature")
    r = agent.done()
    assert r.code == 0, r.err
    new = repo.main()
    assert git(repo.root, "rev-parse", f"{new}^") == old
    assert git(repo.root, "log", "-1", "--format=%B", new).strip() == (
        "feat: t (agent-1)\n\nSquash-merged from worktree branch wg/agent-1/t"
    )
    assert git(repo.root, "diff", "--name-only", old, new) == "src/a.py"
    for rel, text in docs.items():
        assert repo.file(rel) == text
        assert (repo.root / rel).read_text().rstrip("\n") == text  # the user's checkout followed
    assert repo.file("src/a.py").startswith("feature = 1")
    assert repo.status("t") == "done"
    assert any(m.startswith("[merge] Squash-merged wg/agent-1/t to main (") for m in repo.log("t"))
    meta = agent.metadata()
    assert meta["landed_commit"] == new
    assert meta["landed_branch_tip"] == git(agent.path, "rev-parse", "HEAD")
    assert meta["base_commit"] != old and "landed_at" in meta
    assert (agent.path / ".wg-cleanup-pending").exists()
    assert git(repo.root, "status", "--porcelain") == ""


def test_same_file_different_parts(repo: Repo) -> None:
    """Check 4."""
    agent = repo.spawn("t")
    lines = FILES["src/a.py"].splitlines(keepends=True)
    write(repo.root, "src/a.py", "".join(lines[:-1]) + "bottom = 'main'\n")
    git(repo.root, "commit", "-qam", "bottom")
    agent.edit("src/a.py", "top = 'branch'\n" + FILES["src/a.py"])
    agent.commit()
    assert agent.done().code == 0
    text = repo.file("src/a.py")
    assert text.startswith("top = 'branch'") and "bottom = 'main'" in text


def _conflict_setup(repo: Repo) -> tuple[Repo, object]:
    agent = repo.spawn("t")
    write(repo.root, "src/a.py", FILES["src/a.py"].replace("x0 = 0", "x0 = 'main'"))
    git(repo.root, "commit", "-qam", "main edit")
    agent.edit("src/a.py", FILES["src/a.py"].replace("x0 = 0", "x0 = 'branch'"))
    agent.commit()
    return repo, agent


def test_true_conflict_changes_nothing_then_resolves(repo: Repo) -> None:
    """Check 5."""
    _, agent = _conflict_setup(repo)
    assert not isinstance(agent, Repo)
    write(repo.root, "README.md", "user edit\n")  # a user's uncommitted edit must survive
    before = repo.snapshot()
    wt_head = git(agent.path, "rev-parse", "HEAD")  # type: ignore[attr-defined]
    r = agent.done()  # type: ignore[attr-defined]
    assert r.code == 1
    assert "Merge conflict — cannot mark 't' as done." in r.err
    assert "  - src/a.py" in r.err
    assert "To resolve: run `git merge main` in" in r.err
    assert repo.snapshot() == before
    assert git(agent.path, "rev-parse", "HEAD") == wt_head  # type: ignore[attr-defined]
    assert git(agent.path, "status", "--porcelain") == ""  # type: ignore[attr-defined]
    assert repo.status("t") == "in-progress"
    assert any(m.startswith("Landing conflict with main (") and m.endswith("src/a.py") for m in repo.log("t"))
    assert agent.metadata()["land_conflicts"] == ["src/a.py"]  # type: ignore[attr-defined]
    # resolve in the worktree, then land
    git(agent.path, "merge", "-q", "main", check=False)  # type: ignore[attr-defined]
    agent.edit("src/a.py", FILES["src/a.py"].replace("x0 = 0", "x0 = 'both'"))  # type: ignore[attr-defined]
    agent.commit("resolved")  # type: ignore[attr-defined]
    r = agent.done()  # type: ignore[attr-defined]
    assert r.code == 0, r.err
    assert "x0 = 'both'" in repo.file("src/a.py")
    assert (repo.root / "README.md").read_text() == "user edit\n"
    assert repo.status("t") == "done"
    assert "land_conflicts" not in agent.metadata()  # type: ignore[attr-defined]


DIRTY = """Error: Worktree has uncommitted changes — refusing to mark 't' as done.

Uncommitted/staged tracked files in {w}:
  - new.txt

These changes would be silently dropped when the worktree is cleaned up.
Fix: run `git commit -m '...' && git push` in the worktree, then re-run `wg done t`.
If you want to discard them, run `git reset --hard HEAD` in the worktree first.
"""


def test_dirty_refusal_exact_message(repo: Repo) -> None:
    """Check 6, without and with a commit already on the branch."""
    agent = repo.spawn("t")
    for with_commit in (False, True):
        if with_commit:
            git(agent.path, "reset", "-q")
            agent.edit("src/b.py", "b = 1\n")
            git(agent.path, "add", "src/b.py")
            git(agent.path, "commit", "-qm", "b")
        agent.edit("new.txt", "staged\n")
        git(agent.path, "add", "new.txt")
        main = repo.main()
        r = agent.done()
        assert r.code == 1
        assert r.err == DIRTY.format(w=agent.path)
        assert "new.txt" not in git(repo.root, "ls-tree", "-r", "--name-only", "main")
        assert repo.main() == main
        assert repo.status("t") == "in-progress"
    assert any("uncommitted changes" in m for m in repo.log("t"))


def test_untracked_files_warn_but_land(repo: Repo) -> None:
    agent = repo.spawn("t")
    agent.edit("src/a.py", "changed\n")
    agent.commit()
    agent.edit("scratch.txt", "notes\n")
    r = agent.done()
    assert r.code == 0, r.err
    assert f"Warning: untracked files in {agent.path} are not landed:\n  - scratch.txt" in r.err
    assert "scratch.txt" not in git(repo.root, "ls-tree", "-r", "--name-only", "main")
    assert any("scratch.txt" in m for m in repo.log("t"))


def test_nothing_committed(repo: Repo) -> None:
    """Check 7."""
    agent = repo.spawn("t")
    main = repo.main()
    r = agent.done()
    assert r.code == 0, r.err
    assert repo.main() == main
    assert "[merge] No commits on branch wg/agent-1/t — nothing to merge" in repo.log("t")
    assert repo.status("t") == "done"


def test_concurrent_landings(repo: Repo) -> None:
    """Check 8: two agents on different files run ``wg done`` at the same moment."""
    a1 = repo.spawn("t1")
    a2 = repo.spawn("t2")
    a1.edit("one.txt", "1\n")
    a1.commit()
    a2.edit("two.txt", "2\n")
    a2.commit()
    procs = []
    for agent in (a1, a2):
        env = dict(repo.p.env)
        env.update(agent.env)
        procs.append(
            subprocess.Popen(
                [WG_BIN, "done", agent.task_id],
                cwd=agent.path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    for proc in procs:
        _out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    subjects = git(repo.root, "log", "--format=%s", "-2", "main").splitlines()
    assert sorted(subjects) == ["feat: t1 (agent-1)", "feat: t2 (agent-2)"]
    assert repo.file("one.txt") == "1" and repo.file("two.txt") == "2"
    assert repo.status("t1") == repo.status("t2") == "done"


def test_user_edits_are_safe_and_no_reset_checkout_stash(repo: Repo, tmp_path: Path) -> None:
    """Check 9."""
    agent = repo.spawn("t")
    agent.edit("src/a.py", "branch\n")
    agent.commit()
    write(repo.root, "src/a.py", "user edit of a\n")
    before = repo.snapshot()
    r = agent.done()
    assert r.code == 1
    assert (
        "Error: Main checkout has uncommitted changes to files this task changes — refusing to land 't':\n"
        "  - src/a.py" in r.err
    )
    assert repo.snapshot() == before
    assert repo.status("t") == "in-progress"
    # now the user edits only README.md: the landing goes through and keeps the edit
    git(repo.root, "checkout", "--", "src/a.py")  # the test (the user) undoes their edit, not wg
    write(repo.root, "README.md", "user readme edit\n")
    trace = tmp_path / "trace.log"
    r = repo.p.run("done", "t", cwd=agent.path, env={**agent.env, "GIT_TRACE": str(trace)})
    assert r.code == 0, r.err
    assert (repo.root / "README.md").read_text() == "user readme edit\n"
    assert (repo.root / "src/a.py").read_text() == "branch\n"
    assert repo.file("src/a.py") == "branch"
    assert git(repo.root, "status", "--porcelain") == "M README.md"
    builtins = [ln for ln in trace.read_text().splitlines() if "built-in: git" in ln]
    assert builtins, "GIT_TRACE recorded nothing"
    for line in builtins:
        for bad in (" reset", " checkout", " stash", " clean"):
            assert f"git{bad}" not in line.split("built-in: ", 1)[1], line


def test_other_branch_checked_out(repo: Repo) -> None:
    """Check 10: the main checkout is on ``feature``; only refs/heads/main moves."""
    agent = repo.spawn("t")
    git(repo.root, "checkout", "-q", "-b", "feature")
    write(repo.root, "feature.txt", "f\n")
    git(repo.root, "add", "feature.txt")
    git(repo.root, "commit", "-qm", "feature work")
    feature = git(repo.root, "rev-parse", "feature")
    before = repo.snapshot()
    agent.edit("src/a.py", "landed\n")
    agent.commit()
    assert agent.done().code == 0
    after = repo.snapshot()
    assert after.pop("main") != before.pop("main")
    assert after == before
    assert git(repo.root, "rev-parse", "feature") == feature
    assert repo.file("src/a.py") == "landed"
    assert git(repo.root, "symbolic-ref", "HEAD") == "refs/heads/feature"


def test_escape_detected(repo: Repo) -> None:
    """Check 15 (escape)."""
    agent = repo.spawn("t")
    agent.edit("src/a.py", "x\n")
    agent.commit()
    git(agent.path, "checkout", "-q", "-b", "elsewhere")
    main = repo.main()
    r = agent.done()
    assert r.code == 1
    assert (
        f"Worktree escape detected: {agent.path} is not on branch wg/agent-1/t — refusing to land 't'."
        in r.err
    )
    assert repo.main() == main and repo.status("t") == "in-progress"


def test_conflict_markers_refused(repo: Repo) -> None:
    """Check 15 (markers)."""
    agent = repo.spawn("t")
    agent.edit("src/a.py", "<<<<<<< HEAD\nx = 1\n=======\nx = 2\n>>>>>>> other\n")
    agent.commit()
    main = repo.main()
    r = agent.done()
    assert r.code == 1
    assert "Conflict markers in src/a.py — refusing to land 't'." in r.err
    assert repo.main() == main and repo.status("t") == "in-progress"


def test_deferred_merge_then_wg_land(repo: Repo) -> None:
    """Check 16."""
    _, agent = _conflict_setup(repo)
    r = agent.done("--ignore-unmerged-worktree")  # type: ignore[attr-defined]
    assert r.code == 0, r.err
    assert repo.status("t") == "done"
    merge = repo.p.task(".merge-t")
    assert merge["status"] == "incomplete"
    assert merge["tags"] == ["merge", "deferred"]
    assert merge["after"] == ["t"]
    assert "## Deferred Merge: t" in str(merge["description"]) and "src/a.py" in str(merge["description"])
    assert "[merge] Conflict deferred — created '.merge-t' for later resolution" in repo.log("t")
    assert os.path.isdir(agent.path)  # type: ignore[attr-defined]
    git(agent.path, "merge", "-q", "main", check=False)  # type: ignore[attr-defined]
    agent.edit("src/a.py", "resolved\n")  # type: ignore[attr-defined]
    agent.commit("resolved")  # type: ignore[attr-defined]
    r = repo.p.run("land", "t")
    assert r.code == 0, r.err
    assert r.out.startswith(f"Landed 't': {repo.main()} on main")
    assert repo.file("src/a.py") == "resolved"
    assert repo.p.task(".merge-t")["status"] == "done"


def test_person_done_in_root_lands_via_records(repo: Repo) -> None:
    """Spec 5: without the agent env, the newest agent record's worktree is landed."""
    agent = repo.spawn("t")
    agent.edit("src/a.py", "by agent\n")
    agent.commit()
    r = repo.p.run("done", "t")
    assert r.code == 0, r.err
    assert repo.file("src/a.py") == "by agent"


def test_leaked_env_is_ignored(repo: Repo, tmp_path: Path) -> None:
    """WG_PROJECT_ROOT of another project: the env is not trusted; the records are used."""
    agent = repo.spawn("t")
    agent.edit("src/a.py", "ok\n")
    agent.commit()
    env = {**agent.env, "WG_PROJECT_ROOT": str(tmp_path / "elsewhere"), "WG_BRANCH": "bogus"}
    r = repo.p.run("done", "t", env=env)
    assert r.code == 0, r.err
    assert repo.file("src/a.py") == "ok"


def test_wg_land_json_and_live_refusal(repo: Repo) -> None:
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        agent = repo.spawn("t", live_pid=sleeper.pid)
        agent.edit("src/a.py", "landed by wg land\n")
        agent.commit()
        r = repo.p.run("land", "t")
        assert r.code == 1
        assert (
            f"Task 't' has a live agent (agent-1) in {agent.path}; let it finish or kill it first." in r.err
        )
    finally:
        sleeper.kill()
        sleeper.wait()
    repo.register("agent-1", "t", str(agent.path), None)
    r = repo.p.run("land", "t", "--json")
    assert r.code == 0, r.err
    data = r.json()
    assert data == {"task_id": "t", "landed": True, "commit": repo.main(), "target": "main", "conflicts": []}
    assert repo.status("t") == "done"  # in-progress without a live agent
    r = repo.p.run("land", "t")
    assert r.code == 0 and r.out.strip() == "Nothing to land for 't'"


def test_wg_land_conflict_fails_task(repo: Repo) -> None:
    """6.3/6.4: a conflicting ``wg land`` with on_conflict=fail fails the task with class land-conflict."""
    _, agent = _conflict_setup(repo)
    main = repo.main()
    r = repo.p.run("land", "t")
    assert r.code == 1
    assert "Merge conflict — cannot mark 't' as done." in r.err
    task = repo.p.task("t")
    assert task["status"] == "failed"
    assert task["failure_class"] == "land-conflict"
    assert task["failure_reason"] == "Landing conflict with main: src/a.py"
    assert repo.main() == main
    git(agent.path, "merge", "-q", "main", check=False)  # type: ignore[attr-defined]
    agent.edit("src/a.py", "fixed\n")  # type: ignore[attr-defined]
    agent.commit("fix")  # type: ignore[attr-defined]
    r = repo.p.run("land", "t")
    assert r.code == 0, r.err
    assert repo.status("t") == "done"


def test_plain_done_without_worktree_untouched(repo: Repo) -> None:
    """A task without any worktree: ``wg done`` behaves as before, main unchanged."""
    repo.add_task("plain")
    main = repo.main()
    repo.p.ok("done", "plain")
    assert repo.main() == main and repo.status("plain") == "done"
