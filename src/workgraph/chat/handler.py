"""The chat handler loop shared by ``wg claude-handler`` and ``wg codex-handler`` (spec chats.md 3.5).

Session lock first (exit 75 when busy), then poll the inbox past ``.coordinator-cursor`` and answer each
message in one LLM turn: ``.streaming`` while it runs, the reply in the outbox with the message's
``request_id``, then the cursor. Exits 0 when the LLM side ends normally, on a release request, or when
the chat has been idle (spec 1 "idle") for the idle threshold, so the supervisor goes dormant; non-zero
on SIGTERM, a lost parent or a failed LLM.
"""

from __future__ import annotations

import os
import signal
import sys
import time

from ..timeutil import format_ts, now_ns
from . import model as cm
from .store import (
    HANDLER_CURSOR,
    ChatStore,
    append_message,
    is_idle,
    read_cursor,
    read_messages,
    release_lock,
    take_lock,
    write_cursor,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Protocol

    from .llm import TurnOutcome

    class Session(Protocol):
        def start(self) -> None: ...
        def exited(self) -> int | None: ...
        def pump(self, timeout: float) -> None: ...
        def turn(self, text: str, partial: Any, stopping: Any, timeout: float) -> TurnOutcome: ...
        def interrupt(self) -> None: ...
        def close(self, terminate: bool) -> int | None: ...


POLL = 0.2  # inbox poll (spec 8)
TURN_TIMEOUT = 300.0  # spec 8; WG_CHAT_TURN_TIMEOUT_SECS shortens it (tests)
TIMEOUT_TEXT = "The coordinator timed out processing your message."
EMPTY_TEXT = "The coordinator processed your message but produced no response text."
RELEASE_MARKER = ".handler.release-requested"
STREAMING = ".streaming"
EXIT_TERM = 143


def idle_threshold(wg_dir: str) -> int:
    """``WG_CHAT_IDLE_SECS`` > ``[chat] idle_respawn_secs`` > 300 (spec 3.3), the supervisor's own rule."""
    raw: object = os.environ.get("WG_CHAT_IDLE_SECS")
    if raw is None:
        from .ops import chat_settings

        raw = chat_settings(wg_dir)["idle_secs"]
    try:
        value = int(str(raw).strip()) if not isinstance(raw, bool) else 0
    except ValueError:
        value = 0
    return value if value > 0 else cm.CHAT_IDLE_SECS


def _turn_timeout() -> float:
    try:
        value = float(os.environ.get("WG_CHAT_TURN_TIMEOUT_SECS", ""))
    except ValueError:
        return TURN_TIMEOUT
    return value if value > 0 else TURN_TIMEOUT


def resolve_chat(wg_dir: str, ref: str) -> tuple[int, str]:
    """(N, history directory) of a ``--chat`` reference (``chat-N``, ``coordinator-N``, ``N``, ``.chat-N``)."""
    from ..errors import UsageError

    n = cm.parse_hint(ref)
    if n is None:
        raise UsageError(f"invalid chat reference '{ref}' (expected chat-N)")
    chats = ChatStore(wg_dir)
    path = chats.chat_dir(n)
    if chats.session_of(n) is None or not os.path.isdir(path):
        path = chats.register(n)
    return n, path


def initial_cursor(chat_dir: str) -> None:
    """Spec 3.5.2: without ``.coordinator-cursor`` (history of the original) start after the last
    inbox message that already has a reply, so nothing is answered twice."""
    if os.path.exists(os.path.join(chat_dir, HANDLER_CURSOR)):
        return
    answered = {m.get("request_id") for m in read_messages(os.path.join(chat_dir, "outbox.jsonl"))}
    done = [
        m["id"]
        for m in read_messages(os.path.join(chat_dir, "inbox.jsonl"))
        if m.get("request_id") in answered
    ]
    write_cursor(chat_dir, HANDLER_CURSOR, max(done, default=0))


def _prompt_text(message: dict[str, Any]) -> str:
    text = str(message.get("content") or "")
    files = [a for a in message.get("attachments") or () if isinstance(a, dict) and a.get("path")]
    if files:
        text += "\n\nAttachments:\n" + "\n".join(
            f"- {a['path']} ({a.get('mime_type') or 'unknown type'}, {a.get('size_bytes', '?')} bytes)"
            for a in files
        )
    return text


def _say(text: str) -> None:
    """Diagnostics go to stderr (the supervisor copies them to daemon.log); stdout is protocol only."""
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class ChatHandler:
    def __init__(self, wg_dir: str, n: int, chat_dir: str, session: Session) -> None:
        self.wg_dir, self.n, self.chat_dir, self.session = wg_dir, n, chat_dir, session
        self.idle_secs = idle_threshold(wg_dir)
        self.turn_timeout = _turn_timeout()
        self.terminated = False
        self.ppid = os.getppid()
        self.last_activity = time.monotonic()

    # -- signals ---------------------------------------------------------------------------------
    def _on_term(self, signum: int, frame: object) -> None:
        self.terminated = True

    def _on_int(self, signum: int, frame: object) -> None:
        self.session.interrupt()

    def _stopping(self) -> bool:
        if not self.terminated and os.getppid() != self.ppid:
            _say(f"chat {self.n}: parent process changed (dispatcher gone) — exiting")
            self.terminated = True
        return self.terminated

    # -- the loop --------------------------------------------------------------------------------
    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGINT, self._on_int)
        signal.signal(signal.SIGHUP, self._on_term)
        holder = take_lock(self.chat_dir, "adapter")
        if holder is not None:
            _say(f"chat {self.n}: session lock busy (held by pid {holder})")
            return cm.CONTENTION_EXIT
        terminate = True
        try:
            initial_cursor(self.chat_dir)
            try:
                self.session.start()
            except OSError as exc:
                _say(f"chat {self.n}: cannot start the LLM CLI: {exc}")
                return 1
            code = self._serve()
            terminate = code != 0
            return code
        finally:
            status = self.session.close(terminate)
            if status not in (None, 0) and not terminate:
                _say(f"chat {self.n}: LLM CLI exited with status {status}")
            self._clear_streaming()
            release_lock(self.chat_dir)

    def _serve(self) -> int:
        while True:
            if self._stopping():
                return EXIT_TERM
            status = self.session.exited()
            if status is not None:
                _say(f"chat {self.n}: LLM CLI exited with status {status}")
                return 0 if status == 0 else 1
            pending = self._pending()
            if pending:
                for message in pending:
                    if self._turn(message) in ("stopped", "died"):
                        break
                continue
            if self._release_requested():
                return 0
            if time.monotonic() - self.last_activity >= self.idle_secs and is_idle(
                self.chat_dir, self.idle_secs
            ):
                _say(f"chat {self.n}: idle for {self.idle_secs}s (no consumer, empty inbox) — exiting")
                return 0
            self.session.pump(POLL)

    def _pending(self) -> list[dict[str, Any]]:
        done = read_cursor(self.chat_dir, HANDLER_CURSOR)
        return [m for m in read_messages(os.path.join(self.chat_dir, "inbox.jsonl")) if m["id"] > done]

    def _release_requested(self) -> bool:
        path = os.path.join(self.chat_dir, RELEASE_MARKER)
        if not os.path.exists(path):
            return False
        try:
            os.unlink(path)
        except OSError:
            pass
        _say(f"chat {self.n}: release requested — exiting")
        return True

    def _turn(self, message: dict[str, Any]) -> str:
        """One turn for one inbox message; returns the outcome's status."""
        request_id = str(message.get("request_id") or "")
        outcome = self.session.turn(_prompt_text(message), self._streaming, self._stopping, self.turn_timeout)
        self.last_activity = time.monotonic()
        if outcome.status in ("stopped", "died"):
            self._clear_streaming()  # not answered: the next handler takes the message again
            return outcome.status
        if outcome.status == "timeout":
            role, text = "system-error", TIMEOUT_TEXT
        elif outcome.status == "failed":
            role, text = "system-error", f"The coordinator failed to process your message ({outcome.detail})."
        else:
            role, text = "coordinator", outcome.reply if outcome.reply.strip() else EMPTY_TEXT
        now = now_ns()
        append_message(self.chat_dir, "outbox", role, text, request_id, now)
        self._clear_streaming()
        write_cursor(self.chat_dir, HANDLER_CURSOR, int(message["id"]))
        self._bump(now)
        return outcome.status

    def _streaming(self, text: str) -> None:
        path = os.path.join(self.chat_dir, STREAMING)
        try:
            with open(f"{path}.tmp", "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(f"{path}.tmp", path)
        except OSError:
            pass

    def _clear_streaming(self) -> None:
        try:
            os.unlink(os.path.join(self.chat_dir, STREAMING))
        except OSError:
            pass

    def _bump(self, now: int) -> None:
        """An outbox append bumps the chat task's ``last_interaction_at`` (spec 2); best effort."""
        from ..store.jsonl import JsonlStore

        stamp = format_ts(now)

        def change(graph: Any) -> None:
            task = cm.find_task(graph, self.n)
            if task is not None:
                graph.update(task["id"], last_interaction_at=stamp)

        try:
            JsonlStore(self.wg_dir).transaction(change, now)
        except Exception as exc:
            _say(f"chat {self.n}: could not update last_interaction_at: {exc}")


def run_handler(wg_dir: str, ref: str, kind: str, model: str | None) -> int:
    """``wg claude-handler`` / ``wg codex-handler``: build the LLM session and serve the chat."""
    from .llm import ClaudeSession, CodexSession, claude_chat_argv, program, system_prompt

    wg_dir = os.path.abspath(wg_dir)
    n, chat_dir = resolve_chat(wg_dir, ref)
    root = os.path.dirname(wg_dir)
    prompt = system_prompt(n, root)
    stderr_log = os.path.join(wg_dir, "service", f"{kind}-handler-stderr.log")
    session: Session
    if kind == "codex":
        state = os.path.join(chat_dir, ".codex-thread")
        session = CodexSession(program(wg_dir, "codex"), model, prompt, root, stderr_log, state)
    else:
        argv = claude_chat_argv(program(wg_dir, "claude"), prompt, model)
        session = ClaudeSession(argv, root, stderr_log)
    return ChatHandler(wg_dir, n, chat_dir, session).run()
