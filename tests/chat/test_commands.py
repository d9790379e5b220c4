"""Chat commands with the dispatcher down: create, list, show, send, archive, delete, offline purge,
migration and bad input (spec chats.md 2, 4, 7 scenarios 2, 6, 7, 8, 13, 17)."""

from __future__ import annotations

import json
import time

from tests.chat.conftest import ChatProject


def test_dormant_create_writes_task_session_and_lists(chatp: ChatProject) -> None:
    r = chatp.ok("chat", "new", "--name", "alpha")
    assert "dormant" in r.out
    assert r.out.splitlines()[0] == "Created chat 0 (task .chat-0). Service is not running — chat is dormant."
    t = chatp.task(".chat-0")
    assert t["status"] == "in-progress" and t["tags"] == ["chat-loop"] and t["title"] == "Chat: alpha"
    assert t["priority"] == 50 and t["command_argv"] and t["executor_preset_name"] == "claude"
    assert t["cycle_config"] == {"max_iterations": 0, "no_converge": True}
    assert t["log"][0]["message"] == "Chat 0 task created via IPC"  # type: ignore[index]
    assert chatp.starts() == 0
    chats = chatp.ok("--json", "chat", "list").json()["chats"]  # type: ignore[index]
    assert [(c["chat_id"], c["status"]) for c in chats] == [(0, "dormant")]
    sessions = chatp.sessions()
    assert [s["aliases"] for s in sessions.values()] == [["chat-0", "coordinator-0", "0"]]
    assert (chatp.chat_dir(0) / "inbox.jsonl").exists() and (chatp.chat_dir(0) / "outbox.jsonl").exists()
    text = chatp.ok("chat", "list").out.splitlines()
    assert text[0] == "ID      STATUS          TASK                      TITLE"
    assert text[1] == "0       dormant         .chat-0                   Chat: alpha — service stopped"
    shown = chatp.ok("--json", "chat", "show", "ALPHA").json()
    assert shown["chat_id"] == 0 and shown["task_status"] == "InProgress"  # type: ignore[index]


def test_json_create_and_overrides_state_file(chatp: ChatProject) -> None:
    out = chatp.ok("--json", "chat", "new", "-m", "claude:opus").json()
    assert out == {
        "chat_id": 0,
        "coordinator_id": 0,
        "task_id": ".chat-0",
        "name": None,
        "service": "down",
        "status": "dormant",
    }
    state = json.loads((chatp.wg / "service" / "coordinator-state-0.json").read_text())
    assert state == {"model_override": "claude:opus"}
    assert chatp.task(".chat-0")["model"] == "claude:opus"


def test_send_while_down_appends_inbox_and_bumps_interaction(chatp: ChatProject) -> None:
    chatp.ok("chat", "new")
    before = chatp.task(".chat-0")["last_interaction_at"]
    time.sleep(0.01)
    r = chatp.ok("chat", "send", "0", "hello")
    assert r.out.strip() == (
        "Appended message #1 to chat 0 inbox. Service is not running — message will be processed when daemon starts."
    )
    msg = chatp.inbox(0)[0]
    assert msg["id"] == 1 and msg["role"] == "user" and msg["content"] == "hello"
    assert str(msg["request_id"]).startswith("wg-chat-send-")
    assert "user: hello" in (chatp.chat_dir(0) / "chat.log").read_text()
    assert chatp.task(".chat-0")["last_interaction_at"] != before
    assert not (chatp.chat_dir(0) / ".cursor").exists()
    r2 = chatp.ok("--json", "chat", "send", "chat-0", "again").json()
    assert r2["inbox_id"] == 2 and r2["service_running"] is False  # type: ignore[index]


