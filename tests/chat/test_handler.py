"""The default chat handler (``wg spawn-task`` -> ``wg claude-handler``) against a fake claude CLI, through
a real daemon (spec chats.md 3.1, 3.2, 3.5, 7 scenarios 2, 3, 10, 11, 12, 17)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chat.conftest import ChatProject, holds, pid_alive, stop_all, wait_for
from tests.conftest import Project

# The fake claude CLI of the spec 7 harness: stream-json in, stream-json out.
FAKE_CLAUDE = r"""
import json, os, select, signal, sys, time
root = os.environ["FAKE_ROOT"]
log = os.environ.get("FAKE_LOG", os.path.join(root, "fake.log"))
pids = os.environ.get("FAKE_PIDS", os.path.join(root, "fake.pids"))
mode = os.environ.get("FAKE_MODE", "serve")
if sys.argv[1:] == ["--version"]:
    print("fake-claude 0.1")
    sys.exit(0)
def note(text):
    with open(log, "a") as fh:
        fh.write(f"{int(time.time())} {text}\n")
note("start " + " ".join([str(os.getpid()), *sys.argv[1:]]))
os.makedirs(pids, exist_ok=True)
open(os.path.join(pids, str(os.getpid())), "w").close()
def on_term(*_):
    note(f"term {os.getpid()}")
    os._exit(143)
signal.signal(signal.SIGTERM, on_term)
signal.signal(signal.SIGINT, lambda *_: note(f"int {os.getpid()}"))
kind, _, secs = mode.partition(":")
deadline = time.monotonic() + float(secs) if secs else None
k = 0
buf = b""
def emit(obj):
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()
while deadline is None or time.monotonic() < deadline:
    left = 0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic()))
    try:
        ready = select.select([0], [], [], left)[0]
    except InterruptedError:
        continue
    if not ready:
        continue
    chunk = os.read(0, 65536)
    if not chunk:
        if kind == "serve":
            sys.exit(0)
        break
    buf += chunk
    *lines, buf = buf.split(b"\n")
    for line in lines:
        if b'"type":"user"' not in line:
            continue
        k += 1
        text = json.loads(line)["message"]["content"]
        with open(log, "a") as fh:
            fh.write(f"{int(time.time())} user {os.getpid()} {text}\n")
        how = os.environ.get("FAKE_REPLY", "")
        if how.startswith("slow:") and k == 1:
            time.sleep(float(how[5:]))
        if how == "empty":
            emit({"type": "assistant", "message": {"role": "assistant", "content": [], "stop_reason": "end_turn"}})
            emit({"type": "result", "subtype": "success", "result": ""})
            continue
        if how == "result-only":
            emit({"type": "result", "subtype": "success", "result": f"fake reply #{k}"})
            continue
        msg = {"role": "assistant", "content": [{"type": "text", "text": f"fake reply #{k}"}],
               "stop_reason": "end_turn"}
        emit({"type": "assistant", "message": msg})
        emit({"type": "result", "subtype": "success", "result": f"fake reply #{k}"})
while deadline is not None and time.monotonic() < deadline:
    time.sleep(0.1)
