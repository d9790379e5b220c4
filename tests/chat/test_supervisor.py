"""Chat supervisors inside a real daemon with a fake handler (spec chats.md 3, 5, 6, 7)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

from tests.chat.conftest import ChatProject, holds, pid_alive, wait_for

# Observation window for "nothing respawns" checks; the spec says 30 s, CI may shorten it.
QUIET = float(os.environ.get("WG_TEST_CHAT_QUIET_SECS", "30"))


def test_fresh_init_spawns_nothing(chatp: ChatProject) -> None:
    chatp.start()
    wait_for(lambda: "No chat-loop tasks in graph" in chatp.log_text(), 5, "boot line")
    holds(lambda: chatp.starts() == 0, 3, "no handler")
    assert not any(str(r["id"]).startswith(".chat") for r in chatp.rows())
    assert "Coordinator-0" not in chatp.log_text()


def test_dormant_then_eager_create_and_round_trip(chatp: ChatProject) -> None:
    chatp.ok("chat", "new", "--name", "alpha")
    chatp.start()
    wait_for(lambda: chatp.starts() == 1 and len(chatp.alive()) == 1, 10, "chat 0 handler")
    out = chatp.ok("--json", "chat", "new").json()
    assert out == {"coordinator_id": 1, "chat_id": 1, "task_id": ".chat-1", "name": None}
    wait_for(lambda: chatp.starts() == 2, 5, "eager start of chat 1")
    lock = (chatp.chat_dir(1) / ".handler.pid").read_text().splitlines()
    assert pid_alive(int(lock[0]))
    chats = chatp.ok("--json", "chat", "list").json()["chats"]  # type: ignore[index]
    assert [c["status"] for c in chats] == ["supervised", "supervised"]
    r = chatp.ok("chat", "send", "0", "hello")
    assert r.out.strip() == "Appended message #1 to chat 0 inbox."
    rid = chatp.inbox(0)[0]["request_id"]
    wait_for(lambda: any(m["request_id"] == rid for m in chatp.outbox(0)), 10, "reply")
    reply = next(m for m in chatp.outbox(0) if m["request_id"] == rid)
    assert reply["role"] == "coordinator" and reply["content"] == "fake reply #1"
    assert (chatp.chat_dir(0) / ".coordinator-cursor").read_text() == "1\n"
    # queued while the dispatcher is down, answered after it starts
    chatp.ok("service", "stop")
    wait_for(lambda: not chatp.alive(), 5, "handlers gone with the daemon")
    assert chatp.task(".chat-0")["status"] == "in-progress"
    r = chatp.ok("chat", "send", "0", "queued")
    assert "will be processed when daemon starts" in r.out
    rid = chatp.inbox(0)[-1]["request_id"]
    before = chatp.starts()
    chatp.start()
    wait_for(lambda: any(m["request_id"] == rid for m in chatp.outbox(0)), 15, "queued reply")
    wait_for(lambda: chatp.starts() == before + 2, 10, "both chats respawned after restart")


def _three_live_chats(chatp: ChatProject) -> dict[int, dict[str, str]]:
    chatp.start()
    for _ in range(3):
        chatp.ok("chat", "new")
    wait_for(lambda: len(chatp.alive()) == 3, 10, "3 handlers")
    for n in range(3):
        chatp.ok("chat", "send", str(n), f"hi {n}")
    wait_for(lambda: all(chatp.outbox(n) for n in range(3)), 10, "3 replies")
    return {n: chatp.hashes(n) for n in range(3)}


def test_purge_then_restart_nothing_respawns(chatp: ChatProject) -> None:
    """The task's acceptance smoke: 3 chats, purge, restart -> no handler, no respawn, archived, history kept."""
    hashes = _three_live_chats(chatp)
    r = chatp.ok("service", "purge-chats", "--include-active")
    assert r.out.startswith("Purged 3 chat(s)")
    wait_for(lambda: not chatp.alive(), 5, "handlers gone")
    log = chatp.log_text()
    for n in range(3):
        assert f"Coordinator-{n}: chat task .chat-{n} is archived/Done/Abandoned — exiting supervisor" in log
    starts = chatp.starts()
    chatp.ok("service", "stop")
    size = chatp.daemon_log.stat().st_size
    chatp.start()
    holds(lambda: chatp.starts() == starts and not chatp.alive(), QUIET, "no respawn after restart")
    assert "No chat-loop tasks in graph" in chatp.log_text()[size:]
    for n in range(3):
        t = chatp.task(f".chat-{n}")
        assert t["status"] == "done" and "archived" in t["tags"] and "chat-loop" not in t["tags"]  # type: ignore[operator]
        assert chatp.chat_dir(n).parent.name == ".archive"
        assert chatp.hashes(n) == hashes[n]
    for lock in (chatp.wg / "chat").rglob(".handler.pid"):
        assert not pid_alive(int(lock.read_text().split()[0]))
    graph = chatp.graph_bytes()
    again = chatp.ok("--json", "service", "purge-chats", "--include-active").json()
    assert again == {"purged": [], "skipped": [], "errors": []}
    assert chatp.graph_bytes() == graph


