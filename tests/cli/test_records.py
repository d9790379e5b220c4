"""``wg log``, ``wg artifact`` and ``wg msg`` (spec core 11.12, 11.13, 11.17; acceptance check 21)."""

from __future__ import annotations

import json
import subprocess
import time

from tests.conftest import WG_BIN, Project

TS = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00"


def _add(project: Project, *titles: str) -> None:
    for title in titles:
        project.ok("add", title, "--no-place")


# -- acceptance check 21 ------------------------------------------------------------------------


def test_check_21_log_artifact_msg(project: Project) -> None:
    _add(project, "A")
    assert project.ok("log", "a", "Validated: ok").out == "Added log entry to 'a'\n"
    done = project.ok("done", "a")
    assert "Marked 'a' as done" in done.out
    assert "Tip:" not in done.err

    assert project.ok("artifact", "a", "out.txt").out == "Registered artifact 'out.txt' for task 'a'\n"
    again = project.ok("artifact", "a", "out.txt")
    assert again.out == "Artifact 'out.txt' already registered for task 'a'\n"
    assert project.ok("artifact", "a").out == "Task: a - A\n\nProduced artifacts:\n  out.txt [extra]\n"
    assert project.ok("artifact", "a", "out.txt", "--remove").out == (
        "Removed artifact 'out.txt' from task 'a'\n"
    )
    assert project.ok("artifact", "a").out == "Task: a - A\n\nNo artifacts produced yet.\n"

    before = project.task("a")["last_interaction_at"]
    time.sleep(0.01)
    assert project.ok("msg", "send", "a", "hi").out == "Message #1 sent to 'a'\n"
    after = project.task("a")["last_interaction_at"]
    assert isinstance(after, str) and isinstance(before, str) and after > before

    poll = project.run("msg", "poll", "a")
    assert poll.code == 0, poll.err
    assert "1 new message for 'a'" in poll.out
    read = project.ok("msg", "read", "a")
    assert read.out.startswith("1 unread message for 'a' (agent: user):\n\n  #1 ")
    poll = project.run("msg", "poll", "a")
    assert poll.code == 1
    assert poll.out == "No new messages for task 'a'\n"
    assert "Traceback" not in poll.err


# -- log ----------------------------------------------------------------------------------------


def test_log_add_and_list_text(project: Project) -> None:
    import re

    _add(project, "Alpha task")
    assert project.ok("log", "alpha-task").out == "No log entries for task 'alpha-task'\n"
    project.ok("log", "alpha-task", "first step")
    r = project.ok("log", "alpha-task", "second step", "--actor", "bob", env={"WG_USER": "carol"})
    assert r.out == "Added log entry to 'alpha-task' (bob)\n"
    listing = project.ok("log", "alpha-task", "--list").out
    pattern = (
        rf"Log entries for 'alpha-task' \(Alpha task\):\n\n"
        rf"  {TS}\n    first step\n\n"
        rf"  {TS} \[bob\]\n    second step\n\n"
    )
    assert re.fullmatch(pattern, listing), listing
    log = project.task("alpha-task")["log"]
    assert isinstance(log, list)
    assert log[1]["actor"] == "bob" and log[1]["user"] == "carol" and log[1]["message"] == "second step"
    assert "actor" not in log[0]


def test_log_json_forms(project: Project) -> None:
    _add(project, "A")
    added = project.ok("--json", "log", "a", "did it", "--actor", "x").json()
    assert isinstance(added, dict) and list(added) == ["id", "entry"]
    assert added["id"] == "a" and added["entry"]["message"] == "did it" and added["entry"]["actor"] == "x"
    entries = project.ok("log", "a", "--json").json()
    assert isinstance(entries, list) and len(entries) == 1
    assert list(entries[0]) == ["timestamp", "actor", "user", "message"]
    assert entries[0] == project.task("a")["log"][0]  # type: ignore[index]


def test_log_unknown_ids_and_missing_id(project: Project) -> None:
    _add(project, "Build the widget")
    before = project.graph_bytes()
    r = project.fails("log", "build")
    assert r.err.strip() == "Error: Task 'build' not found. Did you mean 'build-the-widget'?"
    r = project.fails("log", "build", "note")  # the add form carries no suggestion
    assert r.err.strip() == "Error: Task 'build' not found"
    r = project.fails("log")
    assert r.err.strip() == "Error: Task ID is required (use --operations to view the operations log)"
    assert project.graph_bytes() == before


