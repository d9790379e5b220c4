"""Shared fixtures: a fresh git repository with an initialized ``.wg`` and a ``wg`` runner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

WG_BIN = shutil.which("wg", path=os.path.dirname(sys.executable)) or shutil.which("wg") or "wg"


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


class Project:
    """A temp git repo; ``run`` calls the installed ``wg`` as a subprocess there."""

    def __init__(self, root: Path, home: Path) -> None:
        self.root = root
        self.home = home
        self.wg = root / ".wg"
        self.env = {
            k: v for k, v in os.environ.items() if k not in ("WG_DIR", "WG_TASK_ID", "WG_AGENT_ID", "WG_USER")
        }
        self.env["HOME"] = str(home)
        self.env["NO_COLOR"] = "1"

    @property
    def graph_path(self) -> Path:
        return self.wg / "graph.jsonl"

    def graph_bytes(self) -> bytes:
        return self.graph_path.read_bytes()

    def rows(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.graph_path.read_text().splitlines() if line.strip()]

    def task(self, task_id: str) -> dict[str, object]:
        for row in self.rows():
            if row.get("id") == task_id:
                return row
        raise KeyError(task_id)

    def run(
        self,
        *args: str,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        input: str | None = None,
        timeout: float = 60,
    ) -> Result:
        full_env = dict(self.env)
        if env:
            full_env.update(env)
        proc = subprocess.run(
            [WG_BIN, *args],
            cwd=cwd or self.root,
            env=full_env,
            capture_output=True,
            text=True,
            input=input,
            timeout=timeout,
        )
        return Result(proc.returncode, proc.stdout, proc.stderr)

    def ok(self, *args: str, **kw: object) -> Result:
        r = self.run(*args, **kw)  # type: ignore[arg-type]
        assert r.code == 0, f"wg {' '.join(args)} exited {r.code}\nstdout: {r.out}\nstderr: {r.err}"
        assert "Traceback" not in r.err
        return r

    def fails(self, *args: str, code: int = 1, **kw: object) -> Result:
        r = self.run(*args, **kw)  # type: ignore[arg-type]
        assert r.code == code, (
            f"wg {' '.join(args)} exited {r.code}, wanted {code}\nstdout: {r.out}\nstderr: {r.err}"
        )
        assert "Traceback" not in r.err
        assert "Error: " in r.err
        return r


def _git_init(path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(path)], check=True)


@pytest.fixture
def bare_project(tmp_path: Path) -> Project:
    """A git repo with an empty HOME and no ``.wg`` yet."""
    root = tmp_path / "repo"
    root.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    _git_init(root)
    return Project(root, home)


@pytest.fixture
def project(bare_project: Project) -> Iterator[Project]:
    """A git repo with ``.wg`` initialized (``wg init --no-agency`` when available)."""
    r = bare_project.run("init", "--no-agency")
    if r.code != 0:  # init not available yet: the minimal layout
        bare_project.wg.mkdir(exist_ok=True)
        bare_project.graph_path.touch()
    yield bare_project