def test_purge_via_ipc_skips_live_consumer_unless_include_active(chatp: ChatProject) -> None:
    chatp.start()
    for _ in range(2):
        chatp.ok("chat", "new")
    wait_for(lambda: len(chatp.alive()) == 2, 10, "2 handlers")
    (chatp.chat_dir(1) / ".cursor").write_text("0\n")
    r = chatp.ok("service", "purge-chats")
    assert (
        r.out.strip()
        == "Purged 1 chat(s), skipped 1 active chat(s) (.chat-1). Pass --include-active to override."
    )
    assert "chat-loop" in chatp.task(".chat-1")["tags"]  # type: ignore[operator]
    wait_for(lambda: len(chatp.alive()) == 1, 5, "chat 0 handler gone")
    data = chatp.ok("--json", "service", "purge-chats", env={"WG_CHAT_REF": ".chat-1"}).json()
    assert data["skipped"] == [{"chat_id": 1, "reason": "caller chat", "task_id": ".chat-1"}]  # type: ignore[index]
    data = chatp.ok("--json", "service", "purge-chats", "--include-active").json()
    assert data["purged"] == [{"chat_id": 1, "task_id": ".chat-1"}]  # type: ignore[index]
    wait_for(lambda: not chatp.alive(), 5, "all handlers gone")


def test_archive_stops_handler_for_good(chatp: ChatProject) -> None:
    chatp.start()
    chatp.ok("chat", "new")
    wait_for(lambda: len(chatp.alive()) == 1, 10, "handler")
    uid = next(iter(chatp.sessions()))
    out = chatp.ok("chat", "archive", "0").json()
    assert out == {"coordinator_id": 0, "chat_id": 0, "task_id": ".chat-0"}
    wait_for(lambda: not chatp.alive(), 5, "handler gone")
    holds(lambda: chatp.starts() == 1 and not (chatp.wg / "chat" / uid).exists(), 8, "no respawn")
    assert chatp.sessions()[uid].get("archived_at")
    assert (chatp.wg / "chat" / ".archive" / uid / "inbox.jsonl").exists()
    graph = chatp.graph_bytes()
    r = chatp.fails("chat", "archive", "0")
    assert r.err == "Error: Chat 0 is already archived\n"
    assert chatp.graph_bytes() == graph
    r = chatp.fails("chat", "send", "0", "x")
    assert r.err == "Error: Chat 0 is archived\n"


