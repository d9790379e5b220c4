"""Gates before ``wg done`` (spec core 11.6): the smoke manifest and the legacy ``verify`` command."""

from __future__ import annotations

import os
import subprocess

from .errors import WgError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .cli.args import Args
    from .cli.context import Ctx
    from .graph import Graph


def _manifest_path(ctx: Ctx) -> str | None:
    env = ctx.env("WG_SMOKE_MANIFEST")
    if env:
        return env if os.path.isfile(env) else None
    rel = os.path.join("tests", "smoke", "manifest.toml")
    candidates = [os.path.join(ctx.wg_dir, rel), os.path.join(os.path.dirname(ctx.wg_dir), rel)]
    try:
        top = subprocess.run(
            ["git", "rev-parse", "--show-toplevel"],
            cwd=os.path.dirname(ctx.wg_dir),
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
        if top:
            candidates.append(os.path.join(top, rel))
    except (OSError, subprocess.SubprocessError):
        pass
    return next((c for c in candidates if os.path.isfile(c)), None)


def _smoke(ctx: Ctx, task_id: str, full: bool) -> None:
    path = _manifest_path(ctx)
    if path is None:
        return
    import tomllib

    try:
        with open(path, "rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise WgError(f"Failed to read smoke manifest {path}: {exc}") from None
    broken: list[str] = []
    for sc in data.get("scenario", []):
        owners = sc.get("owners") or []
        if not full and task_id not in owners:
            continue
        script = sc.get("script", "")
        script_path = script if os.path.isabs(script) else os.path.join(os.path.dirname(path), script)
        try:
            rc = subprocess.run(
                ["bash", script_path], timeout=sc.get("timeout_seconds", 180), capture_output=True
            ).returncode
        except subprocess.TimeoutExpired:
            rc = 124
        if rc not in (0, 77):
            broken.append(f"{sc.get('name', script)} (exit {rc})")
    if broken:
        raise WgError(
            f"Smoke gate refused 'wg done {task_id}': {len(broken)} scenario(s) broken — {', '.join(broken)}"
        )


def run_done_gates(ctx: Ctx, graph: Graph, a: Args) -> int | None:
    """Raise WgError when a gate refuses; None lets ``wg done`` go on."""
    task = graph.get(a.task)
    if task is None or task.get("status") == "done":
        return None
    agent = ctx.agent_context
    if a.skip_smoke and (not agent or ctx.env("WG_SMOKE_AGENT_OVERRIDE") == "1"):
        ctx.err(f"WARNING: --skip-smoke bypassed the smoke gate for '{a.task}'. Record why in the task log.")
    else:
        _smoke(ctx, a.task, a.full_smoke)
    verify = task.get("verify")
    if verify:
        if a.skip_verify and agent:
            raise WgError(f"Agents cannot use --skip-verify. The verify command must pass:\n  {verify}")
        if not a.skip_verify:
            rc = subprocess.run(
                ["bash", "-c", verify], cwd=os.path.dirname(ctx.wg_dir), capture_output=True
            ).returncode
            if rc != 0:
                raise WgError(f"Verify command failed for '{a.task}' (exit {rc}):\n  {verify}")
    return None