def test_bad_input_one_line_nonzero_nothing_changed(chatp: ChatProject) -> None:
    chatp.ok("chat", "new", "--name", "a")
    chatp.ok("chat", "new", "--name", "b")
    chatp.ok("chat", "delete", "1", "-y")
    chatp.ok("chat", "archive", "0")
    graph = chatp.graph_bytes()
    sessions = (chatp.wg / "chat" / "sessions.json").read_bytes()
    cases = [
        (("chat", "archive", "99"), "Chat task '.chat-99' not found"),
        (("chat", "send", "nosuch", "x"), "No chat matching 'nosuch'"),
        (("chat", "archive", "0"), "Chat 0 is already archived"),
        (("chat", "send", "1", "x"), "Chat 1 is deleted"),
        (("chat", "send", "0", "x"), "Chat 0 is archived"),
        (("chat", "delete", "1", "-y"), "Chat 1 is already deleted"),
        (("chat", "archive", "1"), "Chat 1 is deleted"),
        (("service", "archive-chat", "7"), "Chat task '.chat-7' not found"),
        (("chat", "resume", "0"), "Chat 0 is archived"),
        (("chat", "show", "zzz"), "No chat matching 'zzz'"),
    ]
    for args, message in cases:
        r = chatp.fails(*args)
        assert r.err == f"Error: {message}\n", args
        assert r.out == ""
    r = chatp.fails("--json", "chat", "archive", "99")
    assert json.loads(r.out) == {"error": "Chat task '.chat-99' not found"}
    assert chatp.graph_bytes() == graph
    assert (chatp.wg / "chat" / "sessions.json").read_bytes() == sessions
    chatp.fails("chat", "new", "--command", "x", "-m", "m", code=2)


def test_archive_and_delete_down_keep_history(chatp: ChatProject) -> None:
    chatp.ok("chat", "new", "-m", "claude:opus")
    chatp.ok("chat", "send", "0", "keep me")
    r = chatp.ok("chat", "archive", "0")
    assert r.out.strip() == "Archived chat 0 (service was not running)."
    t = chatp.task(".chat-0")
    assert t["status"] == "done" and t["tags"] == ["archived"]
    assert t["log"][-1]["message"] == "Chat 0 archived (service down)"  # type: ignore[index]
    assert t["log"][-1]["actor"] == "wg-chat-archive"  # type: ignore[index]
    d = chatp.chat_dir(0)
    assert d.parent.name == ".archive" and "keep me" in (d / "inbox.jsonl").read_text()
    assert not (chatp.wg / "service" / "coordinator-state-0.json").exists()
    chatp.ok("chat", "new")
    out = chatp.ok("--json", "chat", "delete", "1").json()
    assert out == {"chat_id": 1, "deleted": True, "service": "down"}
    assert chatp.task(".chat-1")["status"] == "abandoned" and chatp.task(".chat-1")["tags"] == ["chat-loop"]
    assert chatp.chat_dir(1).exists()


def test_delete_prompt_declined_changes_nothing(chatp: ChatProject) -> None:
    chatp.ok("chat", "new")
    graph = chatp.graph_bytes()
    r = chatp.ok("chat", "delete", "0", input="n\n")
    assert "Delete chat 0 (graph task abandoned, chat dir preserved)? [y/N]" in r.err
    assert r.out.strip() == "Aborted."
    assert chatp.graph_bytes() == graph


def test_ids_never_reused(chatp: ChatProject) -> None:
    for _ in range(3):
        chatp.ok("chat", "new")
    chatp.ok("service", "purge-chats", "--include-active")
    out = chatp.ok("--json", "chat", "new").json()
    assert out["chat_id"] == 3  # type: ignore[index]
    # an id known only from a session alias or a TUI history file is not reused either
    (chatp.wg / "chat-history-9.jsonl").write_text("")
    assert chatp.ok("--json", "chat", "new").json()["chat_id"] == 10  # type: ignore[index]


def test_cap_refuses_creation(chatp: ChatProject) -> None:
    with open(chatp.wg / "config.toml", "a") as fh:
        fh.write("\n[dispatcher]\nmax_coordinators = 2\n")
    chatp.ok("chat", "new")
    chatp.ok("chat", "new")
    graph = chatp.graph_bytes()
    r = chatp.fails("chat", "new")
    assert r.err == "Error: Chat cap reached (2/2)\n"
    assert chatp.graph_bytes() == graph


