"""Landing speed (spec worktrees.md 6) against plain ``git rebase`` of the same branch, in the same run.

Figures (``name value unit ratio``; ratio = landing time / ``git rebase`` time of the same branch):
- a 20-commit branch landed onto a ``main`` 200 commits ahead (target not checked out: ``update-ref``);
- the same with ``main`` checked out in the project root (the fast-forward path of step 6);
- landing a 3-commit branch in a 10k-file repository with ``main`` checked out.

Usage: ``python benchmarks/bench_land.py [--repeat 5]`` (stdlib + the installed ``workgraph``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

from workgraph.worktree.land import land_task

ENV = {
    **{k: v for k, v in os.environ.items() if not k.startswith("GIT_")},
    "GIT_AUTHOR_NAME": "bench",
    "GIT_AUTHOR_EMAIL": "bench@localhost",
    "GIT_COMMITTER_NAME": "bench",
    "GIT_COMMITTER_EMAIL": "bench@localhost",
}


def git(cwd: str, *args: str) -> str:
    proc = subprocess.run(["git", "-C", cwd, *args], capture_output=True, text=True, env=ENV)
    if proc.returncode != 0:
        raise SystemExit(f"git {' '.join(args)} failed: {proc.stderr}")
    return proc.stdout.strip()


def write(root: str, rel: str, text: str) -> None:
    path = os.path.join(root, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def commit(cwd: str, message: str) -> None:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "--no-verify", "-m", message)


def build(root: str, files: int, ahead: int, branch_commits: int) -> str:
    """A repo with ``files`` files on main, a branch ``feature`` with ``branch_commits`` commits from the
    base, and main ``ahead`` commits past the base. Returns the worktree of the branch."""
    git(tempfile.gettempdir(), "init", "-q", "-b", "main", root)
    git(root, "config", "commit.gpgsign", "false")
    for i in range(files):
        write(root, f"src/d{i % 100}/f{i}.txt", f"file {i}\n" * 5)
    commit(root, "base")
    wt = os.path.join(root, ".wg-worktrees", "agent-1")
    git(root, "worktree", "add", "-q", "-b", "wg/agent-1/t", wt, "main")
    for i in range(branch_commits):
        write(wt, f"feature/part{i}.txt", f"part {i}\n")
        write(wt, "src/d0/f0.txt", "file 0\n" * 4 + f"branch edit {i}\n")
        commit(wt, f"feature {i}")
    for i in range(ahead):
        write(root, f"main/m{i}.txt", f"main {i}\n")
        if i % 10 == 0:
            write(root, "src/d1/f1.txt", f"main edit {i}\n" + "file 1\n" * 4)
        commit(root, f"main {i}")
    return wt


def time_rebase(root: str, wt: str, repeat: int) -> float:
    """Plain ``git rebase main`` of a copy of the branch in its own worktree (reset between runs)."""
    tip = git(root, "rev-parse", "wg/agent-1/t")
    other = os.path.join(root, ".bench-rebase")
    git(root, "worktree", "add", "-q", "-b", "bench-rebase", other, tip)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        git(other, "rebase", "-q", "main")
        times.append(time.perf_counter() - t)
        git(other, "reset", "-q", "--hard", tip)
    git(root, "worktree", "remove", "--force", other)
    return statistics.median(times)


def time_land(root: str, wt: str, repeat: int, checked_out: bool) -> float:
    old = git(root, "rev-parse", "main")
    if not checked_out:
        git(root, "checkout", "-q", "--detach")
    wg_dir = os.path.join(root, ".wg")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = land_task(wg_dir, root, wt, "wg/agent-1/t", "main", "t", None, agent_label="agent-1")
        times.append(time.perf_counter() - t)
        if out.kind != "landed":
            raise SystemExit(f"landing did not land: {out.kind} {out.conflicts}")
        if checked_out:
            git(root, "reset", "-q", "--hard", old)  # the benchmark's own repo: put main back
        else:
            git(root, "update-ref", "refs/heads/main", old)
    if not checked_out:
        git(root, "checkout", "-q", "main")
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "ahead")
        wt = build(root, files=50, ahead=200, branch_commits=20)
        rebase = time_rebase(root, wt, opts.repeat)
        land_ref = time_land(root, wt, opts.repeat, checked_out=False)
        land_ff = time_land(root, wt, opts.repeat, checked_out=True)
        print(f"rebase_20c_onto_200ahead {rebase:.4f} s 1.00")
        print(f"land_20c_onto_200ahead {land_ref:.4f} s {land_ref / rebase:.2f}")
        print(f"land_20c_onto_200ahead_checked_out {land_ff:.4f} s {land_ff / rebase:.2f}")
        big = os.path.join(tmp, "big")
        wt = build(big, files=10_000, ahead=10, branch_commits=3)
        rebase = time_rebase(big, wt, opts.repeat)
        land_big = time_land(big, wt, opts.repeat, checked_out=True)
        print(f"rebase_10k_files {rebase:.4f} s 1.00")
        print(f"land_10k_files_checked_out {land_big:.4f} s {land_big / rebase:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
