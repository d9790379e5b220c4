"""The acceptance checks of spec service 11, one test each, in the harness 11 describes.

Harness: a fresh git repo with one commit, ``wg init --no-agency``, an empty ``HOME``, tasks added with
``--no-place``; ``fake-claude`` first on ``PATH`` and named in ``$WG/executors/claude.toml``: it reads stdin,
then acts per ``FAKE_MODE``. A finalizer runs ``wg service stop --kill-agents --force`` and kills by pid what
is left. Polls every 50 ms. Deadlines the spec states are used as written; where it gives none,
``wait_for``'s generous (scaled) deadline applies.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import WG_BIN, Project
from tests.daemon_helpers import kill_group as _kill_group
from tests.daemon_helpers import pid_alive, started_pid, wait_for
from tests.service.test_daemon import Conn, sock_path

FAKE_CLAUDE = """#!/bin/bash
cat > /dev/null
case "${FAKE_MODE:-done}" in
  done) wg log "$WG_TASK_ID" "did the work" && wg done "$WG_TASK_ID" ;;
  fail) exit 1 ;;
  hang) echo '{"type":"system","subtype":"init"}'; exec sleep 1000 ;;
  silent) exec sleep 1000 ;;
  stubborn) trap '' TERM; echo '{"type":"system","subtype":"init"}'; while true; do sleep 0.2; done ;;
  lazy) exit 0 ;;
  crash) kill -KILL $$ ;;
  ratelimit) echo '{"type":"error","error":{"type":"rate_limit_error","message":"429 Too Many Requests"}}'; exit 1 ;;