def test_offline_purge_archives_removes_state_and_is_idempotent(chatp: ChatProject) -> None:
    chatp.ok("chat", "new", "-m", "claude:opus")
    chatp.ok("chat", "new", "-m", "claude:opus")
    chatp.ok("chat", "send", "0", "hi")
    hashes = {n: chatp.hashes(n) for n in (0, 1)}
    for n in (0, 1):
        assert (chatp.wg / "service" / f"coordinator-state-{n}.json").exists()
    r = chatp.ok("service", "purge-chats", "--include-active")
    assert r.out.strip() == "Daemon not running — purged 2 chat agent(s) directly via graph"
    for n in (0, 1):
        t = chatp.task(f".chat-{n}")
        assert t["status"] == "done" and "archived" in t["tags"] and "chat-loop" not in t["tags"]  # type: ignore[operator]
        assert t["log"][-1] == {  # type: ignore[index]
            **t["log"][-1],  # type: ignore[index, dict-item]
            "actor": "wg service purge-chats",
            "message": f"Chat {n} purged (daemon offline)",
        }
        assert not (chatp.wg / "service" / f"coordinator-state-{n}.json").exists()
        assert chatp.chat_dir(n).parent.name == ".archive"
        assert chatp.hashes(n) == hashes[n]
    graph = chatp.graph_bytes()
    r = chatp.ok("--json", "service", "purge-chats", "--include-active")
    assert r.json() == {"purged": [], "skipped_active": [], "daemon_running": False}
    assert chatp.graph_bytes() == graph, "a second purge changes nothing"


def test_offline_purge_json_and_empty_graph(chatp: ChatProject) -> None:
    r = chatp.ok("--json", "service", "purge-chats")
    assert r.json() == {"purged": [], "skipped_active": [], "daemon_running": False}
    chatp.ok("chat", "new")
    chatp.ok("chat", "new")
    r = chatp.ok("--json", "service", "purge-chats", "--all")
    assert r.json() == {"purged": [0, 1], "skipped_active": [], "daemon_running": False}


def test_offline_purge_skips_active_unless_include_active(chatp: ChatProject) -> None:
    for _ in range(3):
        chatp.ok("chat", "new")
    (chatp.chat_dir(1) / ".cursor").write_text("0\n")  # a consumer is attached to chat 1
    chatp.ok("chat", "send", "2", "pending")  # chat 2 has an unanswered message
    r = chatp.ok("service", "purge-chats")
    assert r.out.strip() == (
        "Daemon not running — purged 1 chat agent(s) directly via graph, skipped 2 active chat(s) "
        "(.chat-1, .chat-2). Pass --include-active to override."
    )
    assert "chat-loop" in chatp.task(".chat-1")["tags"]  # type: ignore[operator]
    assert "chat-loop" in chatp.task(".chat-2")["tags"]  # type: ignore[operator]
    r = chatp.ok("--json", "service", "purge-chats", "--include-active")
    assert r.json() == {"purged": [1, 2], "skipped_active": [], "daemon_running": False}


def test_caller_chat_is_protected(chatp: ChatProject) -> None:
    hints = [
        {"WG_CHAT_REF": ".chat-1"},
        {"WG_CHAT_ID": "1"},
        {"WG_CHAT_REF": "coordinator-1"},
        {"WG_CHAT_REF": "1"},
        {"WG_CHAT_REF": "chat-1"},
    ]
    for env in hints:
        chatp.ok("service", "purge-chats", "--include-active")
        base = chatp.ok("--json", "chat", "new").json()["chat_id"]  # type: ignore[index]
        for _ in range(2):
            chatp.ok("chat", "new")
        # renumber the caller hint onto the middle chat of this round
        key, value = next(iter(env.items()))
        env = {key: value.replace("1", str(base + 1))}
        r = chatp.ok("--json", "service", "purge-chats", env=env).json()
        assert r["purged"] == [base, base + 2] and r["skipped_active"] == [base + 1], env  # type: ignore[index]