def test_log_operations(project: Project) -> None:
    import re

    ops_file = project.wg / "log" / "operations.jsonl"
    if ops_file.exists():
        ops_file.unlink()
    assert project.ok("log", "--operations").out == "No operations recorded.\n"
    _add(project, "A")
    project.ok("claim", "a", "--actor", "ann")
    out = project.ok("log", "--operations").out
    pattern = rf'Operations log \(2 entries\):\n  {TS} add_task \[a\]\n    \{{"title":"A"\}}\n  {TS} claim \[a\] \(ann\)\n'
    assert re.fullmatch(pattern, out), out
    ops = project.ok("--json", "log", "--operations").json()
    assert isinstance(ops, list) and [o["op"] for o in ops] == ["add_task", "claim"]


# -- artifact -----------------------------------------------------------------------------------


def test_artifact_list_layout_and_json(project: Project) -> None:
    project.ok("add", "Make docs", "--no-place", "--deliverable", "doc.md", "--deliverable", "api.md")
    project.ok("artifact", "make-docs", "doc.md")
    project.ok("artifact", "make-docs", "notes.txt")
    assert project.ok("artifact", "make-docs").out == (
        "Task: make-docs - Make docs\n\n"
        "Expected deliverables:\n  doc.md [produced]\n  api.md\n\n"
        "Produced artifacts:\n  doc.md\n  notes.txt [extra]\n"
    )
    listed = project.ok("--json", "artifact", "make-docs").json()
    assert listed == {
        "task_id": "make-docs",
        "deliverables": ["doc.md", "api.md"],
        "artifacts": ["doc.md", "notes.txt"],
    }
    assert list(listed) == ["task_id", "deliverables", "artifacts"]  # type: ignore[arg-type]


def test_artifact_noop_remove_missing_and_json(project: Project) -> None:
    _add(project, "A")
    res = project.ok("artifact", "a", "x.bin", "--json").json()
    assert res == {"id": "a", "path": "x.bin", "changed": True, "artifacts": ["x.bin"]}
    before = project.graph_bytes()
    res = project.ok("artifact", "a", "x.bin", "--json").json()
    assert res == {"id": "a", "path": "x.bin", "changed": False, "artifacts": ["x.bin"]}
    assert project.graph_bytes() == before
    r = project.fails("artifact", "a", "nope", "--remove")
    assert r.err.strip() == "Error: Artifact 'nope' not found on task 'a'"
    assert project.graph_bytes() == before
    res = project.ok("artifact", "a", "x.bin", "--remove", "--json").json()
    assert res == {"id": "a", "path": "x.bin", "changed": True, "artifacts": []}
    assert "artifacts" not in project.task("a")
    r = project.fails("artifact", "ab")
    assert "Task 'ab' not found. Did you mean 'a'?" in r.err
    ops = [json.loads(line) for line in (project.wg / "log" / "operations.jsonl").read_text().splitlines()]
    arts = [(o["op"], o["detail"]) for o in ops if o["op"].startswith("artifact")]
    assert arts == [("artifact_add", {"path": "x.bin"}), ("artifact_rm", {"path": "x.bin"})]


# -- msg ----------------------------------------------------------------------------------------


