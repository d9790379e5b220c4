"""CLI pieces of worktrees.md 7-8: ``wg gc --worktrees``, ``wg show``'s ``Worktree:`` block and
``worktree_state``, ``wg retry`` in place / ``--fresh``, and the ``## Landing Conflict`` prompt section."""

from __future__ import annotations

import json
import os
import re
import stat
import sys
from pathlib import Path

from tests.conftest import Project
from workgraph.worktree.create import prepare_worktree
from workgraph.worktree.prompt import landing_conflict_section, pending_conflict
from workgraph.worktree.records import update_metadata

from .conftest import FILES, Agent, Repo, git, write

RERUN = "Re-run with --apply to actually archive and remove."


def _landed_and_abandoned(repo: Repo) -> tuple[Agent, Agent, str]:
    landed = repo.spawn("t1")
    landed.edit("feature.txt", "feature\n")
    landed.commit("feature")
    assert landed.done().code == 0
    abandoned = repo.spawn("t2")
    abandoned.edit("wip.txt", "1\n")
    abandoned.commit("wip 1")
    abandoned.edit("wip.txt", "2\n")
    tip = abandoned.commit("wip 2")
    repo.p.ok("abandon", "t2")
    return landed, abandoned, tip


def _conflict(repo: Repo) -> Agent:
    agent = repo.spawn("t")
    write(repo.root, "src/a.py", FILES["src/a.py"].replace("x0 = 0", "x0 = 'main'"))
    git(repo.root, "commit", "-qam", "main edit")
    agent.edit("src/a.py", FILES["src/a.py"].replace("x0 = 0", "x0 = 'branch'"))
    agent.commit()
    return agent


# -- wg gc --worktrees ------------------------------------------------------------------------------


def test_gc_worktrees_dry_run_then_apply(repo: Repo) -> None:
    landed, abandoned, tip = _landed_and_abandoned(repo)
    repo.add_task("junk", claim=False)
    repo.p.ok("abandon", "junk")  # plain `wg gc` would remove it; --worktrees removes no task
    r = repo.p.ok("gc", "--worktrees")
    assert r.out.splitlines() == [
        "remove  agent-1  t1  landed",
        "keep-branch  agent-2  t2  2 unlanded commit(s) on wg/agent-2/t2",
        RERUN,
    ]
    assert landed.path.exists() and abandoned.path.exists()
    r = repo.p.ok("gc", "--worktrees", "--apply")
    assert "remove  agent-1  t1  landed" in r.out
    assert f"Kept unlanded commits of {abandoned.path} on branch wg/agent-2/t2 (2 commit(s))" in r.out
    assert RERUN not in r.out
    assert not landed.path.exists() and not abandoned.path.exists()
    assert git(repo.root, "branch", "--list", "wg/agent-1/t1") == ""
    assert git(repo.root, "rev-parse", "wg/agent-2/t2") == tip
    assert repo.status("junk") == "abandoned"  # no task removed
    assert repo.p.ok("gc", "--worktrees").out.strip() == "No agent worktrees."


def test_gc_worktrees_uncommitted_needs_force_and_json(repo: Repo) -> None:
    agent = repo.spawn("t")
    agent.edit("src/a.py", "uncommitted\n")
    repo.p.ok("abandon", "t")
    data = json.loads(repo.p.ok("--json", "gc", "--worktrees", "--apply").out)
    assert data["executed"] is True
    assert [(w["decision"], w["agent"], w["task"]) for w in data["worktrees"]] == [
        ("uncommitted", "agent-1", "t")
    ]
    assert agent.path.exists()
    data = json.loads(repo.p.ok("--json", "gc", "--worktrees", "--force").out)
    assert data["executed"] is False and data["worktrees"][0]["decision"] == "keep-branch"
    assert agent.path.exists()  # --force alone is still a dry run
    r = repo.p.ok("gc", "--worktrees", "--apply", "--force")
    assert r.out.startswith("keep-branch  agent-1  t  ")
    assert not agent.path.exists()
    assert git(repo.root, "log", "-1", "--format=%s", "wg/agent-1/t") == "archive: agent-1 work snapshot"
    assert git(repo.root, "show", "wg/agent-1/t:src/a.py") == "uncommitted"