def test_migrate_chat_rename(chatp: ChatProject) -> None:
    rows = [
        {"kind": "task", "id": ".coordinator-3", "title": "Coordinator: alice", "status": "in-progress",
         "tags": ["coordinator-loop"], "before": ["feature-x"]},
        {"kind": "task", "id": ".coordinator-0", "title": "Coordinator 0", "status": "in-progress",
         "tags": ["chat-loop"]},
        {"kind": "task", "id": "feature-x", "title": "X", "status": "open", "after": [".coordinator-3"]},
    ]  # fmt: skip
    chatp.graph_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    graph = chatp.graph_bytes()
    dry = chatp.ok("--json", "migrate", "chat-rename", "--dry-run").json()
    assert dry == {
        "renamed_ids": [[".coordinator-3", ".chat-3"], [".coordinator-0", ".chat-0"]],
        "rewritten_edges": 1,
        "renamed_tags": 1,
        "renamed_titles": 2,
        "dry_run": True,
        "skipped_conflicts": [],
    }
    assert chatp.graph_bytes() == graph
    r = chatp.ok("migrate", "chat-rename")
    assert r.out.splitlines()[:3] == [
        "Migration complete:",
        "  task ids renamed: 2",
        "    .coordinator-3 -> .chat-3",
    ]
    assert chatp.task(".chat-3")["title"] == "Chat: alice" and chatp.task(".chat-3")["tags"] == ["chat-loop"]
    assert chatp.task(".chat-3")["before"] == ["feature-x"]
    assert chatp.task(".chat-0")["title"] == "Chat 0"
    assert chatp.task("feature-x")["after"] == [".chat-3"]
    assert not [r for r in chatp.rows() if str(r["id"]).startswith(".coordinator")]
    log = chatp.task(".chat-3")["log"][-1]  # type: ignore[index]
    assert log["actor"] == "migration"  # type: ignore[index]
    assert log["message"] == "wg migrate chat-rename: renamed task id .coordinator-3 -> .chat-3"  # type: ignore[index]
    assert [r["id"] for r in chatp.rows()] == [".chat-3", ".chat-0", "feature-x"], "file order kept"
    again = chatp.ok("migrate", "chat-rename")
    assert again.out.strip() == "No legacy coordinator data found — graph is already on the new schema."


def test_migrate_skips_conflicts(chatp: ChatProject) -> None:
    rows = [
        {"kind": "task", "id": ".coordinator-5", "title": "Coordinator 5", "status": "in-progress",
         "tags": ["chat-loop"]},
        {"kind": "task", "id": ".chat-5", "title": "Chat 5", "status": "in-progress", "tags": ["chat-loop"]},
    ]  # fmt: skip
    chatp.graph_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = chatp.ok("--json", "migrate", "chat-rename").json()
    assert out["renamed_ids"] == [] and out["skipped_conflicts"] == [[".coordinator-5", ".chat-5"]]  # type: ignore[index]
    assert chatp.task(".coordinator-5")["title"] == "Coordinator 5"
    text = chatp.ok("migrate", "chat-rename", "--dry-run").out
    assert "  conflicts skipped: 1\n    .coordinator-5 -> .chat-5 (target exists)" in text


def test_stop_and_resume_need_the_daemon(chatp: ChatProject) -> None:
    chatp.ok("chat", "new")
    graph = chatp.graph_bytes()
    r = chatp.fails("chat", "stop", "0")
    assert r.err.startswith("Error: Cannot stop chat 0: service daemon is not running.")
    r = chatp.fails("chat", "resume", "0")
    assert r.err.startswith("Error: Cannot resume chat 0: service daemon is not running.")
    assert chatp.graph_bytes() == graph