def test_orphan_exit_removes_state_file_and_never_respawns(chatp: ChatProject) -> None:
    chatp.start()
    chatp.ok("chat", "new")
    chatp.ok("chat", "new", "-m", "claude:opus")
    wait_for(lambda: len(chatp.alive()) == 2, 10, "2 handlers")
    state = chatp.wg / "service" / "coordinator-state-1.json"
    assert state.exists()
    victim = int((chatp.chat_dir(1) / ".handler.pid").read_text().split()[0])
    rows = [r for r in chatp.rows() if r["id"] != ".chat-1"]
    tmp = chatp.wg / "graph.tmp"
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")) + "\n" for r in rows))
    os.replace(tmp, chatp.graph_path)
    graph = chatp.graph_bytes()
    os.kill(victim, signal.SIGKILL)
    wait_for(lambda: "orphan supervisor" in chatp.log_text(), 10, "orphan line")
    holds(lambda: chatp.starts(1) == 1, 5, "no new start for chat 1")
    assert not state.exists()
    assert len(chatp.alive()) == 1
    assert chatp.graph_bytes() == graph, "the orphan exit does not touch the graph"
    chatp.ok("service", "stop")
    chatp.start()
    wait_for(lambda: chatp.starts(0) == 2, 10, "chat 0 restarted")
    holds(lambda: chatp.starts(1) == 1, 3, "chat 1 stays dead")


def test_state_file_without_task_never_starts_a_handler(chatp: ChatProject) -> None:
    (chatp.wg / "service").mkdir(exist_ok=True)
    (chatp.wg / "service" / "coordinator-state-4.json").write_text('{"model_override": "claude:opus"}\n')
    graph = chatp.graph_bytes()
    chatp.start()
    holds(lambda: chatp.starts() == 0, 4, "no handler")
    assert "No chat-loop tasks in graph" in chatp.log_text()
    assert chatp.graph_bytes() == graph
    # a wake for that number is refused, not a supervisor start
    r = chatp.ok("--json", "service", "status").json()
    assert r["chats"]["supervised"] == 0  # type: ignore[index]


def test_idle_rule_then_message_revives(chatp: ChatProject) -> None:
    env = {"FAKE_MODE": "exit0:2", "WG_CHAT_IDLE_SECS": "20"}
    chatp.ok("chat", "new")
    chatp.start(env=env)
    wait_for(lambda: chatp.starts() == 1, 10, "first start")
    wait_for(lambda: "exiting supervisor (no respawn)" in chatp.log_text(), 10, "idle exit")
    assert "Coordinator-0: idle (no consumer + empty inbox for 20s) — exiting supervisor (no respawn)." in (
        chatp.log_text()
    )
    holds(lambda: chatp.starts() == 1 and not chatp.alive(), min(QUIET, 20), "dormant within the threshold")
    t = chatp.task(".chat-0")
    assert t["status"] == "in-progress" and t["tags"] == ["chat-loop"]
    assert chatp.ok("--json", "chat", "list").json()["chats"][0]["status"] == "dormant"  # type: ignore[index]
    # a new message brings a handler back (one-shot consumer waits for the reply)
    r = chatp.ok("chat", "ping", "--coordinator", "0", "--timeout", "20")
    assert r.out.strip() == "fake reply #1"
    assert chatp.starts() == 2
    reply = chatp.outbox(0)[-1]
    assert reply["request_id"] == chatp.inbox(0)[-1]["request_id"]


def test_idle_rule_with_stale_cursor_at_boot(chatp: ChatProject) -> None:
    chatp.ok("chat", "new")
    cursor = chatp.chat_dir(0) / ".cursor"
    cursor.write_text("0\n")
    old = time.time() - 25
    os.utime(cursor, (old, old))
    chatp.start(env={"FAKE_MODE": "exit0:1", "WG_CHAT_IDLE_SECS": "20"})
    wait_for(lambda: "idle (no consumer + empty inbox for 20s)" in chatp.log_text(), 10, "idle exit")
    holds(lambda: chatp.starts() == 1, 4, "no respawn")