def test_gc_worktrees_flag_errors(repo: Repo) -> None:
    r = repo.p.fails("gc", "--apply", code=2)
    assert "'--apply' requires '--worktrees'" in r.err
    repo.p.fails("gc", "--force", code=2)
    repo.p.fails("gc", "--worktrees", "--apply", "--dry-run", code=2)
    repo.p.fails("gc", "--worktrees", "--include-done", code=2)


def test_gc_worktrees_older(repo: Repo) -> None:
    landed, _, _ = _landed_and_abandoned(repo)
    assert repo.p.ok("gc", "--worktrees", "--older", "1").out.strip() == "No agent worktrees."  # bare = days
    old = 1_000_000_000.0
    for dirpath, dirnames, filenames in os.walk(landed.path):
        for name in dirnames + filenames:
            os.utime(os.path.join(dirpath, name), (old, old), follow_symlinks=False)
    os.utime(landed.path, (old, old))
    assert repo.p.ok("gc", "--worktrees", "--older", "7d").out.splitlines() == [
        "remove  agent-1  t1  landed",
        RERUN,
    ]


# -- wg show ----------------------------------------------------------------------------------------


def _block(out: str) -> list[str]:
    lines = out.splitlines()
    start = lines.index("Worktree:")
    end = lines.index("", start)
    return lines[start:end]


def test_show_block_landed_and_json_last(repo: Repo) -> None:
    agent = repo.spawn("t")
    agent.edit("src/a.py", "landed\n")
    agent.commit()
    assert agent.done().code == 0
    r = repo.p.ok("show", "t")
    lines = r.out.splitlines()
    block = _block(r.out)
    i = lines.index("Worktree:")
    assert lines[i - 1] == "" and lines[i + len(block)] == "" and lines[i + len(block) + 1] == "Log:"
    assert block[0:3] == [
        "Worktree:",
        f"  Path:              {agent.path}",
        "  Branch:            wg/agent-1/t",
    ]
    assert re.fullmatch(r"  Commits ahead:     \d+", block[3])
    assert block[4] == "  Uncommitted files: 0"
    assert re.fullmatch(r"  Last modified:     \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}", block[5])
    assert block[6:] == [
        "  Cleanup pending:   true",
        "  Merged to main:    true",
        f"  Landed commit:     {repo.main()}",
    ]
    data = json.loads(repo.p.ok("show", "t", "--json").out)
    assert list(data)[-1] == "worktree_state"
    ws = data["worktree_state"]
    assert list(ws) == [
        "path",
        "branch",
        "commits_ahead",
        "uncommitted_files",
        "last_modified",
        "cleanup_pending",
        "merged_to_main",
        "landed_commit",
    ]
    assert (
        ws["path"] == str(agent.path) and ws["merged_to_main"] is True and ws["landed_commit"] == repo.main()
    )
    assert ws["cleanup_pending"] is True and ws["uncommitted_files"] == 0


def test_show_block_unlanded_conflict_and_retried(repo: Repo) -> None:
    agent = _conflict(repo)
    agent.edit("notes.txt", "untracked\n")
    assert repo.p.run("land", "t").code == 1  # on_conflict = fail: the task fails, land_conflicts recorded
    r = repo.p.ok("show", "t")
    block = _block(r.out)
    assert block[3] == "  Commits ahead:     1"
    assert block[4] == "  Uncommitted files: 1"
    assert repo.p.task("t")["retry_count"] == 1  # the failed landing counted as an attempt
    assert block[6:] == [
        "  Cleanup pending:   false",
        "  Merged to main:    false",
        "  Conflicts:         src/a.py",
        "  (Retried 1 time(s) — `wg retry` resumes in-place; `wg retry --fresh` starts over)",
    ]
    ws = json.loads(repo.p.ok("show", "t", "--json").out)["worktree_state"]
    assert ws["conflicts"] == ["src/a.py"] and "landed_commit" not in ws and ws["merged_to_main"] is False
    assert ws["commits_ahead"] == 1 and ws["uncommitted_files"] == 1


