"""The service daemon end to end: real daemons in temp repos (spec service 3, 4, 5.1-5.4)."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import time

from tests.conftest import Project
from tests.daemon_helpers import kill_group as _kill_group  # noqa: F401  (imported from here by other tests)
from tests.daemon_helpers import pid_alive, started_pid, svc, wait_for

__all__ = ["svc"]


class Conn:
    """One raw IPC connection."""

    def __init__(self, path: str) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.buf = b""

    def send(self, raw: bytes) -> None:
        self.sock.sendall(raw)

    def line(self) -> dict[str, object]:
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        value = json.loads(line)
        assert isinstance(value, dict)
        return value

    def ask(self, req: dict[str, object]) -> dict[str, object]:
        self.send(json.dumps(req).encode() + b"\n")
        return self.line()

    def close(self) -> None:
        self.sock.close()


def sock_path(p: Project) -> str:
    path = json.loads((p.wg / "service" / "state.json").read_text())["socket_path"]
    assert isinstance(path, str)
    return path


# -- lifecycle ------------------------------------------------------------------------------------


def test_start_status_stop_lifecycle(svc: Project) -> None:
    pid = started_pid(svc)
    r = svc.ok("service", "start")
    lines = r.out.splitlines()
    assert lines[0] == (
        f"Service already running (PID {pid}). Use 'wg service stop' first or 'wg service start --force'."
    )
    assert lines[1] == f"Socket: {svc.wg / 'service' / 'daemon.sock'}"
    state = json.loads((svc.wg / "service" / "state.json").read_text())
    assert state["pid"] == pid
    assert int((svc.wg / "service" / "daemon.lock").read_text()) == pid
    assert stat.S_IMODE(os.stat(state["socket_path"]).st_mode) == 0o600

    out = svc.ok("service", "status").out.splitlines()
    assert out[0] == f"Service: running (PID {pid})"
    assert out[1] == f"Socket: {state['socket_path']}"
    assert out[2].startswith("Uptime: ")
    assert out[3] == "Agents: 0 alive, 0 idle, 0 total"
    assert out[4] == "Dispatcher: enabled, max_agents=8, poll_interval=60s, executor=claude, model=default"
    assert out[-1] == f"Log: {svc.wg / 'service' / 'daemon.log'}"
    data = svc.ok("service", "status", "--json").json()
    assert isinstance(data, dict) and data["status"] == "running" and data["pid"] == pid

    assert svc.ok("service", "stop").out == f"Service stopped (PID {pid}), agents continue running\n"
    assert not pid_alive(pid)
    assert not (svc.wg / "service" / "state.json").exists()
    assert not (svc.wg / "service" / "daemon.sock").exists()
    assert svc.ok("service", "status").out == "Service: not running\n"
    assert svc.ok("service", "stop").out == "Service not running\n"
    log = (svc.wg / "service" / "daemon.log").read_text()
    assert f"Daemon starting (PID {pid}" in log and "Daemon shutdown complete" in log


def test_second_daemon_exits_3_and_restart_after_kill9(svc: Project) -> None:
    pid = started_pid(svc, "--max-agents", "3")
    r = svc.run("service", "daemon")
    assert r.code == 3
    assert (
        f"Another daemon holds the lock (PID {pid}); exiting"
        in (svc.wg / "service" / "daemon.log").read_text()
    )
    assert pid_alive(pid)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid), what="daemon death")
    status = svc.ok("service", "status").out
    assert status == "Service: not running (cleaned up stale state)\n"
    pid2 = started_pid(svc)
    assert pid2 != pid
    svc.ok("service", "stop")


def test_stop_refused_in_agent_context(svc: Project) -> None:
    started_pid(svc)
    r = svc.fails("service", "stop", env={"WG_AGENT_ID": "agent-1"})
    assert "agents cannot stop/pause the service" in r.err
    svc.ok("service", "stop")


# -- IPC ------------------------------------------------------------------------------------------


def test_ipc_framing_and_bad_requests(svc: Project) -> None:
    pid = started_pid(svc)
    conn = Conn(sock_path(svc))
    try:
        conn.send(b'{"cmd":"status"}\n\n{"cmd":"nope"}\n{"cmd":"kick_dispatcher"}\nnot json\n')
        first = conn.line()
        assert first["ok"] is True and first["status"] == "running" and first["pid"] == pid
        assert isinstance(first["coordinator"], dict) and "agents_spawned_last_tick" in first["coordinator"]
        bad = conn.line()
        assert bad["ok"] is False and str(bad["error"]).startswith("Invalid request:")
        kick = conn.line()
        assert kick == {"ok": True, "status": "ok", "action": "dispatcher_kicked"}
        garbage = conn.line()
        assert garbage["ok"] is False and str(garbage["error"]).startswith("Invalid request:")
        # the connection is still usable
        changed = conn.ask({"cmd": "graph_changed"})
        assert changed == {"ok": True, "status": "ok", "action": "coordinator_wake_scheduled"}
        wrong_type = conn.ask({"cmd": "shutdown", "force": "yes"})
        assert str(wrong_type["error"]).startswith("Invalid request:")
        # a second connection is served while the first stays open
        other = Conn(sock_path(svc))
        assert other.ask({"cmd": "status"})["ok"] is True
        other.close()
        assert pid_alive(pid)
    finally:
        conn.close()
    svc.ok("service", "stop")


def test_ipc_oversized_line_rejected(svc: Project) -> None:
    started_pid(svc)
    conn = Conn(sock_path(svc))
    try:
        conn.send(b"x" * (1024 * 1024 + 10))
        reply = conn.line()
        assert reply["ok"] is False and "Invalid request" in str(reply["error"])
    finally:
        conn.close()
    assert Conn(sock_path(svc)).ask({"cmd": "status"})["ok"] is True
    svc.ok("service", "stop")


def test_pause_resume_and_add_hint(svc: Project) -> None:
    started_pid(svc)
    r = svc.ok("add", "x", "--id", "x", "--no-place")
    assert "Service: running. The coordinator will dispatch this automatically." in r.err
    assert svc.ok("service", "pause").out == "Coordinator paused (running agents continue, no new spawns)\n"
    r = svc.ok("add", "y", "--id", "y", "--exec", "true", "--no-place")
    assert "Service: running (paused)." in r.err
    time.sleep(0.5)
    assert svc.task("y")["status"] == "open"
    assert ", PAUSED," in svc.ok("service", "status").out
    assert svc.ok("service", "resume").out == "Coordinator resumed\n"
    wait_for(lambda: svc.task("y")["status"] == "done", 3, "y done after resume")
    svc.ok("service", "stop")
    r = svc.ok("add", "z", "--id", "z", "--no-place")
    assert "Warning: No service running." in r.err


# -- dispatching ----------------------------------------------------------------------------------


def test_shell_chain_completes(svc: Project) -> None:
    started_pid(svc)
    svc.ok("add", "a", "--id", "a", "--exec", "true", "--no-place")
    svc.ok("add", "b", "--id", "b", "--exec", "echo hi > f.txt", "--after", "a", "--no-place")
    svc.ok("add", "c", "--id", "c", "--exec", "false", "--after", "b", "--no-place")
    wait_for(lambda: svc.task("c")["status"] == "failed", 5, "chain to finish")
    assert svc.task("a")["status"] == "done"
    assert svc.task("b")["status"] == "done"
    assert (svc.root / "f.txt").read_text() == "hi\n"
    c = svc.task("c")
    assert c["failure_class"] == "agent-exit-nonzero"
    assert c["failure_reason"] == "Command exited with code 1"
    assert c["assigned"] == "agent-3"
    reg = json.loads((svc.wg / "service" / "registry.json").read_text())
    assert reg["next_agent_id"] == 4
    assert [reg["agents"][f"agent-{i}"]["status"] for i in (1, 2, 3)] == ["done", "done", "failed"]
    entry = reg["agents"]["agent-2"]
    assert entry["task_id"] == "b" and entry["executor"] == "shell" and entry["exit_code"] == 0
    assert isinstance(entry["pid_start_time"], int) and entry["pgid"] == entry["pid"]
    for i in (1, 2, 3):
        names = set(os.listdir(svc.wg / "agents" / f"agent-{i}"))
        assert {"output.log", "prompt.txt", "run.sh", "metadata.json", "exit_code"} <= names
    svc.ok("service", "stop")


def test_agent_env_and_cwd(svc: Project) -> None:
    started_pid(svc)
    svc.ok("add", "e", "--id", "e", "--exec", 'echo "$WG_TASK_ID $WG_AGENT_ID $WG_DIR $PWD"', "--no-place")
    wait_for(lambda: svc.task("e")["status"] == "done", 5, "e done")
    out = (svc.wg / "agents" / "agent-1" / "output.log").read_text().split()
    assert out[:2] == ["e", "agent-1"]
    assert os.path.samefile(out[2], svc.wg) and os.path.samefile(out[3], svc.root)
    svc.ok("service", "stop")


def test_max_agents_respected(svc: Project) -> None:
    started_pid(svc, "--max-agents", "2")
    for i in range(4):
        svc.ok("add", f"s{i}", "--id", f"s{i}", "--exec", "sleep 1.5", "--no-place")

    def running() -> list[str]:
        return [f"s{i}" for i in range(4) if svc.task(f"s{i}")["status"] == "in-progress"]

    wait_for(lambda: len(running()) == 2, 3, "two agents")
    t_end = time.monotonic() + 1.0
    while time.monotonic() < t_end:
        assert len(running()) <= 2
        time.sleep(0.05)
    wait_for(lambda: all(svc.task(f"s{i}")["status"] == "done" for i in range(4)), 6, "all done")
    assigned = {svc.task(f"s{i}")["assigned"] for i in range(4)}
    assert len(assigned) == 4
    svc.ok("service", "stop")


def test_dead_agent_entry_reopens_task(svc: Project) -> None:
    """A registry entry whose process is gone (no exit_code) is a death: the task is reopened (5.5)."""
    svc.ok("add", "d", "--id", "d", "--no-place")
    svc.ok("claim", "d", "--actor", "agent-7")
    svc.ok("pause", "d")  # once reopened it must stay put (no executor would be found for it)
    (svc.wg / "service").mkdir(exist_ok=True)
    reg = {
        "agents": {
            "agent-7": {
                "id": "agent-7",
                "task_id": "d",
                "status": "working",
                "pid": 999999,
                "executor": "shell",
            }
        },
        "next_agent_id": 8,
    }
    (svc.wg / "service" / "registry.json").write_text(json.dumps(reg))
    started_pid(svc)
    wait_for(lambda: svc.task("d")["status"] == "open", 3, "d reopened")
    task = svc.task("d")
    assert "assigned" not in task and task["retry_count"] == 1
    assert any("process exited" in str(e.get("message")) for e in task["log"])  # type: ignore[union-attr]
    svc.ok("service", "stop")


def test_status_answers_during_a_slow_tick(svc: Project) -> None:
    started_pid(svc, env={"WG_TEST_TICK_DELAY_MS": "1500"})
    conn = Conn(sock_path(svc))
    try:
        assert conn.ask({"cmd": "kick_dispatcher"})["ok"] is True
        time.sleep(0.1)
        t0 = time.monotonic()
        assert conn.ask({"cmd": "status"})["status"] == "running"
        assert time.monotonic() - t0 < 1.0
    finally:
        conn.close()
    svc.ok("service", "stop")