def test_clean_exit_with_fresh_consumer_respawns(chatp: ChatProject) -> None:
    chatp.ok("chat", "new")
    (chatp.chat_dir(0) / ".cursor").write_text("0\n")
    chatp.start(env={"FAKE_MODE": "exit0:1", "WG_CHAT_IDLE_SECS": "60"})
    wait_for(lambda: chatp.starts() >= 2, 10, "respawn after a clean exit while a consumer is present")


def test_crash_budget_pauses_and_status_says_so(chatp: ChatProject) -> None:
    chatp.start(env={"FAKE_MODE": "crash:1"})
    chatp.ok("chat", "new")
    wait_for(lambda: chatp.starts() == 3, 20, "three starts")
    wait_for(lambda: "3 crashes in last 10 minutes, pausing" in chatp.log_text(), 10, "pause line")
    holds(lambda: chatp.starts() == 3, 8, "no 4th start")
    assert "Coordinator-0: handler exited with status 1 — will restart" in chatp.log_text()
    status = chatp.ok("service", "status").out
    assert "Chat 0: crash budget exhausted (3 crashes in last 10 minutes), paused for" in status
    data = chatp.ok("--json", "service", "status").json()
    assert data["chats"]["supervisors"][0]["state"] == "crash-paused"  # type: ignore[index]
    assert "archived" not in chatp.task(".chat-0")["tags"]  # type: ignore[operator]


def test_lock_contention_backs_off_without_crash_pause(chatp: ChatProject) -> None:
    chatp.ok("chat", "new")
    holder = subprocess.Popen(["sleep", "600"])
    try:
        (chatp.chat_dir(0) / ".handler.pid").write_text(f"{holder.pid}\n2026-01-01T00:00:00Z\nadapter\n")
        chatp.start()
        wait_for(lambda: "contention #1, retrying in 10s" in chatp.log_text(), 10, "first contention")
        assert chatp.starts() == 0
        holder.kill()
        holder.wait()
        wait_for(lambda: chatp.starts() == 1, 20, "handler after the holder died")
        assert "crashes in last 10 minutes" not in chatp.log_text()
    finally:
        holder.kill()
        holder.wait()


def test_boot_filter(chatp: ChatProject) -> None:
    rows = [
        (".chat-0", "in-progress", ["chat-loop"]),
        (".chat-1", "done", ["chat-loop"]),
        (".chat-2", "in-progress", ["chat-loop", "archived"]),
        (".chat-3", "abandoned", ["chat-loop"]),
        (".chat-4", "open", ["chat-loop"]),
        (".chat-5", "in-progress", ["chat-loop"]),
        (".coordinator-5", "in-progress", ["coordinator-loop"]),
        (".coordinator", "in-progress", ["coordinator-loop"]),
        ("work", "open", []),
    ]
    recs = [
        {"kind": "task", "id": i, "title": i, "status": s, "tags": t, "executor_preset_name": "claude"}
        for i, s, t in rows
    ]
    chatp.graph_path.write_text("".join(json.dumps(r) + "\n" for r in recs))
    chatp.start()
    wait_for(lambda: chatp.starts() == 3, 10, "three starts")
    assert "Spawning 3 chat supervisor(s) from graph: .chat-0, .chat-4, .chat-5" in chatp.log_text()
    holds(lambda: chatp.starts() == 3, 2, "exactly three")