sys.exit(1 if kind == "crash" else 0)
"""


class ClaudeProject(ChatProject):
    """A project with the default handler (no ``[chat] handler``) and the fake claude on PATH."""

    def user_lines(self) -> list[str]:
        return [ln for ln in self.fake_lines() if ln.split()[1:2] == ["user"]]


@pytest.fixture
def claudep(project: Project) -> Iterator[ClaudeProject]:
    p = ClaudeProject(project.root, project.home)
    p.env = dict(project.env)
    for k in ("WG_CHAT_REF", "WG_CHAT_ID", "WG_CHAT_IDLE_SECS", "FAKE_MODE", "FAKE_REPLY", "CLAUDECODE"):
        p.env.pop(k, None)
    fakebin = p.root.parent / "fakebin"
    fakebin.mkdir(exist_ok=True)
    fake = fakebin / "claude"
    fake.write_text(f"#!{sys.executable}\n{FAKE_CLAUDE}")
    fake.chmod(0o755)
    p.env["PATH"] = (
        f"{fakebin}{os.pathsep}{os.path.dirname(sys.executable)}{os.pathsep}{p.env.get('PATH', '')}"
    )
    p.env["FAKE_ROOT"] = str(p.root)
    (p.wg / "executors").mkdir(exist_ok=True)
    (p.wg / "executors" / "claude.toml").write_text(f'[executor]\ncommand = "{fake}"\n')
    yield p
    stop_all(p)


def _reply(p: ChatProject, n: int, rid: object) -> dict[str, object] | None:
    return next((m for m in p.outbox(n) if m.get("request_id") == rid), None)


def test_default_handler_round_trip_through_the_daemon(claudep: ClaudeProject) -> None:
    claudep.start()
    out = claudep.ok("--json", "chat", "new", "--exec", "claude", "-m", "claude:opus").json()
    assert out["chat_id"] == 0  # type: ignore[index]
    wait_for(lambda: claudep.starts() == 1 and len(claudep.alive()) == 1, 10, "fake claude started")
    start = next(ln for ln in claudep.fake_lines() if " start " in ln).split()
    argv = start[3:]
    assert argv[:8] == [
        "--print", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
        "--dangerously-skip-permissions", "--system-prompt",
    ]  # fmt: skip
    assert "--allowedTools" in argv and "Bash(wg:*)" in argv
    assert argv[-2:] == ["--model", "opus"]
    lock = (claudep.chat_dir(0) / ".handler.pid").read_text().splitlines()
    assert pid_alive(int(lock[0])) and lock[2] == "adapter"
    # the supervisor holds the handler's pid: spawn-task became the handler in the same process
    cmdline = Path(f"/proc/{lock[0]}/cmdline").read_bytes().split(b"\0")
    assert b"spawn-task" in cmdline and b".chat-0" in cmdline

    r = claudep.ok("chat", "send", "0", "hello")
    assert r.out.strip() == "Appended message #1 to chat 0 inbox."
    rid = claudep.inbox(0)[0]["request_id"]
    assert str(rid).startswith("wg-chat-send-")
    reply = wait_for(lambda: _reply(claudep, 0, rid), 10, "reply to hello")
    assert isinstance(reply, dict)
    assert reply["role"] == "coordinator" and reply["content"] == "fake reply #1" and reply["id"] == 1
    d = claudep.chat_dir(0)
    assert (d / ".coordinator-cursor").read_text() == "1\n"
    assert not (d / ".streaming").exists()
    log = (d / "chat.log").read_text()
    assert "user: hello" in log and "coordinator: fake reply #1" in log
    assert claudep.user_lines()[0].endswith(" hello")
    assert claudep.task(".chat-0")["last_interaction_at"] == reply["timestamp"]

    # the one-shot consumer gets its reply from the same long-lived claude process
    r = claudep.ok("chat", "second question", "--coordinator", "0")
    assert r.out.strip() == "fake reply #2"
    assert claudep.starts() == 1
    assert (d / ".coordinator-cursor").read_text() == "2\n"

    # queued while the dispatcher is down, answered after it starts
    claudep.ok("service", "stop")
    wait_for(lambda: not claudep.alive(), 5, "fake claude gone with the daemon")
    assert not pid_alive(int(lock[0]))
    assert not (d / ".handler.pid").exists()
    r = claudep.ok("chat", "send", "0", "queued")
    assert "will be processed when daemon starts" in r.out
    rid = claudep.inbox(0)[-1]["request_id"]
    claudep.start()
    reply = wait_for(lambda: _reply(claudep, 0, rid), 15, "queued reply")
    assert reply["content"] == "fake reply #1"  # type: ignore[index]  # a fresh claude counts from 1
    assert [m["id"] for m in claudep.outbox(0)] == [1, 2, 3]


def test_idle_exit_is_not_respawned_and_a_message_revives(claudep: ClaudeProject) -> None:
    claudep.start(env={"WG_CHAT_IDLE_SECS": "3"})
    claudep.ok("chat", "new")
    wait_for(lambda: claudep.starts() == 1, 10, "handler started")
    wait_for(lambda: "exiting supervisor (no respawn)" in claudep.log_text(), 15, "idle exit")
    log = claudep.log_text()
    assert "Coordinator-0: idle (no consumer + empty inbox for 3s) — exiting supervisor (no respawn)." in log
    assert "handler exited" not in log  # a clean exit, not a crash
    assert not claudep.alive()
    holds(lambda: claudep.starts() == 1 and not claudep.alive(), 6, "no respawn while idle")
    task = claudep.task(".chat-0")
    assert task["status"] == "in-progress" and task["tags"] == ["chat-loop"]
    assert claudep.ok("--json", "chat", "show", "0").json()["runtime_status"] == "dormant"  # type: ignore[index]
    # a new message wakes the dormant chat
    r = claudep.ok("--json", "chat", "ping", "--coordinator", "0")
    data = r.json()
    assert data["reply"] == "fake reply #1"  # type: ignore[index]
    assert claudep.starts() == 2
    assert _reply(claudep, 0, data["request_id"]) is not None  # type: ignore[index]


def test_claude_exiting_zero_with_no_consumer_leaves_the_chat_dormant(claudep: ClaudeProject) -> None:
    """Spec 7 scenario 10 with the default handler: the CLI exits 0, the handler exits 0, idle -> no respawn."""
    claudep.start(env={"FAKE_MODE": "exit0:1"})
    claudep.ok("chat", "new")
    wait_for(lambda: "exiting supervisor (no respawn)" in claudep.log_text(), 15, "idle exit")
    assert "idle (no consumer + empty inbox for 300s)" in claudep.log_text()
    holds(lambda: claudep.starts() == 1 and not claudep.alive(), 5, "no respawn")
    assert "chat-loop" in claudep.task(".chat-0")["tags"]  # type: ignore[operator]


def test_crashing_claude_uses_the_crash_budget(claudep: ClaudeProject) -> None:
    claudep.start(env={"FAKE_MODE": "crash:1"})
    claudep.ok("chat", "new")
    wait_for(lambda: claudep.starts() == 3, 20, "three starts")
    wait_for(lambda: "3 crashes in last 10 minutes, pausing" in claudep.log_text(), 10, "crash pause")
    holds(lambda: claudep.starts() == 3, 8, "no fourth start")
    log = claudep.log_text()
    assert "Coordinator-0: handler exited with status 1 — will restart" in log
    assert "[coordinator-0 stderr] chat 0: LLM CLI exited with status 1" in log
    assert "archived" not in claudep.task(".chat-0")["tags"]  # type: ignore[operator]


def test_missing_claude_binary_is_a_crash_not_a_hang(claudep: ClaudeProject) -> None:
    (claudep.wg / "executors" / "claude.toml").write_text('[executor]\ncommand = "/nonexistent/claude"\n')
    claudep.start()
    claudep.ok("chat", "new")
    wait_for(lambda: "3 crashes in last 10 minutes, pausing" in claudep.log_text(), 20, "crash pause")
    assert "cannot start the LLM CLI" in claudep.log_text()
    stderr_log = claudep.wg / "service" / "nex-handler-stderr-0.log"
    assert "cannot start the LLM CLI" in stderr_log.read_text()


# -- the handler run by hand (no daemon) ------------------------------------------------------------


def _handler(p: ClaudeProject, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    from tests.conftest import WG_BIN

    full = dict(p.env)
    full.update(env or {})
    return subprocess.Popen(
        [WG_BIN, "claude-handler", "--chat", "chat-0", *args],
        cwd=p.root,
        env=full,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_busy_lock_exits_75_at_once(claudep: ClaudeProject) -> None:
    claudep.ok("chat", "new")
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        d = claudep.chat_dir(0)
        (d / ".handler.pid").write_text(f"{sleeper.pid}\n2026-01-01T00:00:00Z\nadapter\n")
        began = time.monotonic()
        proc = _handler(claudep)
        try:
            assert proc.wait(timeout=10) == 75
        finally:
            _stop(proc)
        assert time.monotonic() - began < 5
        assert claudep.starts() == 0  # no LLM process before the lock
        assert (d / ".handler.pid").read_text().startswith(f"{sleeper.pid}\n")
        assert proc.stdout is not None and proc.stdout.read() == ""
    finally:
        sleeper.kill()
        sleeper.wait()
    # a dead holder is taken over
    proc = _handler(claudep)
    try:
        wait_for(lambda: claudep.starts() == 1, 10, "claude started after a stale lock")
        lock = (claudep.chat_dir(0) / ".handler.pid").read_text().splitlines()
        assert lock[0] == str(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) != 0
    assert not (claudep.chat_dir(0) / ".handler.pid").exists()
    wait_for(lambda: any(ln.split()[1] == "term" for ln in claudep.fake_lines()), 5, "claude got SIGTERM")


def test_missing_cursor_skips_answered_history_and_result_only_replies(claudep: ClaudeProject) -> None:
    """Spec 3.5.2: history of the original has no ``.coordinator-cursor``; answered messages stay
    answered. A turn without assistant text takes the ``result`` as the reply."""
    claudep.ok("chat", "new")
    d = claudep.chat_dir(0)
    rows_in = [
        {"id": 1, "timestamp": "2026-01-01T00:00:00Z", "role": "user", "content": "old", "request_id": "r1"},
        {"id": 2, "timestamp": "2026-01-01T00:00:01Z", "role": "user", "content": "new", "request_id": "r2"},
    ]
    rows_out = [
        {
            "id": 1,
            "timestamp": "2026-01-01T00:00:00Z",
            "role": "coordinator",
            "content": "a",
            "request_id": "r1",
        }
    ]
    (d / "inbox.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_in))
    (d / "outbox.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows_out))
    proc = _handler(claudep, "-m", "sonnet", env={"FAKE_REPLY": "result-only", "WG_CHAT_IDLE_SECS": "2"})
    try:
        reply = wait_for(lambda: _reply(claudep, 0, "r2"), 10, "reply to r2")
        assert reply["content"] == "fake reply #1"  # type: ignore[index]
        assert [ln.split(" ", 3)[3] for ln in claudep.user_lines()] == ["new"]
        assert (d / ".coordinator-cursor").read_text() == "2\n"
        assert [m["request_id"] for m in claudep.outbox(0)] == ["r1", "r2"]
        # no consumer, empty inbox: exits 0 after the idle threshold and releases the lock
        assert proc.wait(timeout=30) == 0
    finally:
        _stop(proc)
    assert not (d / ".handler.pid").exists()
    assert "idle for 2s" in (proc.stderr.read() if proc.stderr else "")
    start = next(ln for ln in claudep.fake_lines() if " start " in ln).split()
    assert start[-2:] == ["--model", "sonnet"]


def test_release_marker_and_interrupt(claudep: ClaudeProject) -> None:
    claudep.ok("chat", "new")
    d = claudep.chat_dir(0)
    proc = _handler(claudep)
    try:
        wait_for(lambda: claudep.starts() == 1, 10, "claude started")
        fake_pid = claudep.alive()[0]
        os.kill(proc.pid, signal.SIGINT)  # forwarded to the LLM child only
        wait_for(lambda: f"int {fake_pid}" in claudep.fake_log.read_text(), 5, "SIGINT forwarded")
        assert proc.poll() is None
        (d / ".handler.release-requested").write_text("")
        assert proc.wait(timeout=10) == 0
    finally:
        _stop(proc)
    assert not (d / ".handler.release-requested").exists()
    assert not (d / ".handler.pid").exists()
    wait_for(lambda: not claudep.alive(), 5, "claude ended on EOF")


def test_turn_timeout_then_late_reply_is_ignored(claudep: ClaudeProject) -> None:
    """Spec 3.5.3: after the turn timeout the timeout text is the reply; the late output of that turn
    never becomes the answer to the next message."""
    claudep.ok("chat", "new")
    env = {"FAKE_REPLY": "slow:3", "WG_CHAT_TURN_TIMEOUT_SECS": "1"}
    proc = _handler(claudep, env=env)
    try:
        wait_for(lambda: claudep.starts() == 1, 10, "claude started")
        claudep.ok("chat", "send", "0", "first")
        rid1 = claudep.inbox(0)[0]["request_id"]
        first = wait_for(lambda: _reply(claudep, 0, rid1), 10, "timeout reply")
        assert first == {**first, "role": "system-error"}  # type: ignore[dict-item]
        assert first["content"] == "The coordinator timed out processing your message."  # type: ignore[index]
        time.sleep(1.1)  # distinct request ids (unix ms)
        claudep.ok("chat", "send", "0", "second")
        rid2 = claudep.inbox(0)[1]["request_id"]
        second = wait_for(lambda: _reply(claudep, 0, rid2), 10, "second reply")
        assert second["content"] == "fake reply #2"  # type: ignore[index]
        time.sleep(1)
        assert [m["request_id"] for m in claudep.outbox(0)] == [rid1, rid2]
    finally:
        _stop(proc)


def test_empty_reply_gets_the_placeholder_text(claudep: ClaudeProject) -> None:
    claudep.ok("chat", "new")
    proc = _handler(claudep, env={"FAKE_REPLY": "empty"})
    try:
        claudep.ok("chat", "send", "0", "anything")
        rid = claudep.inbox(0)[0]["request_id"]
        reply = wait_for(lambda: _reply(claudep, 0, rid), 10, "reply")
        assert reply["role"] == "coordinator"  # type: ignore[index]
        assert reply["content"] == "The coordinator processed your message but produced no response text."  # type: ignore[index]
    finally:
        _stop(proc)


def test_attach_prints_replies_and_keeps_the_chat_awake(claudep: ClaudeProject) -> None:
    from tests.conftest import WG_BIN

    claudep.ok("chat", "new")
    d = claudep.chat_dir(0)
    proc = _handler(claudep, env={"WG_CHAT_IDLE_SECS": "2"})
    attach = subprocess.Popen(
        [WG_BIN, "chat", "attach", "0", "--timeout", "6"],
        cwd=claudep.root,
        env=claudep.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: (d / ".cursor").exists(), 10, "attach writes .cursor")
        claudep.ok("chat", "send", "0", "hello")
        out, err = attach.communicate(timeout=30)
        assert attach.returncode == 0
        assert out == "fake reply #1\n"
        assert "Attached to chat 0" in err
        assert (d / ".cursor").read_text() == "1\n"
        # the attached consumer kept the handler alive past the 2 s idle threshold
        assert proc.poll() is None
        assert proc.wait(timeout=30) == 0  # idle once the consumer is gone
    finally:
        _stop(proc)
        if attach.poll() is None:
            attach.kill()
            attach.wait()
    bad = claudep.fails("chat", "attach", "nosuch")
    assert "No chat matching 'nosuch'" in bad.err


FAKE_CODEX = r"""
import json, os, sys, time
log = os.path.join(os.environ["FAKE_ROOT"], "codex.log")
text = sys.stdin.read()
with open(log, "a") as fh:
    fh.write(json.dumps(sys.argv[1:]) + "\n")
