"""Command lines (6.2), run.sh (6.4), environment (6.5), prompt (6.6) and the agent directory (7)."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest

from workgraph.config import Config
from workgraph.executors.commands import CODEX_INSTRUCTIONS, build_invocation
from workgraph.executors.plan import plan_spawn
from workgraph.executors.prepare import prepare_agent
from workgraph.graph import Graph

CLAUDE_FULL = [
    "claude", "--print", "--verbose", "--permission-mode", "bypassPermissions", "--output-format",
    "stream-json", "--disallowedTools", "Agent,EnterWorktree,ExitWorktree", "--disable-slash-commands",
]  # fmt: skip
CLAUDE_LIGHT = [
    "claude", "--print", "--verbose", "--output-format", "stream-json", "--dangerously-skip-permissions",
    "--allowedTools", "Bash(wg:*),Read,Glob,Grep,WebFetch,WebSearch",
    "--disallowedTools", "Edit,Write,NotebookEdit,Agent,EnterWorktree,ExitWorktree", "--disable-slash-commands",
]  # fmt: skip


def cfg(data: dict[str, Any] | None = None) -> Config:
    return Config({}, data or {}, (None, "config.toml"))


@pytest.fixture
def wg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    d = tmp_path / "repo" / ".wg"
    (d / "executors").mkdir(parents=True)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("claude", "codex"):
        (bin_dir / name).write_text("#!/bin/sh\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("WG_TEST_FAKE_PATH", f"{bin_dir}:/usr/bin:/bin")
    return str(d)


def T(**kw: Any) -> dict[str, Any]:
    return {"kind": "task", "id": "t1", "title": "Do it", "status": "in-progress", **kw}


def argv_of(
    wg: str, task: dict[str, Any], c: Config | None = None, **kw: Any
) -> tuple[list[str], str | None]:
    plan = plan_spawn(task, c or cfg(), wg, path=os.environ["WG_TEST_FAKE_PATH"], **kw)
    inv = build_invocation(plan, task, "/A", {"task_id": task["id"]})
    return list(inv.argv), inv.stdin


def test_claude_command_lines(wg: str) -> None:
    assert argv_of(wg, T()) == ([*CLAUDE_FULL, "--model", "opus"], "/A/prompt.txt")
    assert argv_of(wg, T(model="claude:haiku", exec_mode="light")) == (
        [*CLAUDE_LIGHT, "--model", "haiku"],
        "/A/prompt.txt",
    )
    argv, stdin = argv_of(wg, T(exec_mode="bare"))
    assert argv == [
        "claude", "--print", "--verbose", "--output-format", "stream-json", "--dangerously-skip-permissions",
        "--tools", "Bash(wg:*)", "--allowedTools", "Bash(wg:*)",
        "--disallowedTools", "Edit,Write,NotebookEdit,Agent,EnterWorktree,ExitWorktree", "--disable-slash-commands",
        "--system-prompt", "/A/prompt.txt", "--model", "opus",
    ]  # fmt: skip
    assert stdin == "/A/user_message.txt"
    argv, stdin = argv_of(wg, T(session_id="sid-1"))
    assert argv == [
        "claude", "--resume", "sid-1", "--print", "--verbose", "--output-format", "stream-json",
        "--dangerously-skip-permissions", "--disallowedTools", "Agent,EnterWorktree,ExitWorktree", "--model", "opus",
    ]  # fmt: skip
    assert stdin == "/A/resume_message.txt"


def test_codex_native_shell_command_lines(wg: str) -> None:
    argv, stdin = argv_of(wg, T(model="codex:gpt-5"))
    assert argv == [
        "codex", "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox",
        "-c", 'model_verbosity="high"', "-c", "tool_output_token_limit=32000",
        "-c", f"developer_instructions={json.dumps(CODEX_INSTRUCTIONS)}", "--model", "gpt-5",
    ]  # fmt: skip
    assert stdin == "/A/prompt.txt"
    assert "unattended" in CODEX_INSTRUCTIONS and "commit" in CODEX_INSTRUCTIONS
    c = cfg(
        {"llm_endpoints": {"endpoints": [{"name": "or", "provider": "openrouter", "url": "https://o/v1"}]}}
    )
    argv, stdin = argv_of(wg, T(model="openrouter:qwen/q3", exec_mode="light"), c)
    assert argv[1:] == [
        "native-exec", "--prompt-file", "/A/prompt.txt", "--exec-mode", "light", "--task-id", "t1",
        "--model", "qwen/q3", "--provider", "openrouter", "--endpoint-name", "or", "--endpoint-url", "https://o/v1",
    ]  # fmt: skip
    assert os.path.basename(argv[0]) == "wg" and stdin is None
    assert argv_of(wg, T(exec="echo 'a b' | wc")) == (["bash", "-c", "echo 'a b' | wc"], None)


def test_command_executor_templated(wg: str) -> None:
    Path(wg, "executors", "mine.toml").write_text(
        '[executor]\ntype = "custom"\ncommand = "/bin/echo"\nargs = ["--task", "{{task_id}}", "{{nope}}"]\n'
        'stdin = "none"\n'
    )
    assert argv_of(wg, T(), spawn_executor="mine") == (["/bin/echo", "--task", "t1", "{{nope}}"], None)


def prepare(wg: str, task: dict[str, Any], graph: Graph | None = None, c: Config | None = None,
            env: dict[str, str] | None = None, aid: str = "", **kw: Any) -> Any:  # fmt: skip
    graph = graph or Graph({task["id"]: task})
    plan = plan_spawn(task, c or cfg(), wg, path=os.environ["WG_TEST_FAKE_PATH"], **kw)
    base = {"PATH": "/usr/bin:/bin", "HOME": "/h", "USER": "me", "WG_AGENT_ID": "stale", **(env or {})}
    return prepare_agent(
        plan,
        task,
        graph,
        agent_id=aid
        or f"agent-{3 + len(os.listdir(Path(wg, 'agents'))) if Path(wg, 'agents').exists() else 3}",
        wg_dir=wg,
        base_env=base,
        spawn_epoch=1700000000,
        cfg=c or cfg(),
    )


def test_run_sh_claude_exact(wg: str) -> None:
    launch = prepare(wg, T(started_at="2025-01-01T00:00:00Z"))
    adir = os.path.join(wg, "agents", "agent-3")
    assert launch.agent_dir == adir and launch.argv == ["bash", f"{adir}/run.sh"]
    assert launch.cwd == os.path.dirname(wg)
    run_sh = Path(adir, "run.sh")
    assert stat.S_IMODE(run_sh.stat().st_mode) == 0o755
    q = shlex.quote
    argv = " ".join(q(a) for a in [*CLAUDE_FULL, "--model", "opus"])
    assert run_sh.read_text() == (
        "#!/bin/bash\n"
        "# wg agent agent-3 for task t1 (executor claude)\n"
        "unset CLAUDECODE CLAUDE_CODE_ENTRYPOINT\n"
        f"D={q(adir)}\n"
        f"timeout --signal=TERM --kill-after=30 1800 {argv} < {q(adir + '/prompt.txt')}"
        ' | tee -a "$D/raw_stream.jsonl"\n'
        "code=${PIPESTATUS[0]}\n"
        'printf \'%s\\n\' "$code" > "$D/exit_code.tmp" && mv -f "$D/exit_code.tmp" "$D/exit_code"\n'
        'exit "$code"\n'
    )
    meta = json.loads(Path(adir, "metadata.json").read_text())
    assert meta == {
        "agent_id": "agent-3",
        "pid": None,
        "task_id": "t1",
        "executor": "claude",
        "model": "claude:opus",
        "started_at": "2025-01-01T00:00:00Z",
        "timeout_secs": 1800,
        "artifacts_at_spawn": [],
    }


def test_run_sh_shell_runs_and_records(wg: str, tmp_path: Path) -> None:
    task = T(exec="echo out; echo err >&2; exit 3", timeout="0")
    launch = prepare(wg, task)
    text = Path(launch.agent_dir, "run.sh").read_text()
    assert "timeout" not in text  # disabled
    assert Path(launch.agent_dir, "prompt.txt").read_text() == (
        "[inline shell task — no LLM prompt; runs: echo out; echo err >&2; exit 3]\n"
    )
    with open(launch.output, "ab") as out:
        code = subprocess.run(
            launch.argv, cwd=launch.cwd, env=launch.env, stdin=subprocess.DEVNULL, stdout=out, stderr=out
        ).returncode
    assert code == 3
    assert Path(launch.agent_dir, "exit_code").read_text() == "3\n"
    assert not Path(launch.agent_dir, "exit_code.tmp").exists()
    assert Path(launch.output).read_text() == "out\nerr\n"
    events = [json.loads(x) for x in Path(launch.agent_dir, "stream.jsonl").read_text().splitlines()]
    assert [e["type"] for e in events] == ["init", "result"]
    assert events[0]["executor_type"] == "shell" and isinstance(events[0]["timestamp_ms"], int)
    assert events[1]["success"] is False and events[1]["usage"] == {"input_tokens": 0, "output_tokens": 0}


def test_resume_fallback_runs_fresh_once(wg: str, tmp_path: Path) -> None:
    fake = tmp_path / "fakeclaude"
    fake.write_text(
        '#!/bin/bash\nif [ "$1" = --resume ]; then echo "No conversation found with session ID"; exit 1; fi\n'
        'echo "fresh:$(head -c 17)"\n'
    )
    fake.chmod(0o755)
    Path(wg, "executors", "claude.toml").write_text(f'[executor]\ntype = "claude"\ncommand = "{fake}"\n')
    launch = prepare(wg, T(session_id="gone"))
    assert (
        Path(launch.agent_dir, "resume_message.txt").read_text().startswith("Continue working on task 't1'")
    )
    with open(launch.output, "ab") as out:
        code = subprocess.run(launch.argv, cwd=launch.cwd, env=launch.env, stdout=out, stderr=out).returncode
    assert code == 0
    raw = Path(launch.agent_dir, "raw_stream.jsonl").read_text()
    assert raw == "No conversation found with session ID\nfresh:# Task Assignment\n"


def test_env_and_secrets(wg: str) -> None:
    c = cfg(
        {
            "tiers": {"fast": "openrouter:q"},
            "llm_endpoints": {
                "endpoints": [
                    {
                        "name": "or",
                        "provider": "openrouter",
                        "url": "https://o/v1",
                        "api_key_env": "OPENROUTER_API_KEY",
                    }
                ]
            },
        }
    )
    task = T(tier="fast", timeout="10m")
    launch = prepare(wg, task, c=c, env={"OPENROUTER_API_KEY": "sk-or-secret", "WG_USER": "erik"})
    env = launch.env
    assert env["WG_TASK_ID"] == "t1" and env["WG_AGENT_ID"] == "agent-3" and env["WG_DIR"] == wg
    assert (env["WG_EXECUTOR_TYPE"], env["WG_MODEL"], env["WG_TIER"]) == ("native", "openrouter:q", "fast")
    assert (env["WG_USER"], env["WG_TASK_TIMEOUT_SECS"], env["WG_SPAWN_EPOCH"]) == (
        "erik",
        "600",
        "1700000000",
    )
    assert (env["WG_LLM_PROVIDER"], env["WG_ENDPOINT_NAME"], env["WG_ENDPOINT_URL"]) == (
        "openrouter",
        "or",
        "https://o/v1",
    )
    assert env["WG_API_KEY"] == "sk-or-secret" == env["OPENROUTER_API_KEY"]
    for name in os.listdir(launch.agent_dir):
        assert "sk-or-secret" not in Path(launch.agent_dir, name).read_text(), name
    # a claude agent gets no WG_API_KEY, the shell agent TASK_ID/TASK_TITLE
    launch = prepare(wg, {**T(id="t2", exec="true")}, env={"WG_API_KEY": "k"})
    assert "WG_API_KEY" not in launch.env and "WG_MODEL" not in launch.env
    assert (launch.env["TASK_ID"], launch.env["TASK_TITLE"], launch.env["WG_EXECUTOR_TYPE"]) == (
        "t2",
        "Do it",
        "shell",
    )


def test_executor_file_env_and_working_dir(wg: str) -> None:
    Path(wg, "executors", "claude.toml").write_text(
        '[executor]\ntype = "claude"\nworking_dir = "sub"\nenv = { MY_TASK = "{{task_id}}-{{model}}" }\n'
    )
    launch = prepare(wg, T())
    assert launch.env["MY_TASK"] == "t1-claude:opus"
    assert launch.cwd == os.path.join(os.path.dirname(wg), "sub")


def test_prompt_sections(wg: str) -> None:
    dep = {
        "kind": "task", "id": "dep", "title": "Dependency", "status": "done", "artifacts": ["a.txt", "b.txt"],
        "log": [{"timestamp": f"2025-01-01T00:00:0{i}Z", "message": f"line {i}"} for i in range(7)],
    }  # fmt: skip
    bad = {"kind": "task", "id": "bad", "title": "Broken", "status": "failed", "failure_reason": "boom"}
    task = T(
        description="Write the thing.",
        verify="pytest passes",
        after=["dep", "bad"],
        tags=["x"],
        retry_count=1,
        failure_reason="earlier crash",
    )
    down = {"kind": "task", "id": "next", "title": "Later", "status": "open", "after": ["t1"]}
    graph = Graph({"dep": dep, "bad": bad, "t1": task, "next": down})
    launch = prepare(wg, task, graph=graph)
    text = Path(launch.agent_dir, "prompt.txt").read_text()
    assert text.startswith("# Task Assignment\n\nYou are an AI agent working on a task in a WG project.\n")
    assert text.endswith("Begin working on the task now.\n")
    heads = [line for line in text.splitlines() if line.startswith("## ")]
    assert heads == [
        "## Your Task",
        "## Verification Required",
        "## Tags",
        "## Context from Dependencies",
        "## Previous Attempt Context",
        "## Downstream Consumers",
        "## WG Usage Guide",
        "## Required Workflow",
    ]
    assert "- **ID:** t1\n- **Title:** Do it\n- **Description:** Write the thing." in text
    assert "From dep (Dependency): artifacts: a.txt, b.txt" in text
    assert "line 2" in text and "line 6" in text and "line 1" not in text  # last 5 log lines of a done dep
    assert "Failed: boom" in text and "Last failure: earlier crash" in text
    assert "wg done t1" in text and "wg log t1" in text and "wg artifact t1" in text and "wg fail t1" in text
    # clean scope: no tags or downstream; full: awareness and summary
    clean = prepare(wg, T(id="c", context_scope="clean"))
    ctext = Path(clean.agent_dir, "prompt.txt").read_text()
    assert "## Tags" not in ctext and "## System Awareness" not in ctext
    Path(wg).parent.joinpath("CLAUDE.md").write_text("Project rule 1\n")
    full = Path(prepare(wg, T(id="f", context_scope="full")).agent_dir, "prompt.txt").read_text()
    assert (
        full.startswith("## System Awareness")
        and "## Full Graph Summary" in full
        and "Project rule 1" in full
    )
    bare = prepare(wg, T(id="b", exec_mode="bare", description="Desc"))
    assert Path(bare.agent_dir, "user_message.txt").read_text() == "Complete this task:\n\nTitle: b\n\nDesc"


def test_agent_dir_never_reused(wg: str) -> None:
    prepare(wg, T())
    with pytest.raises(FileExistsError):
        prepare(wg, T(), aid="agent-3")