def test_msg_list_text_icons_and_json(project: Project) -> None:
    import re

    _add(project, "A")
    assert project.ok("msg", "list", "a").out == "No messages for task 'a'\n"
    project.ok("msg", "send", "a", "line one\nline two")
    project.ok("msg", "send", "a", "now!", "--from", "coordinator", "--priority", "urgent")
    out = project.ok("msg", "list", "a").out
    pattern = (
        rf"Messages for 'a' \(2 total\):\n\n"
        rf"  #1 ✉ \[{TS}\] user\n    line one\n    line two\n\n"
        rf"  #2 ✉ \[{TS}\] coordinator \[URGENT\]\n    now!\n\n"
    )
    assert re.fullmatch(pattern, out), out
    project.ok("msg", "read", "a", "--agent", "ag")
    assert "  #1 👁 [" in project.ok("msg", "list", "a").out
    records = project.ok("--json", "msg", "list", "a").json()
    assert isinstance(records, list) and [m["id"] for m in records] == [1, 2]
    assert list(records[0]) == ["id", "timestamp", "sender", "body", "priority", "status", "read_at"]
    assert records[1]["priority"] == "urgent" and records[1]["status"] == "read"
    lines = (project.wg / "messages" / "a.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == records


def test_msg_send_json_sender_and_stdin(project: Project) -> None:
    _add(project, "A", "B")
    res = project.ok("--json", "msg", "send", "a", "hello").json()
    assert res == {"task_id": "a", "message_id": 1}
    project.ok("msg", "send", "a", "from agent", env={"WG_TASK_ID": "b"})
    project.ok("msg", "send", "a", "explicit", "--from", "zed", env={"WG_TASK_ID": "b"})
    project.ok("msg", "send", "a", "--stdin", input="piped body\n\n")
    records = project.ok("--json", "msg", "list", "a").json()
    assert isinstance(records, list)
    assert [(m["sender"], m["body"]) for m in records] == [
        ("user", "hello"),
        ("b", "from agent"),
        ("zed", "explicit"),
        ("user", "piped body"),
    ]


def test_msg_empty_body_and_unknown_task(project: Project) -> None:
    _add(project, "Build the widget")
    before = project.graph_bytes()
    r = project.fails("msg", "send", "build-the-widget")
    assert r.err.strip() == "Error: Message body required (or use --stdin)"
    r = project.fails("msg", "send", "build-the-widget", "")
    assert r.err.strip() == "Error: Message body cannot be empty"
    r = project.fails("msg", "send", "build-the-widget", "--stdin", input="  \n")
    assert r.err.strip() == "Error: Message body cannot be empty"
    for sub in ("send", "list", "read", "poll"):
        extra = ["hi"] if sub == "send" else []
        r = project.fails("msg", sub, "build-the", *extra)
        assert r.err.strip() == "Error: Task 'build-the' not found. Did you mean 'build-the-widget'?"
    assert project.graph_bytes() == before
    assert not (project.wg / "messages" / "build-the.jsonl").exists()
    assert not (project.wg / "messages" / "build-the-widget.jsonl").exists()


def test_msg_read_advances_cursor_and_poll_json(project: Project) -> None:
    _add(project, "A")
    r = project.run("--json", "msg", "poll", "a")
    assert r.code == 1 and json.loads(r.out) == []
    assert project.ok("msg", "read", "a").out == "No unread messages for task 'a' (agent: user)\n"
    project.ok("msg", "send", "a", "one")
    project.ok("msg", "send", "a", "two")
    polled = project.ok("--json", "msg", "poll", "a", env={"WG_AGENT_ID": "ag-1"}).json()
    assert isinstance(polled, list) and [m["status"] for m in polled] == ["sent", "sent"]
    read = project.ok("--json", "msg", "read", "a", env={"WG_AGENT_ID": "ag-1"}).json()
    assert isinstance(read, list) and [m["id"] for m in read] == [1, 2]
    assert all(m["status"] == "read" and "read_at" in m for m in read)
    assert (project.wg / "messages" / ".cursors" / "ag-1.a").read_text() == "2\n"
    assert project.run("msg", "poll", "a", "--agent", "ag-1").code == 1
    assert project.run("msg", "poll", "a").code == 0  # another reader has its own cursor
    project.ok("msg", "send", "a", "three")
    r = project.ok("msg", "read", "a", "--agent", "ag-1")
    assert r.out.startswith("1 unread message for 'a' (agent: ag-1):\n\n  #3 👁 ")
    assert (project.wg / "messages" / ".cursors" / "ag-1.a").read_text() == "3\n"


def _spawn(project: Project, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [WG_BIN, *args],
        cwd=project.root,
        env=project.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_concurrent_senders_get_unique_ids(project: Project) -> None:
    _add(project, "A")
    procs = [_spawn(project, "msg", "send", "a", f"m{k}") for k in range(8)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    sent = sorted(int(out.split("#")[1].split()[0]) for out, _ in outs)
    assert sent == list(range(1, 9))
    records = [json.loads(line) for line in (project.wg / "messages" / "a.jsonl").read_text().splitlines()]
    assert sorted(m["id"] for m in records) == list(range(1, 9))
    assert sorted(m["body"] for m in records) == [f"m{k}" for k in range(8)]


def test_reader_rewrites_lose_no_concurrent_messages(project: Project) -> None:
    _add(project, "A")
    project.ok("msg", "send", "a", "seed")
    procs = []
    for k in range(8):
        procs.append(_spawn(project, "msg", "send", "a", f"m{k}"))
        procs.append(_spawn(project, "msg", "read", "a", "--agent", f"r{k % 3}"))
    for p in procs:
        p.communicate(timeout=60)
        assert p.returncode == 0
    records = project.ok("--json", "msg", "list", "a").json()
    assert isinstance(records, list)
    assert [m["id"] for m in records] == list(range(1, 10))