esac
"""


def within(pred: Callable[[], object], seconds: float, what: str) -> object:
    """A deadline the spec states, polled every 50 ms (not scaled)."""
    deadline = time.monotonic() + seconds
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"not within {seconds}s: {what}")
        time.sleep(0.05)


class Acc:
    """The harness: ``p`` the project, ``env`` the environment with the fakes first on PATH."""

    def __init__(self, p: Project) -> None:
        self.p = p
        self.bin = p.root.parent / "fakebin"
        self.bin.mkdir()
        fake = self.bin / "claude"
        fake.write_text(FAKE_CLAUDE)
        fake.chmod(0o755)
        (p.wg / "executors").mkdir(exist_ok=True)
        (p.wg / "executors" / "claude.toml").write_text(f'[executor]\ntype = "claude"\ncommand = "{fake}"\n')
        self.env = {"PATH": f"{self.bin}:{os.path.dirname(WG_BIN)}:/usr/bin:/bin", "FAKE_MODE": "done"}
        p.env.update(self.env)
        self.extra_pids: list[int] = []

    def mode(self, mode: str) -> None:
        self.p.env["FAKE_MODE"] = mode

    def config(self, text: str) -> None:
        with open(self.p.wg / "config.toml", "a") as fh:
            fh.write("\n" + text + "\n")

    def add(self, tid: str, *extra: str) -> None:
        self.p.ok("add", tid, "--id", tid, "--no-place", *extra)

    def registry(self) -> dict[str, dict[str, Any]]:
        try:
            agents = json.loads((self.p.wg / "service" / "registry.json").read_text()).get("agents", {})
        except (OSError, ValueError):
            return {}
        return agents if isinstance(agents, dict) else {}

    def status(self, tid: str) -> str:
        try:
            return str(self.p.task(tid).get("status"))
        except (OSError, ValueError, KeyError):
            return ""

    def live(self) -> list[dict[str, Any]]:
        out = []
        for e in self.registry().values():
            pid = e.get("pid")
            if e.get("status") in ("working", "idle", "frozen") and isinstance(pid, int) and pid_alive(pid):
                out.append(e)
        return out

    def live_of(self, tid: str) -> list[dict[str, Any]]:
        return [e for e in self.live() if e.get("task_id") == tid]

    def agents_of(self, tid: str) -> list[dict[str, Any]]:
        return [e for e in self.registry().values() if e.get("task_id") == tid]

    def messages(self, tid: str) -> list[str]:
        return [str(e.get("message")) for e in self.p.task(tid).get("log") or []]  # type: ignore[union-attr]

    def daemon_log(self) -> str:
        return (self.p.wg / "service" / "daemon.log").read_text()

    def one_live(self, tid: str) -> dict[str, Any]:
        found = wait_for(lambda: (x := self.live_of(tid)) and x[0], 5, f"a live agent on {tid}")
        assert isinstance(found, dict)
        return found


def _daemons_of(wg: Path) -> list[int]:
    """Pids of `wg ... service daemon` processes for this project."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            argv = Path(f"/proc/{name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"service" in argv and b"daemon" in argv and str(wg).encode() in argv and pid_alive(int(name)):
            out.append(int(name))
    return out


@pytest.fixture
def acc(project: Project) -> Iterator[Acc]:
    subprocess.run(["git", "-C", str(project.root), "commit", "-q", "--allow-empty", "-m", "init"],
                   check=True, env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                                    "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})  # fmt: skip
    a = Acc(project)
    yield a
    env = {k: v for k, v in project.env.items() if k not in ("WG_AGENT_ID", "WG_TASK_ID")}
    try:
        subprocess.run([WG_BIN, "service", "stop", "--kill-agents", "--force"], cwd=project.root, env=env,
                       capture_output=True, timeout=30)  # fmt: skip
    except subprocess.TimeoutExpired:
        pass
    for pid in _daemons_of(project.wg):
        _kill_group(pid)
    for entry in a.registry().values():
        _kill_group(entry.get("pgid"))
    for pid in a.extra_pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


# -- 1-3: lifecycle, IPC, fast dispatch -----------------------------------------------------------


def test_01_single_instance_stop(acc: Acc) -> None:
    p = acc.p
    pid = started_pid(p)
    state = json.loads((p.wg / "service" / "state.json").read_text())
    assert state["pid"] == pid == int((p.wg / "service" / "daemon.lock").read_text())
    assert stat.S_IMODE(os.stat(state["socket_path"]).st_mode) == 0o600
    r = p.ok("service", "start")
    assert r.out.startswith(f"Service already running (PID {pid}).")
    assert _daemons_of(p.wg) == [pid]
    assert p.ok("service", "stop").out == f"Service stopped (PID {pid}), agents continue running\n"
    assert p.ok("service", "status").out == "Service: not running\n"
    assert p.ok("service", "stop").out == "Service not running\n"
    pid2 = started_pid(p)
    os.kill(pid2, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pid2), 5, "daemon gone")
    pid3 = started_pid(p)
    assert pid3 != pid2 and _daemons_of(p.wg) == [pid3]


def test_02_ipc_framing(acc: Acc) -> None:
    started_pid(acc.p)
    conn = Conn(sock_path(acc.p))
    try:
        conn.send(b'{"cmd":"status"}\n{"cmd":"nope"}\n{"cmd":"kick_dispatcher"}\n')
        first, second, third = conn.line(), conn.line(), conn.line()
    finally:
        conn.close()
    assert first["ok"] is True and first["status"] == "running"
    assert second["ok"] is False and str(second["error"]).startswith("Invalid request:")
    assert third["ok"] is True and third["action"] == "dispatcher_kicked"


def test_03_fast_dispatch_responsive_ipc(acc: Acc) -> None:
    p = acc.p
    started_pid(p)
    time.sleep(2)
    p.ok("add", "x", "--id", "x", "--exec", "true", "--no-place")
    t0 = time.monotonic()
    within(lambda: p.task("x").get("assigned", "").startswith("agent-"), 0.5, "x has an agent")  # type: ignore[union-attr]
    within(lambda: acc.status("x") == "done", 2 - (time.monotonic() - t0), "x done")
    p.ok("service", "stop")
    started_pid(p, env={"WG_TEST_TICK_DELAY_MS": "5000"})
    conn = Conn(sock_path(p))
    try:
        assert conn.ask({"cmd": "kick_dispatcher"})["ok"] is True
        time.sleep(0.2)
        t1 = time.monotonic()
        assert conn.ask({"cmd": "status"})["status"] == "running"
        assert time.monotonic() - t1 < 1.0
    finally:
        conn.close()
    t2 = time.monotonic()
    assert p.ok("service", "status").out.startswith("Service: running")
    assert time.monotonic() - t2 < 1.0 * float(os.environ.get("WG_TEST_TIMEOUT_SCALE", "3"))


# -- 4-10: scheduling, deaths, restarts -----------------------------------------------------------


def test_04_max_agents(acc: Acc) -> None:
    p = acc.p
    acc.mode("hang")
    for i in range(10):
        acc.add(f"h{i}")
    started_pid(p, "--max-agents", "2")
    seen_double: list[str] = []

    def sample() -> int:
        live = acc.live()
        tasks = [str(e.get("task_id")) for e in live]
        seen_double.extend(t for t in set(tasks) if tasks.count(t) > 1)
        return len(live)

    wait_for(lambda: sample() == 2, 5, "two live agents")
    end = time.monotonic() + 5
    while time.monotonic() < end:
        assert sample() == 2
        time.sleep(0.05)
    p.ok("service", "reload", "--max-agents", "4")
    within(lambda: sample() == 4, 1, "four live agents after reload")
    time.sleep(0.5)
    assert sample() == 4
    assert not seen_double
    in_progress = [t for t in (f"h{i}" for i in range(10)) if acc.status(t) == "in-progress"]
    assert len(in_progress) == 4


def test_05_maintenance_while_saturated(acc: Acc) -> None:
    p = acc.p
    acc.mode("hang")
    acc.add("hang")
    acc.add("d", "--exec", "true")
    acc.p.ok("pause", "d")  # so the dispatcher leaves it alone until the test claims it
    started_pid(p, "--max-agents", "1")
    acc.one_live("hang")
    dead = subprocess.Popen(["true"])
    dead.wait()
    path = p.wg / "service" / "registry.json"
    with open(p.wg / "service" / ".registry.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text())
        data["agents"]["agent-77"] = {"id": "agent-77", "task_id": "d", "status": "working", "pid": dead.pid,
                                      "executor": "shell", "started_at": "2020-01-01T00:00:00Z"}  # fmt: skip
        path.write_text(json.dumps(data))
    p.ok("claim", "d", "--actor", "agent-77")
    within(lambda: acc.status("d") == "open", 2, "d open again while saturated")
    assert "assigned" not in p.task("d")
    assert acc.status("hang") == "in-progress"


def test_06_retry_limit(acc: Acc) -> None:
    p = acc.p
    acc.mode("crash")
    acc.add("c", "--max-retries", "1")
    started_pid(p)
    wait_for(lambda: acc.status("c") == "failed", 15, "c failed")
    c = p.task("c")
    assert len(acc.agents_of("c")) == 2
    assert c["failure_class"] == "agent-died"
    assert str(c["failure_reason"]).startswith("Retry limit reached (max_retries=1)")
    assert any("process exited" in m for m in acc.messages("c"))


def test_07_kill_before_reopen(acc: Acc) -> None:
    p = acc.p
    acc.mode("stubborn")
    acc.add("s")
    started_pid(p)
    pid = acc.one_live("s")["pid"]
    p.ok("done", "s")
    t0 = time.monotonic()
    within(lambda: not pid_alive(pid), 7, "stubborn agent gone after its task was done by hand")
    assert time.monotonic() - t0 < 7
    assert acc.status("s") == "done"

    acc.add("k")
    old = acc.one_live("k")
    old_pid, old_id = old["pid"], old["id"]
    killer = subprocess.Popen([WG_BIN, "kill", old_id, "--redispatch"], cwd=p.root, env=p.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    violations = []
    while killer.poll() is None or pid_alive(old_pid):
        alive = pid_alive(old_pid)
        task = p.task("k")
        if alive and (task.get("status") != "in-progress" or task.get("assigned") != old_id):
            violations.append(dict(task))
        time.sleep(0.02)
    out, err = killer.communicate()
    assert killer.returncode == 0, err
    assert out.splitlines() == [
        f"Killed {old_id} (PID {old_pid})",
        "Task 'k' unclaimed (will be re-dispatched)",
    ]
    assert not violations, violations[:1]
    new = wait_for(lambda: (x := acc.live_of("k")) and x[0]["id"] != old_id and x[0], 10, "a new agent on k")
    assert isinstance(new, dict) and new["pid"] != old_pid


def test_08_readoption(acc: Acc) -> None:
    p = acc.p
    acc.mode("hang")
    acc.add("a")
    acc.add("b")
    started_pid(p)
    pa, pb = acc.one_live("a")["pid"], acc.one_live("b")["pid"]
    p.ok("service", "restart")
    assert pid_alive(pa) and pid_alive(pb)
    wait_for(lambda: "Re-adopted agent" in acc.daemon_log(), 5, "re-adoption logged")
    assert {e["pid"]: e["status"] for e in acc.live()} == {pa: "working", pb: "working"}
    assert len(acc.registry()) == 2

    daemon = int((p.wg / "service" / "daemon.lock").read_text())
    os.kill(daemon, signal.SIGKILL)
    wait_for(lambda: not pid_alive(daemon), 5, "daemon gone")
    os.killpg(pa, signal.SIGKILL)
    wait_for(lambda: not pid_alive(pa), 5, "agent a gone")
    started_pid(p)
    # within one tick (the first runs at start): a's claim released (it may be re-dispatched at once)
    wait_for(lambda: int(p.task("a").get("retry_count") or 0) == 1, 3, "a reopened")  # type: ignore[call-overload]
    assert any(
        m.startswith("Task unclaimed: agent 'agent-1'") and "process exited" in m for m in acc.messages("a")
    )
    assert p.task("a").get("assigned") != "agent-1"
    assert pid_alive(pb) and p.task("b")["assigned"] == "agent-2" and acc.status("b") == "in-progress"
    assert f"Re-adopted agent agent-2 (PID {pb}) for task 'b'" in acc.daemon_log()


def test_09_pid_reuse(acc: Acc) -> None:
    p = acc.p
    acc.add("r")
    p.ok("claim", "r", "--actor", "agent-3")
    sleeper = subprocess.Popen(["sleep", "60"], start_new_session=True)
    acc.extra_pids.append(sleeper.pid)
    with open(f"/proc/{sleeper.pid}/stat") as fh:
        real_start = int(fh.read().rsplit(")", 1)[1].split()[19])
    entry = {"id": "agent-3", "task_id": "r", "status": "working", "executor": "claude", "pid": sleeper.pid,
             "pgid": sleeper.pid, "pid_start_time": real_start + 1000}  # fmt: skip
    (p.wg / "service").mkdir(exist_ok=True)
    (p.wg / "service" / "registry.json").write_text(
        json.dumps({"agents": {"agent-3": entry}, "next_agent_id": 4})
    )
    acc.mode("hang")
    started_pid(p)
    wait_for(lambda: any("PID reused" in m for m in acc.messages("r")), 5, "r reopened for PID reuse")
    assert p.task("r").get("assigned") != "agent-3"
    time.sleep(0.3)
    assert sleeper.poll() is None, "the unrelated process must not be signalled"


def test_10_pause_persists(acc: Acc) -> None:
    p = acc.p
    acc.mode("hang")
    acc.add("first")
    started_pid(p)
    victim = acc.one_live("first")
    p.ok("service", "pause")
    p.ok("service", "restart")
    acc.add("x")
    end = time.monotonic() + 3
    while time.monotonic() < end:
        assert acc.status("x") == "open"
        time.sleep(0.05)
    assert ", PAUSED," in p.ok("service", "status").out
    # a death during the pause still reopens its task
    os.killpg(victim["pid"], signal.SIGKILL)
    wait_for(lambda: acc.status("first") == "open", 3, "first reopened during the pause")
    assert acc.status("x") == "open"
    p.ok("service", "resume")
    t0 = time.monotonic()
    within(lambda: acc.status("x") == "in-progress" or acc.status("first") == "in-progress", 0.5,
           "a spawn within 500 ms of resume")  # fmt: skip
    assert time.monotonic() - t0 <= 0.5 + 0.06


# -- 11-16: breakers, throttle, executors ---------------------------------------------------------


def test_11_zero_output(acc: Acc) -> None:
    p = acc.p
    acc.config("[dispatcher]\nzero_output_timeout = 2\nrespawn_backoff_secs = 0")
    acc.mode("silent")
    acc.add("z")
    started_pid(p)
    first = acc.one_live("z")
    wait_for(lambda: not pid_alive(first["pid"]), 6, "first silent agent killed")
    wait_for(lambda: any(m.startswith("Zero-output agent '") for m in acc.messages("z")), 3, "reset logged")
    wait_for(lambda: "zero-output-circuit-broken" in (p.task("z").get("tags") or []), 30, "breaker tripped")  # type: ignore[operator]
    z = p.task("z")
    assert z["status"] == "incomplete"
    wait_for(lambda: all(e.get("status") == "dead" for e in acc.agents_of("z")), 5, "entries dead")
    agents = acc.agents_of("z")
    assert len(agents) == 3 and {e.get("death_reason") for e in agents} == {"zero-output"}
    from workgraph.timeutil import parse_ts

    for e in agents:
        lived = ((parse_ts(e["completed_at"]) or 0) - (parse_ts(e["started_at"]) or 0)) / 1e9
        assert 2 <= lived < 6, lived


def test_12_throttle(acc: Acc) -> None:
    p = acc.p
    acc.mode("crash")
    acc.add("t", "--max-retries", "10")
    started_pid(p)
    wait_for(lambda: int(p.task("t").get("retry_count") or 0) >= 2, 15, "two deaths")  # type: ignore[call-overload]
    from workgraph.timeutil import parse_ts

    task = p.task("t")
    deaths = [e for e in task["log"] if str(e["message"]).startswith("Task unclaimed: agent '")]  # type: ignore[union-attr]
    assert len(deaths) == 2
    last = parse_ts(deaths[-1]["timestamp"])
    after = parse_ts(task.get("ready_after"))
    assert last is not None and after is not None and after - last >= 60 * 10**9
    time.sleep(2)
    assert len(acc.agents_of("t")) == 2, "no third agent before ready_after"
    assert acc.status("t") == "open"


def test_13_lazy_agent_no_work(acc: Acc) -> None:
    acc.mode("lazy")
    acc.add("l")
    started_pid(acc.p)
    wait_for(lambda: acc.status("l") == "failed", 10, "l failed")
    assert acc.p.task("l")["failure_class"] == "agent-no-work"


def test_13_missing_claude(acc: Acc) -> None:
    p = acc.p
    (acc.bin / "claude").unlink()
    (p.wg / "executors" / "claude.toml").unlink()
    if subprocess.run(["sh", "-c", "command -v claude"], env={"PATH": acc.env["PATH"]}).returncode == 0:
        pytest.skip("a real claude is installed")
    pid = started_pid(p)
    acc.add("m")
    wait_for(lambda: acc.status("m") == "failed", 5, "m failed")
    assert "'claude'" in str(p.task("m")["failure_reason"])
    assert p.task("m")["failure_reason"] == "Executor 'claude' not found: 'claude' is not on PATH"
    assert p.ok("service", "status").out.startswith(f"Service: running (PID {pid})")


def test_14_shell(acc: Acc) -> None:
    p = acc.p
    started_pid(p)
    acc.add("a", "--exec", "echo hi > a.txt")
    acc.add("b", "--exec", "exit 3")
    wait_for(lambda: acc.status("a") == "done" and acc.status("b") == "failed", 5, "a done, b failed")
    assert (p.root / "a.txt").read_text() == "hi\n"
    assert p.task("b")["failure_reason"] == "Command exited with code 3"
    for tid in ("a", "b"):
        (entry,) = acc.agents_of(tid)
        files = set(os.listdir(p.wg / "agents" / entry["id"]))
        assert {"output.log", "prompt.txt", "run.sh", "metadata.json", "exit_code"} <= files, files


RECORDER = """#!/bin/bash
rec="$FAKE_RECORD/$WG_TASK_ID"
printf '%s\\n' "$@" > "$rec.argv"
cat > "$rec.stdin"
env > "$rec.env"
tr '\\0' ' ' < /proc/$$/cmdline > "$rec.cmdline"
wg log "$WG_TASK_ID" recorded && wg done "$WG_TASK_ID"
"""
RECORDING_WG = """#!/bin/bash
if [ "$1" = native-exec ]; then
  rec="$FAKE_RECORD/$WG_TASK_ID"
  printf '%s\\n' "$@" > "$rec.argv"
  cat "${3}" > "$rec.stdin"
  env > "$rec.env"
  tr '\\0' ' ' < /proc/$$/cmdline > "$rec.cmdline"
  exec REAL_WG done "$WG_TASK_ID"
fi
exec REAL_WG "$@"
"""


def test_15_argv_prompt_env_secrets(acc: Acc) -> None:
    p = acc.p
    record = p.root.parent / "record"
    record.mkdir()
    for name in ("claude", "codex"):
        (acc.bin / name).write_text(RECORDER)
        (acc.bin / name).chmod(0o755)
    (acc.bin / "wg").write_text(RECORDING_WG.replace("REAL_WG", WG_BIN))
    (acc.bin / "wg").chmod(0o755)
    (p.wg / "executors" / "claude.toml").unlink()
    secret = "sk-or-acceptance-secret"
    acc.config('[[llm_endpoints.endpoints]]\nname = "or"\nprovider = "openrouter"\nurl = "https://o.example/v1"\n'
               'api_key_env = "OPENROUTER_API_KEY"\nis_default = true')  # fmt: skip
    started_pid(p, env={"FAKE_RECORD": str(record), "OPENROUTER_API_KEY": secret})
    acc.add("cl")
    acc.add("cx", "--model", "codex:gpt-5")
    acc.add("na", "--model", "openrouter:qwen/qwen3")
    wait_for(lambda: all(acc.status(t) == "done" for t in ("cl", "cx", "na")), 20, "three tasks done")
    ids = {t: acc.agents_of(t)[0]["id"] for t in ("cl", "cx", "na")}

    assert (record / "cl.argv").read_text().splitlines() == [
        "--print", "--verbose", "--permission-mode", "bypassPermissions", "--output-format", "stream-json",
        "--disallowedTools", "Agent,EnterWorktree,ExitWorktree", "--disable-slash-commands", "--model", "opus",
    ]  # fmt: skip
    cx = (record / "cx.argv").read_text().split("\n")
    assert cx[:10] == [
        "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
        "-c", 'model_verbosity="high"', "-c", "tool_output_token_limit=32000", "-c", cx[9],
    ]  # fmt: skip
    assert cx[9].startswith("developer_instructions=")
    assert cx[-3:] == ["--model", "gpt-5", ""]
    adir = p.wg / "agents" / ids["na"]
    assert (record / "na.argv").read_text().splitlines() == [
        "native-exec", "--prompt-file", f"{adir}/prompt.txt", "--exec-mode", "full", "--task-id", "na",
        "--model", "qwen/qwen3", "--provider", "openrouter", "--endpoint-name", "or",
        "--endpoint-url", "https://o.example/v1",
    ]  # fmt: skip
    for tid in ("cl", "cx", "na"):
        stdin = (record / f"{tid}.stdin").read_text()
        assert stdin.startswith("# Task Assignment"), tid
        assert stdin.rstrip("\n").endswith("Begin working on the task now."), tid
        env = dict(ln.split("=", 1) for ln in (record / f"{tid}.env").read_text().splitlines() if "=" in ln)
        assert env["WG_TASK_ID"] == tid and env["WG_AGENT_ID"] == ids[tid]
        assert os.path.samefile(env["WG_DIR"], p.wg) and env["WG_MODEL"]
        assert secret not in (record / f"{tid}.cmdline").read_text()
    na_env = dict(ln.split("=", 1) for ln in (record / "na.env").read_text().splitlines() if "=" in ln)
    assert na_env["WG_API_KEY"] == secret
    for aid in ids.values():
        for name in ("run.sh", "metadata.json"):
            assert secret not in (p.wg / "agents" / aid / name).read_text()
    assert secret not in acc.daemon_log()


def test_16_start_model(acc: Acc) -> None:
    p = acc.p
    record = p.root.parent / "record"
    record.mkdir()
    (acc.bin / "claude").write_text(RECORDER)
    cfg = p.wg / "config.toml"
    assert '[agent]\nmodel = "claude:opus"' in cfg.read_text()  # the harness's config says so already
    started_pid(p, "--model", "claude:haiku", env={"FAKE_RECORD": str(record)})
    acc.add("plain")
    acc.add("own", "--model", "claude:sonnet")
    wait_for(lambda: acc.status("plain") == "done" and acc.status("own") == "done", 15, "both done")
    assert (record / "plain.argv").read_text().splitlines()[-2:] == ["--model", "haiku"]
    assert (record / "own.argv").read_text().splitlines()[-2:] == ["--model", "sonnet"]


# -- 17-20: races, corruption, kill, agency -------------------------------------------------------


@pytest.mark.timeout(180)
def test_17_claim_race(acc: Acc) -> None:
    """50 ready tasks appear at once; the daemon and 8 parallel ``wg service tick`` race: one agent each."""
    p = acc.p
    acc.mode("hang")
    started_pid(p, "--max-agents", "60")
    acc.add("tmpl", "--paused")
    tmpl = {k: v for k, v in p.rows()[-1].items() if k not in ("paused", "log")}
    tids = [f"t{i:02d}" for i in range(50)]
    rows = [*p.rows(), *({**tmpl, "id": t, "title": t} for t in tids)]
    tmp = p.wg / "graph.jsonl.acc"
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    os.replace(tmp, p.graph_path)
    ticks = [
        subprocess.Popen(
            [WG_BIN, "service", "tick", "--max-agents", "60"],
            cwd=p.root,
            env=p.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    for t in ticks:
        _, err = t.communicate(timeout=150)
        assert t.returncode == 0, err
    wait_for(lambda: all(acc.status(t) == "in-progress" for t in tids), 20, "every task claimed")
    wait_for(lambda: len(acc.live()) == 50, 10, "50 live agents")
    started = [e for e in acc.registry().values() if e.get("pid")]
    per_task: dict[str, list[str]] = {}
    for e in started:
        per_task.setdefault(str(e["task_id"]), []).append(str(e["id"]))
    assert sorted(per_task) == tids
    assert all(len(v) == 1 for v in per_task.values()), {k: v for k, v in per_task.items() if len(v) > 1}
    assert {str(p.task(t)["assigned"]) for t in tids} == {v[0] for v in per_task.values()}
    assert len({v[0] for v in per_task.values()}) == 50
    assert len({e["pid"] for e in started}) == 50
    dirs = [d.name for d in (p.wg / "agents").iterdir()]
    assert len(dirs) == len(set(dirs)) == 50, "an agent directory for every started agent only"


def test_18_corrupt_registry(acc: Acc) -> None:
    p = acc.p
    acc.mode("hang")
    acc.add("c")
    daemon = started_pid(p)
    entry = acc.one_live("c")
    (p.wg / "service" / "registry.json").write_text("{")
    conn = Conn(sock_path(p))
    try:
        assert conn.ask({"cmd": "kick_dispatcher"})["ok"] is True
    finally:
        conn.close()
    wait_for(lambda: list((p.wg / "service").glob("registry.json.corrupt-*")), 3, "the corrupt file kept")
    (name,) = [f.name for f in (p.wg / "service").glob("registry.json.corrupt-*")]
    assert len(name) == len("registry.json.corrupt-20250101T000000Z") and name.endswith("Z")
    back = wait_for(lambda: acc.registry().get(entry["id"]), 3, "the agent back in the registry")
    assert isinstance(back, dict)
    assert back["status"] == "working" and back["pid"] == entry["pid"] and back["task_id"] == "c"
    assert pid_alive(entry["pid"]) and pid_alive(daemon)
    assert acc.status("c") == "in-progress" and p.task("c")["assigned"] == entry["id"]
    log = acc.daemon_log()
    assert f"; moved to {name}; rebuilt from agent metadata" in log and "Registry unreadable (" in log
    assert p.ok("service", "status").out.startswith(f"Service: running (PID {daemon})")
    p.ok("add", "next", "--id", "next", "--no-place", "--exec", "true")
    wait_for(lambda: acc.status("next") == "done", 5, "the daemon still dispatches")
    assert acc.agents_of("next")[0]["id"] != entry["id"]


def test_19_kill_and_guards(acc: Acc) -> None:
    p = acc.p
    acc.mode("hang")
    acc.add("k")
    started_pid(p)
    e = acc.one_live("k")
    r = p.ok("kill", e["id"])
    assert r.out.splitlines()[0] == f"Killed {e['id']} (PID {e['pid']})"
    k = p.task("k")
    assert k["status"] == "open" and k.get("paused") is True
    acc.add("rd")
    e2 = acc.one_live("rd")
    p.ok("kill", e2["id"], "--redispatch")
    wait_for(lambda: (x := acc.live_of("rd")) and x[0]["id"] != e2["id"], 10, "a new agent on rd")
    r = p.run("kill", "agent-999")
    assert r.code == 0 and r.out == "Agent 'agent-999' not in registry — nothing to kill.\n", r
    r = p.run("service", "stop", env={"WG_AGENT_ID": "agent-1"})
    assert r.code == 1 and "agents cannot stop/pause the service" in r.err
    r = p.ok("service", "restart", env={"WG_AGENT_ID": "agent-1"})
    assert r.out.splitlines()[1].startswith("Service started (PID ")


def test_20_agency(acc: Acc) -> None:
    from workgraph.agency_ids import agent_hash, role_hash

    def sha(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    assert agent_hash("r", "t") == sha("role_id: r\nmotivation_id: t\n")
    assert role_hash(["c2", "c1"], "o") == sha("component_ids:\n- c1\n- c2\noutcome_id: o\n")
    p = acc.p
    # an agent written by the original (``motivation_id``, an id that is not our hash) keeps its id
    legacy = "ab" * 32
    agents_dir = p.wg / "agency" / "cache" / "agents"
    agents_dir.mkdir(parents=True)
    (agents_dir / f"{legacy}.yaml").write_text(f"id: {legacy}\nrole_id: r\nmotivation_id: t\nname: old\n")
    assert legacy in p.ok("agent", "show", legacy[:8]).out
    # auto_evaluate: .evaluate-<task> and the tag eval-scheduled, once; deleting it creates no new one
    cfg = p.wg / "config.toml"
    cfg.write_text(cfg.read_text().replace("auto_evaluate = false", "auto_evaluate = true"))
    p.ok("service", "pause")  # phase A (scaffolding) still runs in a tick; nothing is spawned
    acc.add("task")
    p.ok("service", "tick")
    p.ok("service", "tick")

    def evaluates() -> list[str]:
        return [str(r["id"]) for r in p.rows() if str(r["id"]).startswith(".evaluate-")]

    assert evaluates() == [".evaluate-task"]
    assert list(p.task("task").get("tags") or []).count("eval-scheduled") == 1  # type: ignore[call-overload]
    kept = [r for r in p.rows() if r["id"] != ".evaluate-task"]
    p.graph_path.write_text("".join(json.dumps(r) + "\n" for r in kept))
    p.ok("service", "tick")
    assert evaluates() == []


# -- 5.8: provider health -------------------------------------------------------------------------


def test_provider_health_pauses_and_resume_clears(acc: Acc) -> None:
    p = acc.p
    acc.mode("ratelimit")
    for t in ("p1", "p2", "p3", "p4"):
        acc.add(t)
    started_pid(p, "--max-agents", "1")
    wait_for(lambda: all(acc.status(t) == "failed" for t in ("p1", "p2", "p3")), 15, "three API failures")
    assert {p.task(t)["failure_class"] for t in ("p1", "p2", "p3")} == {"api-error-429-rate-limit"}
    health_file = p.wg / "service" / "provider_health.json"

    def health() -> dict[str, Any]:
        try:
            return dict(json.loads(health_file.read_text())["providers"]["claude"])
        except (OSError, ValueError, KeyError):
            return {}

    # the count is recorded after the task's failure is written: wait for it, then check it exactly
    wait_for(lambda: health().get("consecutive_failures") == 3, 5, "third failure counted")
    assert health()["consecutive_failures"] == 3 and health()["paused"]
    status = p.ok("service", "status").out
    assert ", PAUSED," in status and "  Pause reason: provider failures: claude" in status
    assert "[dispatcher] Spawning paused: provider failures: claude" in acc.daemon_log()
    time.sleep(1)
    assert acc.status("p4") == "open" and not acc.agents_of("p4")
    acc.mode("done")  # the daemon keeps its environment; the next agent still fails, but it is spawned
    r = p.ok("service", "resume")
    assert r.out == "Cleared service pause due to provider failures\nCoordinator resumed\n"
    wait_for(lambda: acc.agents_of("p4"), 5, "p4 spawned after resume")
    assert json.loads((p.wg / "service" / "provider_health.json").read_text())["providers"] in (
        {},
        {
            "claude": {
                "consecutive_failures": 1,
                "paused": False,
                "last_failure_class": "api-error-429-rate-limit",
            }
        },
    )
