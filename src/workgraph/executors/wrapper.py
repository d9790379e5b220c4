"""The wrapper ``run.sh`` (spec service 6.4): a short bash script that never calls ``wg``.

Steps: unset the claude nesting variables; worktree setup for isolated agents; ``init`` event for shell/command;
the command under ``timeout`` with its stdin (claude/codex stdout tee'd into ``raw_stream.jsonl``, everything
else into ``output.log`` which is the script's own stdout); ``result`` event for shell/command; the exit status
written to ``exit_code.tmp`` then renamed ``exit_code``. Every argv element is shell-quoted; the environment,
which holds any secret, is never written here.
"""

from __future__ import annotations

import os
import shlex

from .commands import RESUME_FAILURES, FileText

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .commands import Invocation

KILL_AFTER = 30
_EVENT_KINDS = ("shell", "command")


def _word(arg: str) -> str:
    if isinstance(arg, FileText):
        return f'"$(cat {shlex.quote(str(arg))})"'
    return shlex.quote(arg)


def command_line(inv: Invocation, timeout_secs: int | None) -> list[str]:
    """The lines that run one invocation and leave its status in ``code``."""
    prefix = f"timeout --signal=TERM --kill-after={KILL_AFTER} {int(timeout_secs)} " if timeout_secs else ""
    stdin = shlex.quote(inv.stdin) if inv.stdin else "/dev/null"
    line = f"{prefix}{' '.join(_word(a) for a in inv.argv)} < {stdin}"
    if inv.tee:
        return [f'{line} | tee -a "$D/raw_stream.jsonl"', "code=${PIPESTATUS[0]}"]
    return [line, "code=$?"]


def render_run_sh(
    *,
    agent_id: str,
    task_id: str,
    executor: str,
    kind: str,
    agent_dir: str,
    inv: Invocation,
    timeout_secs: int | None,
    worktree: str | None = None,
    project_root: str | None = None,
    wg_dir: str | None = None,
) -> str:
    lines = [
        "#!/bin/bash",
        f"# wg agent {agent_id} for task {task_id} (executor {executor})",
        "unset CLAUDECODE CLAUDE_CODE_ENTRYPOINT",
        f"D={shlex.quote(agent_dir)}",
    ]
    if worktree and wg_dir and project_root:
        setup = shlex.quote(os.path.join(wg_dir, "worktree-setup.sh"))
        lines += [
            f"if [ -f {setup} ]; then",
            f'  bash {setup} {shlex.quote(worktree)} {shlex.quote(project_root)} >> "$D/output.log" 2>&1 ||',
            '    echo "[wg] worktree-setup.sh failed with exit code $?" >> "$D/output.log"',
            "fi",
        ]
    if kind in _EVENT_KINDS:
        lines.append(
            f'printf \'{{"type":"init","executor_type":"{kind}","timestamp_ms":%s}}\\n\' '
            '"$(date +%s%3N)" >> "$D/stream.jsonl"'
        )
    lines += command_line(inv, timeout_secs)
    if inv.fallback is not None:
        pattern = shlex.quote("|".join(RESUME_FAILURES))
        lines += [
            f'if grep -qE {pattern} "$D/raw_stream.jsonl" "$D/output.log" 2>/dev/null; then',
            '  echo "[wg] session could not be resumed; starting a fresh session"',
            *(f"  {x}" for x in command_line(inv.fallback, timeout_secs)),
            "fi",
        ]
    if kind in _EVENT_KINDS:
        lines += [
            'if [ "$code" -eq 0 ]; then ok=true; else ok=false; fi',
            'printf \'{"type":"result","success":%s,"usage":{"input_tokens":0,"output_tokens":0},'
            '"timestamp_ms":%s}\\n\' "$ok" "$(date +%s%3N)" >> "$D/stream.jsonl"',
        ]
    lines += [
        'printf \'%s\\n\' "$code" > "$D/exit_code.tmp" && mv -f "$D/exit_code.tmp" "$D/exit_code"',
        'exit "$code"',
    ]
    return "\n".join(lines) + "\n"