args = sys.argv[1:]
if "resume" not in args:
    print(json.dumps({"type": "thread.started", "thread_id": "thread-42"}))
print(json.dumps({"type": "turn.started"}))
print(json.dumps({"type": "item.completed", "item": {"type": "agent_message", "text": f"codex says {text}"}}))
print(json.dumps({"type": "turn.completed"}))
sys.exit(3 if text == "fail" else 0)
"""


def test_codex_chat_through_spawn_task(claudep: ClaudeProject) -> None:
    fake = claudep.root.parent / "fakebin" / "codex"
    fake.write_text(f"#!{sys.executable}\n{FAKE_CODEX}")
    fake.chmod(0o755)
    (claudep.wg / "executors" / "codex.toml").write_text(f'[executor]\ncommand = "{fake}"\n')
    claudep.start()
    claudep.ok("chat", "new", "--exec", "codex", "-m", "codex:gpt-5")
    assert claudep.ok("chat", "one", "--coordinator", "0").out == "codex says one\n"
    assert claudep.ok("chat", "two", "--coordinator", "0").out == "codex says two\n"
    calls = [json.loads(x) for x in (claudep.root / "codex.log").read_text().splitlines()]
    assert calls[0][:2] == ["exec", "--json"] and calls[0][-3:] == ["--model", "gpt-5", "-"]
    assert calls[1][-3:] == ["resume", "thread-42", "-"]
    r = claudep.ok("--json", "chat", "fail", "--coordinator", "0").json()
    assert r["reply"] == "codex says fail"  # type: ignore[index]  # text came before the failure
    lock = (claudep.chat_dir(0) / ".handler.pid").read_text().split()
    cmdline = Path(f"/proc/{lock[0]}/cmdline").read_bytes().split(b"\0")
    assert b"spawn-task" in cmdline
    assert "executor=codex, model=codex:gpt-5" in claudep.log_text()
