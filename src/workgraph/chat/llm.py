"""The LLM side of the chat bridges (spec chats.md 3.5): a long-lived claude CLI speaking stream-json,
and the codex CLI run once per turn. The handler loop in ``handler.py`` drives either through ``Session``.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
import time

from ..executors.executor_files import load_executor_file
from ..executors.plan import cli_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Partial = Callable[[str], None]
    Stopping = Callable[[], bool]

TERM_GRACE = 2.0  # spec 3.5.4: SIGTERM to the LLM child, SIGKILL after 2 s
RESULT_GRACE = 2.0  # spec 3.5: the next user line waits for `result` at most 2 s after `end_turn`
_EOF = object()
# The environment of a nested claude run must not look like a claude session (as run.sh, service 6.4).
_SCRUB = ("CLAUDECODE", "CLAUDE_CODE_ENTRYPOINT")


def system_prompt(n: int, root: str) -> str:
    return (
        f"You are chat agent {n} of the wg project in {root}: a long-lived assistant the user talks to "
        "through `wg chat`. Answer the user's messages directly and concisely. You can inspect and change the "
        "project's task graph with the `wg` command (`wg list`, `wg show <id>`, `wg add`, `wg status`, ...); "
        "do the work the user asks for by creating or updating wg tasks rather than only describing it."
    )


def program(wg_dir: str, kind: str) -> str:
    """``command`` of ``$WG/executors/<kind>.toml`` (service 6.3), else the CLI's name on PATH."""
    from ..executors.executor_files import ExecutorFileError

    try:
        file = load_executor_file(wg_dir, kind)
    except ExecutorFileError:
        file = None
    return file.command if file is not None and file.command else kind


def child_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in _SCRUB}


def claude_chat_argv(prog: str, prompt: str, model: str | None) -> list[str]:
    """The bridge's command line (spec 3.5); the model loses its ``claude:`` prefix like every claude run."""
    argv = [
        prog, "--print", "--input-format", "stream-json", "--output-format", "stream-json", "--verbose",
        "--dangerously-skip-permissions", "--system-prompt", prompt, "--allowedTools", "Bash(wg:*)",
    ]  # fmt: skip
    m = cli_model(model)
    return argv + (["--model", m] if m else [])


def _texts(message: object) -> list[str]:
    content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        return [content] if content else []
    out = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and block.get("type") == "text" and block.get("text"):
            out.append(str(block["text"]))
    return out


def _pipe_lines(stream: Any, lines: queue.Queue[object]) -> None:
    for raw in stream:
        lines.put(raw)
    lines.put(_EOF)


class TurnOutcome:
    """``status``: ``ok`` (``reply`` is the text), ``timeout``, ``died`` (LLM gone), ``stopped``, ``failed``."""

    def __init__(self, status: str, reply: str = "", detail: str = "") -> None:
        self.status, self.reply, self.detail = status, reply, detail


class _LLMChild:
    """What both sessions share: the LLM child process while one runs, and interrupting it (SIGINT)."""

    proc: subprocess.Popen[bytes] | None = None

    def interrupt(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGINT)
            except OSError:
                pass


