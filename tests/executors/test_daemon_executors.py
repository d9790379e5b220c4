"""Executors through a real daemon with fake ``claude`` and ``wg native-exec`` programs (spec service 5.4, 6, 7,
11.13-11.15)."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import WG_BIN, Project
from tests.daemon_helpers import started_pid, svc, wait_for

__all__ = ["svc"]  # the fixture: daemon and agents killed at the end, even on failure

SECRET = "sk-test-secret"
NO_WORK = "Agent exited 0 without producing any work (no wg log, no artifacts, no diff, no commits)"
# The fake decides by the task id's prefix: done-* logs and finishes, lazy-* exits 0 silently, crash-* exits 1.
FAKE_CLAUDE = """#!/bin/bash
rec="$FAKE_RECORD/$WG_TASK_ID"
printf '%s\\n' "$@" > "$rec.argv"
cat > "$rec.stdin"
env > "$rec.env"
case "$WG_TASK_ID" in
  done-*) wg log "$WG_TASK_ID" "working" && wg done "$WG_TASK_ID" ;;
  lazy-*) exit 0 ;;
  crash-*) echo "boom" >&2; exit 1 ;;
esac
"""
FAKE_WG = """#!/bin/bash
if [ "$1" = native-exec ]; then
  rec="$FAKE_RECORD/$WG_TASK_ID"
  printf '%s\\n' "$@" > "$rec.argv"
  env > "$rec.env"
  cat "/proc/$$/cmdline" | tr '\\0' ' ' > "$rec.cmdline"
  exec {real} done "$WG_TASK_ID"
fi
exec {real} "$@"
"""


def fakes(p: Project, *, claude: bool = True, native: bool = False) -> dict[str, str]:
    """Write the fakes; the daemon's environment (PATH first, a secret, the record directory)."""
    bin_dir = p.root.parent / "fakebin"
    bin_dir.mkdir(exist_ok=True)
    record = p.root.parent / "record"
    record.mkdir(exist_ok=True)
    if claude:
        (bin_dir / "claude").write_text(FAKE_CLAUDE)
        (bin_dir / "claude").chmod(0o755)
    if native:
        (bin_dir / "wg").write_text(FAKE_WG.format(real=WG_BIN))
        (bin_dir / "wg").chmod(0o755)
    wg_dir = os.path.dirname(sys.executable)
    path = f"{bin_dir}:{wg_dir}:/usr/bin:/bin"
    return {"PATH": path, "FAKE_RECORD": str(record), "ANTHROPIC_API_KEY": SECRET}


def registry(p: Project) -> dict[str, dict[str, object]]:
    agents = json.loads((p.wg / "service" / "registry.json").read_text())["agents"]
    assert isinstance(agents, dict)
    return agents


def no_secret_in_agent_files(p: Project, secret: str) -> None:
    for adir in (p.wg / "agents").iterdir():
        for f in adir.rglob("*"):
            if f.is_file():
                assert secret not in f.read_text(errors="replace"), f
    assert secret not in (p.wg / "service" / "daemon.log").read_text()


def test_fake_claude_outcomes(svc: Project) -> None:
    env = fakes(svc)
    started_pid(svc, env=env)
    for tid in ("done-a", "lazy-b", "crash-c"):
        svc.ok("add", tid, "--id", tid, "-d", f"Description of {tid}", "--no-place")
    terminal = ("done", "failed")
    wait_for(
        lambda: all(svc.task(t)["status"] in terminal for t in ("done-a", "lazy-b", "crash-c")),
        15,
        "outcomes",
    )
    wait_for(
        lambda: all(
            e.get("status") not in ("working", "starting", "stopping") for e in registry(svc).values()
        ),
        5,
        "reaped",
    )
    assert svc.task("done-a")["status"] == "done"
    lazy = svc.task("lazy-b")
    assert (lazy["status"], lazy["failure_class"], lazy["failure_reason"]) == (
        "failed",
        "agent-no-work",
        NO_WORK,
    )
    crash = svc.task("crash-c")
    assert (crash["status"], crash["failure_class"], crash["failure_reason"]) == (
        "failed",
        "agent-exit-nonzero",
        "Agent exited with code 1",
    )
    by_task = {str(e["task_id"]): e for e in registry(svc).values()}
    assert {t: by_task[t]["status"] for t in by_task} == {
        "done-a": "done",
        "lazy-b": "failed",
        "crash-c": "failed",
    }
    assert all(e["executor"] == "claude" and e["model"] == "claude:opus" for e in by_task.values())

    record = Path(env["FAKE_RECORD"])
    argv = (record / "done-a.argv").read_text().splitlines()
    assert argv == [
        "--print", "--verbose", "--permission-mode", "bypassPermissions", "--output-format", "stream-json",
        "--disallowedTools", "Agent,EnterWorktree,ExitWorktree", "--disable-slash-commands", "--model", "opus",
    ]  # fmt: skip
    stdin = (record / "done-a.stdin").read_text()
    assert stdin.startswith("# Task Assignment") and stdin.endswith("Begin working on the task now.\n")
    assert "- **ID:** done-a" in stdin and "Description of done-a" in stdin
    agent_env = dict(
        line.split("=", 1) for line in (record / "done-a.env").read_text().splitlines() if "=" in line
    )
    agent_id = str(by_task["done-a"]["id"])
    assert agent_env["WG_TASK_ID"] == "done-a" and agent_env["WG_AGENT_ID"] == agent_id
    assert os.path.samefile(agent_env["WG_DIR"], svc.wg) and agent_env["WG_MODEL"] == "claude:opus"
    assert agent_env["WG_EXECUTOR_TYPE"] == "claude" and "WG_API_KEY" not in agent_env
    assert agent_env["ANTHROPIC_API_KEY"] == SECRET  # inherited through the environment only

    adir = svc.wg / "agents" / agent_id
    # No `exit_code` demanded here: the agent ran `wg done` itself, and a tick landing before its run.sh
    # finishes must stop it (service.md 5.2 phase A step 3), before the wrapper writes that file.
    assert {"output.log", "prompt.txt", "run.sh", "metadata.json", "raw_stream.jsonl"} <= set(
        os.listdir(adir)
    )
    meta = json.loads((adir / "metadata.json").read_text())
    assert set(meta) == {
        "agent_id", "pid", "task_id", "executor", "model", "started_at", "timeout_secs", "artifacts_at_spawn",
    }  # fmt: skip
    assert meta["pid"] == by_task["done-a"]["pid"] and meta["timeout_secs"] == 1800
    assert "boom" in (svc.wg / "agents" / str(by_task["crash-c"]["id"]) / "output.log").read_text()
    log = (svc.wg / "service" / "daemon.log").read_text()
    assert (
        "[dispatcher] done-a: SpawnPlan executor=claude (from model claude:opus), model=claude:opus "
        "(from agent.model), endpoint=none" in log
    )
    messages = [str(e.get("message")) for e in svc.task("done-a")["log"]]  # type: ignore[union-attr]
    assert "Spawned by dispatcher --executor claude --model claude:opus" in messages
    no_secret_in_agent_files(svc, SECRET)
    svc.ok("service", "stop")