def test_show_without_worktree_block(repo: Repo) -> None:
    repo.add_task("plain")
    r = repo.p.ok("show", "plain")
    assert "Worktree:" not in r.out
    assert "worktree_state" not in json.loads(repo.p.ok("show", "plain", "--json").out)


def _fake_git_path(tmp: Path) -> tuple[str, Path]:
    """A PATH whose only ``git`` records that it ran (and fails), plus the venv's bin for ``wg``."""
    bindir = tmp / "fakebin"
    bindir.mkdir()
    marker = tmp / "git-called"
    script = bindir / "git"
    script.write_text(f"#!/bin/sh\necho \"$@\" >> '{marker}'\nexit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return f"{bindir}{os.pathsep}{os.path.dirname(sys.executable)}", marker


def _fake_agent_record(p: Project, task_id: str, worktree: Path) -> None:
    meta = p.wg / "agents" / "agent-1" / "metadata.json"
    meta.parent.mkdir(parents=True)
    meta.write_text(
        json.dumps(
            {
                "agent_id": "agent-1",
                "task_id": task_id,
                "worktree_path": str(worktree),
                "worktree_branch": f"wg/agent-1/{task_id}",
                "target_branch": "main",
            }
        )
    )


def test_show_runs_no_git_without_worktrees_dir(project: Project, tmp_path: Path) -> None:
    project.ok("add", "T", "--id", "t", "--no-place")
    _fake_agent_record(project, "t", project.root / ".wg-worktrees" / "agent-1")  # a record, but no dir
    path, marker = _fake_git_path(tmp_path)
    r = project.run("show", "t", env={"PATH": path})
    assert r.code == 0, r.err
    assert "Worktree:" not in r.out
    r = project.run("show", "t", "--json", env={"PATH": path})
    assert r.code == 0 and "worktree_state" not in json.loads(r.out)
    assert not marker.exists()
    # control: with the directory present the same command does reach git (so the check above can fail)
    (project.root / ".wg-worktrees" / "agent-1").mkdir(parents=True)
    r = project.run("show", "t", env={"PATH": path})
    assert r.code == 0, r.err  # a failing git never breaks `wg show`
    assert marker.exists()


# -- wg retry ---------------------------------------------------------------------------------------


def test_retry_resumes_in_place(repo: Repo) -> None:
    agent = repo.spawn("t")
    agent.edit("wip.txt", "wip\n")
    agent.commit("wip")
    repo.p.ok("fail", "t", "--reason", "died")
    r = repo.p.ok("retry", "t")
    assert r.out.splitlines()[-1] == f"  Next attempt will resume in-place at {agent.path}"
    assert agent.path.exists()
    repo.p.ok("claim", "t")
    repo.p.ok("fail", "t")
    data = json.loads(repo.p.ok("--json", "retry", "t").out)
    assert data["resume_worktree"] == str(agent.path) and data["status"] == "open"


def test_retry_without_worktree_prints_nothing_extra(repo: Repo) -> None:
    repo.add_task("plain")
    repo.p.ok("fail", "plain")
    r = repo.p.ok("retry", "plain")
    assert r.out.splitlines() == ["Reset 'plain' from failed to open for retry (attempt #2)"]


def test_retry_fresh_discards_worktree_keeps_branch(repo: Repo) -> None:
    agent = repo.spawn("t")
    agent.edit("wip.txt", "wip\n")
    agent.commit("wip")
    agent.edit("more.txt", "uncommitted\n")
    repo.p.ok("fail", "t")
    r = repo.p.ok("retry", "t", "--fresh")
    lines = r.out.splitlines()
    assert f"  --fresh: discarded prior worktree at {agent.path}" in lines
    assert f"  Kept unlanded commits of {agent.path} on branch wg/agent-1/t (2 commit(s))" in lines
    assert not any("Next attempt will resume" in ln for ln in lines)
    assert not agent.path.exists()
    assert git(repo.root, "log", "-1", "--format=%s", "wg/agent-1/t") == "archive: agent-1 work snapshot"
    assert repo.status("t") == "open"
    info = prepare_worktree(str(repo.root), str(repo.p.wg), "agent-2", "t", "main", fresh=True)
    assert not info.reused and info.branch == "wg/agent-2/t" and info.base_commit == repo.main()
    assert git(repo.root, "rev-parse", "wg/agent-1/t")  # old branch still there


def test_retry_fresh_json_and_refusal_discards_nothing(repo: Repo) -> None:
    agent = repo.spawn("t", live_pid=None)
    agent.edit("wip.txt", "wip\n")
    agent.commit("wip")
    repo.p.ok("unclaim", "t")  # open: retry refuses
    r = repo.p.fails("retry", "t", "--fresh")
    assert "Only failed or incomplete tasks can be retried." in r.err
    assert agent.path.exists()
    repo.p.ok("claim", "t")
    repo.p.ok("fail", "t")
    data = json.loads(repo.p.ok("--json", "retry", "t", "--fresh").out)
    assert data["discarded_worktrees"] == [str(agent.path)] and "resume_worktree" not in data
    assert not agent.path.exists()


# -- ## Landing Conflict ------------------------------------------------------------------------------


def _meta(wg: Path, agent: str, **fields: object) -> None:
    update_metadata(str(wg), agent, task_id="t", **fields)


def test_landing_conflict_section_unit(tmp_path: Path) -> None:
    wg = tmp_path / ".wg"
    wt = tmp_path / ".wg-worktrees" / "agent-1"
    wt.mkdir(parents=True)
    task = {"id": "t", "title": "T"}
    assert landing_conflict_section(str(wg), task) == ""
    _meta(wg, "agent-1", worktree_path=str(wt), target_branch="dev", land_conflicts=["src/a.py", "b.txt"])
    text = landing_conflict_section(str(wg), task)
    assert text.startswith("## Landing Conflict\n")
    assert "- `src/a.py`\n- `b.txt`" in text
    assert "run `git merge dev` in this worktree" in text and "`wg done t`" in text
    _meta(wg, "agent-2", worktree_path=str(wt))  # the agent being spawned in place: still reported
    assert landing_conflict_section(str(wg), task, str(wt)) == text
    assert landing_conflict_section(str(wg), task, str(tmp_path / "elsewhere")) == ""  # a fresh worktree
    _meta(wg, "agent-2", worktree_path=str(wt), landed_branch_tip="abc", landed_commit="def")
    assert landing_conflict_section(str(wg), task) == ""  # a later landing succeeded
    _meta(wg, "agent-2", landed_branch_tip=None, landed_commit=None)
    assert pending_conflict(str(wg), "t") is not None
    wt.rmdir()
    assert landing_conflict_section(str(wg), task) == ""  # worktree gone (--fresh, gc)
    assert pending_conflict(str(wg), "other") is None


def test_landing_conflict_retry_end_to_end(repo: Repo) -> None:
    agent = _conflict(repo)
    repo.p.ok("config", "set", "worktree.on_conflict", "retry")
    assert repo.p.run("land", "t").code == 1
    assert repo.status("t") == "open"  # reopened like a death
    task = repo.p.task("t")
    text = landing_conflict_section(str(repo.p.wg), task)
    assert "- `src/a.py`" in text and "`git merge main`" in text
    info = prepare_worktree(str(repo.root), str(repo.p.wg), "agent-2", "t", "main")
    assert info.reused and info.path == str(agent.path)
    repo.register("agent-2", "t", info.path, None)
    assert landing_conflict_section(str(repo.p.wg), task, info.path) == text
    git(agent.path, "merge", "-q", "main", check=False)
    agent.edit("src/a.py", "resolved\n")
    agent.commit("resolve")
    repo.p.ok("claim", "t")
    r = repo.p.run("land", "t")
    assert r.code == 0, r.err
    assert landing_conflict_section(str(repo.p.wg), task, info.path) == ""
