"""Fixtures for chat tests: a project whose chat handler is ``fake_handler.py`` (spec chats.md 7 harness).

Every daemon and every fake handler started by a test is stopped at the end, even on failure.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests import daemon_helpers
from tests.conftest import Project
from tests.daemon_helpers import daemon_pids, pid_alive

FAKE = Path(__file__).with_name("fake_handler.py")


class ChatProject(Project):
    """``Project`` plus the observations of spec 7: starts(), alive(), chat_dir(N), daemon log."""

    @property
    def fake_log(self) -> Path:
        return self.root / "fake.log"

    @property
    def fake_pids(self) -> Path:
        return self.root / "fake.pids"

    @property
    def daemon_log(self) -> Path:
        return self.wg / "service" / "daemon.log"

    def log_text(self) -> str:
        try:
            return self.daemon_log.read_text()
        except OSError:
            return ""

    def fake_lines(self) -> list[str]:
        try:
            return self.fake_log.read_text().splitlines()
        except OSError:
            return []

    def starts(self, chat: int | None = None) -> int:
        lines = [ln for ln in self.fake_lines() if ln.split()[1:2] == ["start"]]
        if chat is not None:
            lines = [ln for ln in lines if f"--chat chat-{chat}" in ln or f"--chat coordinator-{chat}" in ln]
        return len(lines)

    def alive(self) -> list[int]:
        try:
            names = os.listdir(self.fake_pids)
        except OSError:
            return []
        return [int(n) for n in names if n.isdigit() and pid_alive(int(n))]

    def sessions(self) -> dict[str, dict[str, object]]:
        try:
            return json.loads((self.wg / "chat" / "sessions.json").read_text())["sessions"]  # type: ignore[no-any-return]
        except (OSError, ValueError, KeyError):
            return {}

    def chat_dir(self, n: int) -> Path:
        for uid, s in self.sessions().items():
            if f"chat-{n}" in (s.get("aliases") or []):  # type: ignore[operator]
                base = self.wg / "chat" / ".archive" if s.get("archived_at") else self.wg / "chat"
                return base / uid
        return self.wg / "chat" / str(n)

    def hashes(self, n: int) -> dict[str, str]:
        d = self.chat_dir(n)
        return {
            name: hashlib.sha256((d / name).read_bytes()).hexdigest()
            for name in ("inbox.jsonl", "outbox.jsonl", "chat.log")
            if (d / name).exists()
        }

    def start(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.ok("service", "start", "--max-agents", "0", *args, env=env)

    def outbox(self, n: int) -> list[dict[str, object]]:
        p = self.chat_dir(n) / "outbox.jsonl"
        return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []

    def inbox(self, n: int) -> list[dict[str, object]]:
        p = self.chat_dir(n) / "inbox.jsonl"
        return [json.loads(x) for x in p.read_text().splitlines() if x.strip()] if p.exists() else []


def wait_for(pred: Callable[[], object], timeout: float = 10.0, what: str = "condition") -> object:
    return daemon_helpers.wait_for(pred, timeout, what, interval=0.25)


def holds(pred: Callable[[], object], seconds: float, what: str = "condition") -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert pred(), f"{what} stopped holding"
        time.sleep(0.25)


def _kill(pid: int) -> None:
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
            return
        except (ProcessLookupError, PermissionError):
            continue


def _install_fake(p: ChatProject) -> None:
    script = p.root.parent / "fake-handler"
    script.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{FAKE}" "$@"\n')
    script.chmod(0o755)
    cfg = p.wg / "config.toml"
    text = cfg.read_text() if cfg.exists() else ""
    cfg.write_text(text + f'\n[chat]\nhandler = "{script}"\n')


def stop_all(p: ChatProject) -> None:
    """Stop the daemon (gracefully, then by force) and every fake handler or CLI the test started."""
    pids = daemon_pids(p.wg)
    if pids:
        p.run("service", "stop", timeout=30)
    for pid in pids:
        _kill(pid)
    for pid in p.alive():  # fake handlers this test started
        _kill(pid)


@pytest.fixture
def chatp(project: Project) -> Iterator[ChatProject]:
    p = ChatProject(project.root, project.home)
    p.env = dict(project.env)
    for k in ("WG_CHAT_REF", "WG_CHAT_ID", "WG_CHAT_IDLE_SECS", "FAKE_MODE"):
        p.env.pop(k, None)
    _install_fake(p)
    yield p
    stop_all(p)
