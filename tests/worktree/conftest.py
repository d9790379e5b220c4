"""Harness of spec worktrees.md 9: a git repo with a few commits on ``main`` and scripted fake agents.

A fake agent is a worktree made by ``create_worktree`` plus its registry entry and metadata (what the
dispatcher writes), then plain git commits in the worktree and ``wg done`` run there with the agent's env.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Project, Result
from workgraph.worktree.create import WorktreeInfo, create_worktree

FILES = {
    "README.md": "# Project\n\nline 1\nline 2\nline 3\n",
    "CLAUDE.md": "# Claude\n\nrules\n",
    "docs/AGENT-GUIDE.md": "# Guide\n\nstep 1\n",
    "src/a.py": "".join(f"x{i} = {i}\n" for i in range(20)),
}


def git(cwd: Path | str, *args: str, check: bool = True, env: dict[str, str] | None = None) -> str:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full.update(env or {})
    proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, env=full)
    if check and proc.returncode != 0:
        raise AssertionError(f"git {' '.join(args)}: {proc.stderr}")
    return proc.stdout.strip()


def write(root: Path | str, rel: str, text: str) -> None:
    path = Path(root) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def commit_all(cwd: Path | str, message: str) -> str:
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "-m", message)
    return git(cwd, "rev-parse", "HEAD")


class Agent:
    def __init__(self, repo: Repo, agent_id: str, task_id: str, info: WorktreeInfo) -> None:
        self.repo, self.id, self.task_id, self.info = repo, agent_id, task_id, info
        self.path = Path(info.path)

    @property
    def env(self) -> dict[str, str]:
        env = self.info.env(str(self.repo.root))
        env["WG_AGENT_ID"] = self.id
        env["WG_TASK_ID"] = self.task_id
        return env

    def edit(self, rel: str, text: str) -> None:
        write(self.path, rel, text)

    def commit(self, message: str = "work") -> str:
        return commit_all(self.path, message)

    def done(self, *extra: str) -> Result:
        return self.repo.p.run("done", self.task_id, *extra, cwd=self.path, env=self.env)

    def metadata(self) -> dict[str, object]:
        return json.loads((self.repo.p.wg / "agents" / self.id / "metadata.json").read_text())


class Repo:
    """The project plus helpers to snapshot the main checkout."""

    def __init__(self, p: Project) -> None:
        self.p = p
        self.root = p.root
        self._next = 1

    def main(self) -> str:
        return git(self.root, "rev-parse", "refs/heads/main")

    def file(self, rel: str, ref: str = "main") -> str:
        return git(self.root, "show", f"{ref}:{rel}")

    def snapshot(self) -> dict[str, str]:
        """Hashes of every file of the main checkout (outside .git/.wg/.wg-worktrees) plus status and main."""
        out: dict[str, str] = {
            "main": self.main(),
            "status": git(self.root, "status", "--porcelain", "--untracked-files=all"),
        }
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if d not in (".git", ".wg", ".wg-worktrees")]
            for name in filenames:
                path = Path(dirpath) / name
                out[str(path.relative_to(self.root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        return out

    def add_task(self, task_id: str, claim: bool = True) -> None:
        self.p.ok("add", f"Task {task_id}", "--id", task_id, "--no-place")
        if claim:
            self.p.ok("claim", task_id, "--actor", "tester")

    def spawn(self, task_id: str, *, add: bool = True, live_pid: int | None = None) -> Agent:
        """What the dispatcher does for an isolated agent: registry entry (the lease), worktree, metadata."""
        if add:
            self.add_task(task_id)
        agent_id = f"agent-{self._next}"
        self._next += 1
        info = create_worktree(str(self.root), str(self.p.wg), agent_id, task_id, "main")
        self.register(agent_id, task_id, info.path, live_pid)
        return Agent(self, agent_id, task_id, info)

    def register(self, agent_id: str, task_id: str, path: str, pid: int | None) -> None:
        reg_path = self.p.wg / "service" / "registry.json"
        reg_path.parent.mkdir(parents=True, exist_ok=True)
        data = json.loads(reg_path.read_text()) if reg_path.exists() else {"agents": {}, "next_agent_id": 1}
        data["agents"][agent_id] = {
            "id": agent_id,
            "task_id": task_id,
            "status": "working" if pid else "dead",
            "pid": pid or 999999,
            "worktree_path": path,
            "started_at": "2026-01-01T00:00:00Z",
        }
        reg_path.write_text(json.dumps(data))
        meta = self.p.wg / "agents" / agent_id / "metadata.json"
        cur = json.loads(meta.read_text()) if meta.exists() else {}
        cur.update(agent_id=agent_id, task_id=task_id)
        meta.parent.mkdir(parents=True, exist_ok=True)
        meta.write_text(json.dumps(cur))

    def status(self, task_id: str) -> str:
        return str(self.p.task(task_id).get("status"))

    def log(self, task_id: str) -> list[str]:
        return [str(e.get("message")) for e in self.p.task(task_id).get("log") or []]  # type: ignore[union-attr]


@pytest.fixture
def repo(project: Project) -> Iterator[Repo]:
    root = project.root
    git(root, "symbolic-ref", "HEAD", "refs/heads/main")
    git(root, "config", "user.name", "Tester")
    git(root, "config", "user.email", "tester@example.com")
    git(root, "config", "commit.gpgsign", "false")
    for rel, text in FILES.items():
        write(root, rel, text)
    commit_all(root, "initial")
    write(root, "docs/more.md", "more\n")
    commit_all(root, "second")
    assert git(root, "status", "--porcelain") == ""
    yield Repo(project)