def test_legacy_coordinator_chat_is_migrated_on_boot_and_keeps_history(chatp: ChatProject) -> None:
    """A graph and history written by the original: ``.coordinator-1`` plus a legacy ``chat/1/`` directory."""
    rec = {"kind": "task", "id": ".coordinator-1", "title": "Coordinator: legacy", "status": "in-progress",
           "tags": ["coordinator-loop"], "executor_preset_name": "claude"}  # fmt: skip
    other = {"kind": "task", "id": "feature", "title": "F", "status": "open", "after": [".coordinator-1"]}
    chatp.graph_path.write_text(json.dumps(rec) + "\n" + json.dumps(other) + "\n")
    legacy = chatp.wg / "chat" / "1"
    legacy.mkdir(parents=True)
    old = '{"id":1,"timestamp":"2025-01-01T00:00:00Z","role":"user","content":"old question","request_id":"r1"}\n'
    (legacy / "inbox.jsonl").write_text(old)
    (legacy / "outbox.jsonl").write_text(old.replace('"user"', '"coordinator"').replace("question", "answer"))
    (legacy / ".coordinator-cursor").write_text("1\n")
    chatp.start()
    wait_for(lambda: chatp.starts(1) == 1, 10, "migrated chat started")
    log = chatp.log_text()
    assert "Migrated 1 legacy chat task(s) to .chat-N ids at boot" in log
    assert "Spawning 1 chat supervisor(s) from graph: .chat-1" in log
    t = chatp.task(".chat-1")
    assert t["title"] == "Chat: legacy" and t["tags"] == ["chat-loop"]
    assert chatp.task("feature")["after"] == [".chat-1"]
    assert not legacy.exists()
    d = chatp.chat_dir(1)
    assert "old question" in (d / "inbox.jsonl").read_text()
    assert "old answer" in (d / "outbox.jsonl").read_text()
    aliases = next(iter(chatp.sessions().values()))["aliases"]
    assert set(aliases) == {"chat-1", "coordinator-1", "1"}  # type: ignore[arg-type]
    time.sleep(1)
    assert len(chatp.outbox(1)) == 1, "the old message is not answered twice"
    chatp.ok("chat", "send", "1", "new question")
    wait_for(lambda: len(chatp.outbox(1)) == 2, 10, "reply to the new message")


def test_dispatcher_stop_and_restart(chatp: ChatProject) -> None:
    chatp.start()
    chatp.ok("chat", "new")
    chatp.ok("chat", "new")
    wait_for(lambda: len(chatp.alive()) == 2, 10, "2 handlers")
    chatp.ok("service", "stop")
    wait_for(lambda: not chatp.alive(), 5, "handlers gone")
    for n in (0, 1):
        t = chatp.task(f".chat-{n}")
        assert t["status"] == "in-progress" and "chat-loop" in t["tags"]  # type: ignore[operator]
    assert "Coordinator-0: stopped — exiting supervisor (no respawn)." in chatp.log_text()
    chatp.start()
    wait_for(lambda: chatp.starts() == 4, 10, "both restarted")


def test_interrupt_stop_resume_and_no_chat_agent(chatp: ChatProject) -> None:
    chatp.start()
    chatp.ok("chat", "new")
    wait_for(lambda: len(chatp.alive()) == 1, 10, "handler")
    pid = chatp.alive()[0]
    r = chatp.ok("service", "interrupt-chat", "0")
    assert r.out == '{\n  "chat_id": 0,\n  "interrupted": true\n}\n'
    wait_for(lambda: f"int {pid}" in chatp.fake_lines()[-1], 5, "SIGINT seen")
    time.sleep(1)
    assert chatp.alive() == [pid] and chatp.starts() == 1
    out = chatp.ok("chat", "stop", "0").json()
    assert out == {"coordinator_id": 0, "chat_id": 0, "task_id": ".chat-0"}
    wait_for(lambda: not chatp.alive(), 5, "handler stopped")
    assert chatp.task(".chat-0")["status"] == "open"
    assert chatp.ok("--json", "chat", "list").json()["chats"][0]["status"] == "stopped"  # type: ignore[index]
    chatp.ok("chat", "send", "0", "while stopped")
    holds(lambda: chatp.starts() == 1, 2, "wake does not revive a stopped chat")
    r = chatp.ok("chat", "resume", "0")
    assert r.out.strip() == "Resumed chat 0 (task .chat-0)."
    wait_for(lambda: len(chatp.outbox(0)) == 1, 10, "reply after resume")
    chatp.ok("service", "stop")
    chatp.start("--no-chat-agent")
    holds(lambda: chatp.starts() == 2, 3, "--no-chat-agent starts nothing")