def test_start_model_flag_and_task_model(svc: Project) -> None:
    env = fakes(svc)
    started_pid(svc, "--model", "claude:haiku", env=env)
    svc.ok("add", "done-x", "--id", "done-x", "--no-place")
    svc.ok("add", "done-y", "--id", "done-y", "--model", "claude:sonnet", "--no-place")
    wait_for(lambda: all(svc.task(t)["status"] == "done" for t in ("done-x", "done-y")), 15, "both done")
    record = Path(env["FAKE_RECORD"])
    assert (record / "done-x.argv").read_text().splitlines()[-2:] == ["--model", "haiku"]
    assert (record / "done-y.argv").read_text().splitlines()[-2:] == ["--model", "sonnet"]
    svc.ok("service", "stop")


def test_missing_claude_fails_task_daemon_stays_up(svc: Project) -> None:
    if shutil.which("claude", path="/usr/bin:/bin"):
        pytest.skip("a real claude is installed")
    env = fakes(svc, claude=False)
    pid = started_pid(svc, env=env)
    svc.ok("add", "x", "--id", "x", "--no-place")
    wait_for(lambda: svc.task("x")["status"] == "failed", 5, "x failed")
    x = svc.task("x")
    assert x["failure_class"] == "spawn-failed"
    assert x["failure_reason"] == "Executor 'claude' not found: 'claude' is not on PATH"
    assert svc.ok("service", "status").out.startswith(f"Service: running (PID {pid})")
    svc.ok("service", "stop")


def test_native_secret_travels_in_env_only(svc: Project) -> None:
    env = fakes(svc, claude=False, native=True)
    env["OPENROUTER_API_KEY"] = "sk-or-native-secret"
    (svc.wg / "config.toml").write_text(
        (svc.wg / "config.toml").read_text()
        + '\n[[llm_endpoints.endpoints]]\nname = "or"\nprovider = "openrouter"\nurl = "https://o.example/v1"\n'
        'api_key_env = "OPENROUTER_API_KEY"\nis_default = true\n'
    )
    started_pid(svc, env=env)
    svc.ok("add", "n", "--id", "n", "--model", "openrouter:qwen/qwen3", "--no-place")
    wait_for(lambda: svc.task("n")["status"] == "done", 15, "native task done")
    record = Path(env["FAKE_RECORD"])
    argv = (record / "n.argv").read_text().splitlines()
    adir = svc.wg / "agents" / "agent-1"
    assert argv == [
        "native-exec", "--prompt-file", f"{adir}/prompt.txt", "--exec-mode", "full", "--task-id", "n",
        "--model", "qwen/qwen3", "--provider", "openrouter", "--endpoint-name", "or",
        "--endpoint-url", "https://o.example/v1",
    ]  # fmt: skip
    agent_env = dict(
        line.split("=", 1) for line in (record / "n.env").read_text().splitlines() if "=" in line
    )
    assert agent_env["WG_API_KEY"] == "sk-or-native-secret" and agent_env["WG_LLM_PROVIDER"] == "openrouter"
    assert "sk-or-native-secret" not in (record / "n.cmdline").read_text()
    no_secret_in_agent_files(svc, "sk-or-native-secret")
    no_secret_in_agent_files(svc, SECRET)
    svc.ok("service", "stop")


def test_shell_tasks_unchanged(svc: Project) -> None:
    started_pid(svc)
    svc.ok("add", "a", "--id", "a", "--exec", "echo hi > a.txt", "--no-place")
    svc.ok("add", "b", "--id", "b", "--exec", "exit 3", "--no-place")
    wait_for(
        lambda: svc.task("a")["status"] == "done" and svc.task("b")["status"] == "failed", 5, "shell tasks"
    )
    assert (svc.root / "a.txt").read_text() == "hi\n"
    assert svc.task("b")["failure_reason"] == "Command exited with code 3"
    for aid in ("agent-1", "agent-2"):
        names = set(os.listdir(svc.wg / "agents" / aid))
        assert {"output.log", "prompt.txt", "run.sh", "metadata.json", "exit_code", "stream.jsonl"} <= names
    svc.ok("service", "stop")