class ClaudeSession(_LLMChild):
    """One claude CLI process for the handler's lifetime; one stdin line per user turn."""

    def __init__(self, argv: list[str], cwd: str, stderr_path: str) -> None:
        self.argv, self.cwd, self.stderr_path = argv, cwd, stderr_path
        self.proc = None
        self.events: queue.Queue[object] = queue.Queue()
        self.owed = 0  # user lines whose `result` event has not arrived yet
        self.result_wait_until = 0.0
        self.eof = False

    def start(self) -> None:
        os.makedirs(os.path.dirname(self.stderr_path), exist_ok=True)
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                env=child_env(), close_fds=True,
            )  # fmt: skip
        threading.Thread(target=self._read, name="claude-stdout", daemon=True).start()

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            if isinstance(ev, dict):
                self.events.put(ev)
        self.events.put(_EOF)

    def exited(self) -> int | None:
        """The CLI's exit status once it is gone (its output read to the end), else None."""
        if self.proc is None:
            return None
        if not self.eof:
            return None
        try:
            return self.proc.wait(timeout=TERM_GRACE)
        except subprocess.TimeoutExpired:
            return None

    def _next(self, timeout: float) -> dict[str, Any] | None:
        """The next event, or None after ``timeout``. Sets ``eof`` when the output ended."""
        if self.eof:
            time.sleep(max(0.0, min(timeout, 0.2)))
            return None
        try:
            ev = self.events.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None
        if ev is _EOF:
            self.eof = True
            return None
        return ev  # type: ignore[return-value]

    def pump(self, timeout: float) -> None:
        """Between turns: consume events of finished turns (a late `result` only settles the count)."""
        ev = self._next(timeout)
        if ev is not None and ev.get("type") == "result" and self.owed > 0:
            self.owed -= 1

    def _settle(self) -> None:
        while self.owed > 0 and not self.eof and time.monotonic() < self.result_wait_until:
            self.pump(min(0.05, self.result_wait_until - time.monotonic()))

    def turn(self, text: str, partial: Partial, stopping: Stopping, timeout: float) -> TurnOutcome:
        self._settle()
        if self.eof or self.proc is None or self.proc.stdin is None:
            return TurnOutcome("died")
        line = {"type": "user", "message": {"role": "user", "content": text}}
        try:
            self.proc.stdin.write(
                (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
            )
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return TurnOutcome("died")
        self.owed += 1
        parts: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            if stopping():
                return TurnOutcome("stopped")
            left = deadline - time.monotonic()
            if left <= 0:
                return TurnOutcome("timeout")  # the late `result` is ignored through `owed`
            ev = self._next(min(0.2, left))
            if ev is None:
                if self.eof:
                    return TurnOutcome("died")
                continue
            kind = ev.get("type")
            if self.owed > 1:  # still output of an earlier turn that ended without its `result`
                if kind == "result":
                    self.owed -= 1
                continue
            if kind == "assistant":
                message = ev.get("message")
                parts += _texts(message)
                partial("\n\n".join(parts))
                stop = message.get("stop_reason") if isinstance(message, dict) else None
                if stop in ("end_turn", "stop_sequence"):
                    self.result_wait_until = time.monotonic() + RESULT_GRACE
                    return TurnOutcome("ok", "\n\n".join(parts))
            elif kind == "stream_event":
                delta = (ev.get("event") or {}).get("delta") if isinstance(ev.get("event"), dict) else None
                if isinstance(delta, dict) and delta.get("type") == "text_delta":
                    partial("\n\n".join([*parts, str(delta.get("text") or "")]))
            elif kind == "result":
                self.owed -= 1
                reply = "\n\n".join(parts) or str(ev.get("result") or "")
                return TurnOutcome("ok", reply)

    def close(self, terminate: bool) -> int | None:
        """End the CLI: EOF on stdin (or SIGTERM), SIGKILL after the grace. Its exit status."""
        proc = self.proc
        if proc is None:
            return None
        if proc.stdin is not None:
            try:
                proc.stdin.close()
            except OSError:
                pass
        if terminate and proc.poll() is None:
            try:
                proc.terminate()
            except OSError:
                pass
        try:
            return proc.wait(timeout=TERM_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()


class CodexSession(_LLMChild):
    """``codex exec --json`` once per turn; later turns resume the thread id saved in the chat directory."""

    def __init__(self, prog: str, model: str | None, prompt: str, cwd: str, stderr_path: str, state: str):
        self.prog, self.model, self.prompt = prog, model, prompt
        self.cwd, self.stderr_path, self.state = cwd, stderr_path, state
        self.proc = None

    def start(self) -> None:
        os.makedirs(os.path.dirname(self.stderr_path), exist_ok=True)

    def exited(self) -> int | None:
        return None  # nothing runs between turns

    def pump(self, timeout: float) -> None:
        time.sleep(max(0.0, timeout))

    def argv(self) -> list[str]:
        argv = [
            self.prog, "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
            "-c", f"developer_instructions={json.dumps(self.prompt)}",
        ]  # fmt: skip
        m = cli_model(self.model)
        argv += ["--model", m] if m else []
        try:
            with open(self.state, encoding="utf-8") as fh:
                thread = fh.read().strip()
        except OSError:
            thread = ""
        return argv + (["resume", thread, "-"] if thread else ["-"])

    def turn(self, text: str, partial: Partial, stopping: Stopping, timeout: float) -> TurnOutcome:
        lines: queue.Queue[object] = queue.Queue()
        with open(self.stderr_path, "ab") as err:
            self.proc = proc = subprocess.Popen(
                self.argv(), cwd=self.cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err,
                env=child_env(), close_fds=True,
            )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        threading.Thread(target=_pipe_lines, args=(proc.stdout, lines), daemon=True).start()
        try:
            proc.stdin.write(text.encode())
            proc.stdin.close()
        except OSError:
            pass
        replies: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            if stopping():
                self.close(True)
                return TurnOutcome("stopped")
            if time.monotonic() > deadline:
                self.close(True)
                return TurnOutcome("timeout")
            try:
                raw = lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if raw is _EOF:
                break
            self._event(raw, replies, partial)
        rc = proc.wait()
        self.proc = None
        if rc != 0 and not replies:
            return TurnOutcome("failed", detail=f"codex exited with status {rc}")
        return TurnOutcome("ok", "\n\n".join(replies))

    def _event(self, raw: object, replies: list[str], partial: Partial) -> None:
        try:
            ev = json.loads(raw)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            return
        if not isinstance(ev, dict):
            return
        if ev.get("type") == "thread.started" and ev.get("thread_id"):
            tmp = f"{self.state}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(f"{ev['thread_id']}\n")
            os.replace(tmp, self.state)
        item = ev.get("item")
        if isinstance(item, dict) and item.get("type") == "agent_message" and item.get("text"):
            replies.append(str(item["text"]))
            partial("\n\n".join(replies))

    def close(self, terminate: bool) -> int | None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return 0
        try:
            proc.terminate()
            return proc.wait(timeout=TERM_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()
        except OSError:
            return None
