"""Agency fixtures: an initialised project with the starter agency, and a fake ``claude`` on PATH."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Project

FAKE_CLAUDE = """#!/usr/bin/env python3
import json, os, sys
data = sys.stdin.read()
with open(os.environ["CALLS_LOG"], "a") as fh:
    fh.write(json.dumps({"argv": sys.argv[1:], "stdin": data}) + "\\n")
mode = os.environ.get("FAKE_MODE", "")
if mode == "garbage":
    print("<<<not json at all>>>")
elif mode == "crash":
    sys.stderr.write("boom")
    sys.exit(3)
else:
    print(json.dumps({"type": "result", "result": os.environ.get("FAKE_EVAL", "")}))
"""

PROGRAMMER = "b819a338b9875b41dbb12373b2af0d3076cd4aa8169f2889f7cc5acbe3ef42e4"
CAREFUL = "52fb1932950e425b02259dcb1181c049a7bb7ef76f5ad957aa3d7579fdc777b1"
BALANCED = "5d07543bc2e1ffb37a0dffe3e5301f5ffef254b53fb66491b240228c07f4cbe4"
DEFAULT_AGENT = "02e879681e52e0a384106169be043416c4d946e850ab26b2269c57681b52a6e7"
CODE_WRITING = "ec4b9f1998702b86640614d6063d8c50eb6a573ae3973a65b15fd3f1b61de668"
WORKING_CODE = "34764379452e1434e995f0aeb7df2f1986bba40fd596b24abbf039daae19a0a3"


class AgencyProject(Project):
    @property
    def agency(self) -> Path:
        return self.wg / "agency"

    def yaml(self, kind_folder: str, entity_id: str) -> dict[str, object]:
        from workgraph.agency.yamlio import loads

        path = self.agency / kind_folder / f"{entity_id}.yaml"
        data = loads(path.read_text(), str(path))
        assert isinstance(data, dict)
        return data

    def agent(self, entity_id: str = DEFAULT_AGENT) -> dict[str, object]:
        return self.yaml("cache/agents", entity_id)

    def evaluations(self) -> list[dict[str, object]]:
        folder = self.agency / "evaluations"
        if not folder.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]

    def calls(self) -> list[dict[str, object]]:
        log = self.root / "calls.log"
        if not log.exists():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    def tmp_files(self) -> list[Path]:
        return [p for p in self.agency.rglob(".*.tmp")]


def _install_fake(project: Project) -> None:
    bin_dir = project.root.parent / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "claude"
    fake.write_text(FAKE_CLAUDE)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    project.env["PATH"] = f"{bin_dir}{os.pathsep}{project.env.get('PATH', '')}"
    project.env["CALLS_LOG"] = str(project.root / "calls.log")


@pytest.fixture
def bare(project: Project) -> Iterator[AgencyProject]:
    """An initialised project (``wg init --no-agency``), one commit, a fake claude first on PATH."""
    import subprocess

    ap = AgencyProject(project.root, project.home)
    ap.env = project.env
    subprocess.run(["git", "-C", str(ap.root), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
                    "--allow-empty", "-m", "init"], check=True)  # fmt: skip
    _install_fake(ap)
    yield ap


@pytest.fixture
def agency(bare: AgencyProject) -> AgencyProject:
    """As ``bare`` plus ``wg agency init``."""
    bare.ok("agency", "init")
    return bare
