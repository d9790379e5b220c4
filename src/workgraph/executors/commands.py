"""The command lines of spec service 6.2: argv lists only, task text never spliced into a shell string."""

from __future__ import annotations

import json
import os

from .executor_files import render_template
from .plan import cli_model, split_model

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..model import Record
    from .plan import SpawnPlan

CLAUDE_FULL = [
    "--print", "--verbose", "--permission-mode", "bypassPermissions", "--output-format", "stream-json",
    "--disallowedTools", "Agent,EnterWorktree,ExitWorktree", "--disable-slash-commands",
]  # fmt: skip
LIGHT_DISALLOWED = "Edit,Write,NotebookEdit,Agent,EnterWorktree,ExitWorktree"
CLAUDE_LIGHT = [
    "--print", "--verbose", "--output-format", "stream-json", "--dangerously-skip-permissions",
    "--allowedTools", "Bash(wg:*),Read,Glob,Grep,WebFetch,WebSearch",
    "--disallowedTools", LIGHT_DISALLOWED, "--disable-slash-commands",
]  # fmt: skip
CLAUDE_BARE = [
    "--print", "--verbose", "--output-format", "stream-json", "--dangerously-skip-permissions",
    "--tools", "Bash(wg:*)", "--allowedTools", "Bash(wg:*)",
    "--disallowedTools", LIGHT_DISALLOWED, "--disable-slash-commands",
]  # fmt: skip
CODEX_INSTRUCTIONS = (
    "You are running unattended as an autonomous agent on a wg task; nobody will answer questions. "
    "Do the work yourself: write the files, run the commands and commit your changes. Do not describe "
    "work instead of doing it. Use the wg commands from the prompt to log progress and to finish the task."
)
RESUME_FAILURES = ("No conversation found", "session not found", "invalid session", "Could not resume")


class FileText(str):
    """An argv element whose value is the text of the file at this path, read when ``run.sh`` runs."""


class Invocation:
    """One command of ``run.sh``: argv, its stdin file (None: ``/dev/null``), and whether stdout is tee'd
    into ``raw_stream.jsonl``. ``fallback`` is the fresh command run once after a failed resume."""

    def __init__(self, argv: list[str], stdin: str | None, tee: bool) -> None:
        self.argv = argv
        self.stdin = stdin
        self.tee = tee
        self.fallback: Invocation | None = None


def _model_args(model: str | None) -> list[str]:
    m = cli_model(model)
    return ["--model", m] if m else []


def claude_argv(program: str, mode: str, model: str | None, prompt_file: str) -> list[str]:
    if mode == "light":
        return [program, *CLAUDE_LIGHT, *_model_args(model)]
    if mode == "bare":
        return [program, *CLAUDE_BARE, "--system-prompt", FileText(prompt_file), *_model_args(model)]
    return [program, *CLAUDE_FULL, *_model_args(model)]


def claude_resume_argv(program: str, session_id: str, mode: str, model: str | None) -> list[str]:
    disallowed = LIGHT_DISALLOWED if mode in ("light", "bare") else "Agent,EnterWorktree,ExitWorktree"
    return [
        program, "--resume", session_id, "--print", "--verbose", "--output-format", "stream-json",
        "--dangerously-skip-permissions", "--disallowedTools", disallowed, *_model_args(model),
    ]  # fmt: skip


def codex_argv(program: str, model: str | None) -> list[str]:
    return [
        program, "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
        "-c", 'model_verbosity="high"', "-c", "tool_output_token_limit=32000",
        "-c", f"developer_instructions={json.dumps(CODEX_INSTRUCTIONS)}", *_model_args(model),
    ]  # fmt: skip


def native_argv(plan: SpawnPlan, task_id: str, prompt_file: str) -> list[str]:
    argv = [plan.program, "native-exec", "--prompt-file", prompt_file, "--exec-mode", plan.exec_mode]
    argv += ["--task-id", task_id]
    if plan.model:
        argv += ["--model", split_model(plan.model)[1]]
    for flag, value in (
        ("--provider", plan.provider),
        ("--endpoint-name", plan.endpoint_name),
        ("--endpoint-url", plan.endpoint_url),
    ):
        if value:
            argv += [flag, value]
    return argv


def build_invocation(plan: SpawnPlan, task: Record, agent_dir: str, values: dict[str, str]) -> Invocation:
    """The argv and stdin of 6.2 for this plan; ``values`` fill a command file's placeholders."""
    prompt = os.path.join(agent_dir, "prompt.txt")
    kind = plan.kind
    if kind == "shell":
        return Invocation(["bash", "-c", str(task.get("exec") or "")], None, False)
    if kind == "codex":
        return Invocation(codex_argv(plan.program, plan.model), prompt, True)
    if kind == "native":
        return Invocation(native_argv(plan, task["id"], prompt), None, False)
    if kind == "command":
        assert plan.file is not None and plan.file.command is not None
        argv = [render_template(x, values) for x in (plan.file.command, *plan.file.args)]
        return Invocation(argv, None if plan.file.stdin == "none" else prompt, False)
    mode = plan.exec_mode if plan.exec_mode in ("light", "bare") else "full"
    fresh = claude_argv(plan.program, mode, plan.model, prompt)
    fresh_stdin = os.path.join(agent_dir, "user_message.txt") if mode == "bare" else prompt
    session = task.get("session_id")
    if isinstance(session, str) and session:
        inv = Invocation(
            claude_resume_argv(plan.program, session, mode, plan.model),
            os.path.join(agent_dir, "resume_message.txt"),
            True,
        )
        inv.fallback = Invocation(fresh, fresh_stdin, True)
        return inv
    return Invocation(fresh, fresh_stdin, True)


def user_message(task: Record) -> str:
    """stdin of a bare claude run."""
    return f"Complete this task:\n\nTitle: {task['id']}\n\n{task.get('description') or ''}"


def resume_message(task: Record) -> str:
    return (
        f"Continue working on task '{task['id']}' ({task.get('title', '')}). Check the task log and messages "
        f"(`wg show {task['id']}`, `wg msg read {task['id']}`), finish the work, then run "
        f"`wg done {task['id']}`."
    )
