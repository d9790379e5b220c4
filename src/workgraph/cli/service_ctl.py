"""``wg service restart|freeze|thaw|reload|tick`` (spec service 3.3, 3.5)."""

from __future__ import annotations

from ..errors import WgError
from .args import Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from .args import Args
    from .context import Ctx


def run_restart(ctx: Ctx, a: Args) -> int:
    from ..service.files import read_json, remove_stale, running_pid
    from .args import Args as ArgsT
    from .service import print_started
    from .service_proc import launch_daemon, service_paths, stop_daemon, wait_ready

    paths = service_paths(ctx)
    state = read_json(paths.dispatcher_state) or {}
    raw = state.get("flag_overrides")
    flags: dict[str, Any] = raw if isinstance(raw, dict) else {}
    sock = paths.socket_from_state()
    pid = running_pid(paths)
    if pid is not None:
        stop_daemon(paths, pid, force=False, kill_agents=False)
        ctx.out(f"Service stopped (PID {pid}), agents continue running")
    remove_stale(paths)
    args = ArgsT()
    args.update(
        max_agents=flags.get("max_agents"),
        executor=flags.get("executor"),
        interval=flags.get("poll_interval"),
        model=flags.get("model"),
        no_chat_agent=False,
    )
    proc = launch_daemon(ctx, paths, sock, args)
    reply = wait_ready(paths, sock, proc)
    print_started(ctx, paths, reply)
    return 0


def _running(ctx: Ctx) -> Any:
    from ..service.files import running_pid
    from .service_proc import service_paths

    paths = service_paths(ctx)
    if running_pid(paths) is None:
        raise WgError("Service not running (no state file). Start it with 'wg service start'.")
    return paths


def run_freeze(ctx: Ctx, a: Args) -> int:
    from .service_proc import AGENT_REFUSAL

    if ctx.agent_context:
        raise WgError(AGENT_REFUSAL)
    reply = _request(ctx, {"cmd": "freeze"})
    if reply is None:
        return 0
    if reply.get("status") == "already_frozen":
        ctx.out("Service is already frozen.")
    else:
        ctx.out(f"Froze {reply.get('frozen_count', 0)} agent(s). Service paused.")
    return 0


def run_thaw(ctx: Ctx, a: Args) -> int:
    reply = _request(ctx, {"cmd": "thaw"})
    if reply is None:
        return 0
    if reply.get("status") == "not_frozen":
        ctx.out("Service is not frozen.")
    else:
        dead = len(reply.get("dead_pids") or [])
        tail = f" ({dead} agent(s) died while frozen.)" if dead else ""
        ctx.out(f"Thawed {reply.get('thawed_count', 0)} agent(s). Service resumed.{tail}")
    return 0


def run_reload(ctx: Ctx, a: Args) -> int:
    from .service_proc import fmt_secs

    req: dict[str, Any] = {"cmd": "reconfigure"}
    for key, dest in (("max_agents", "max_agents"), ("executor", "executor"), ("poll_interval", "interval")):
        if a[dest] is not None:
            req[key] = a[dest]
    if a.model is not None:
        req["model"] = a.model
    reply = _request(ctx, req)
    if reply is None:
        return 0
    cfg = reply.get("config") or {}
    ctx.out(
        "Configuration updated"
        if reply.get("source") == "flags"
        else "Configuration reloaded from config.toml",
        f"Effective config: max_agents={cfg.get('max_agents')}, executor={cfg.get('executor')}, "
        f"poll_interval={fmt_secs(cfg.get('poll_interval'))}s, model={cfg.get('model') or 'default'}",
    )
    return 0


def _request(ctx: Ctx, req: dict[str, Any]) -> dict[str, Any] | None:
    """Send ``req`` to the running daemon; with ``--json`` print its reply (less ``ok``) and return None."""
    from .service_proc import daemon_request

    reply = daemon_request(_running(ctx), req)
    if not reply.get("ok"):
        raise WgError(str(reply.get("error") or "request failed"))
    if ctx.json:
        reply.pop("ok", None)
        ctx.emit_json(reply)
        return None
    return reply


def run_tick(ctx: Ctx, a: Args) -> int:
    """One full tick in this process, daemon or not (claims are compare-and-set)."""
    from ..service.daemon import DaemonLog, settings_from
    from ..service.dispatcher import Dispatcher
    from ..service.files import read_json
    from ..store.jsonl import JsonlStore
    from .service_proc import service_paths

    paths = service_paths(ctx)
    overrides = {"max_agents": a.max_agents, "executor": a.executor, "model": a.model}
    try:
        settings = settings_from(ctx.wg_dir, {k: v for k, v in overrides.items() if v is not None})
    except Exception as exc:
        raise WgError(f"Config error: {exc}") from None
    ctx.out(
        f"Running single coordinator tick (max_agents={settings.max_agents}, executor={settings.executor}, "
        f"model={settings.model or 'default'})..."
    )
    d = Dispatcher(paths, JsonlStore(ctx.wg_dir), settings, DaemonLog(paths.log, False), _noop, _noop)
    state = read_json(paths.dispatcher_state) or {}
    if state.get("paused"):
        d.paused = True
        reason = state.get("pause_reason") or "paused by user"
        d.pause_reason = str(reason)
        ctx.out(f"Dispatch is paused ({reason}) — spawn step skipped.")
    d.frozen = bool(state.get("frozen"))
    d.tick()
    d.reaper.drain()
    if d.last_error:
        raise WgError(f"Coordinator tick error: {d.last_error}")
    ctx.out(f"Tick complete: {d.agents_alive} alive, {d.tasks_ready} ready, {d.spawned_last_tick} spawned")
    return 0


def _noop() -> None:
    return None


def systemd_unit(wg_bin: str, wg_dir: str, project_root: str) -> str:
    """A systemd user unit running the daemon in the foreground (``start`` would fork and return)."""
    return (
        "[Unit]\n"
        f"Description=wg dispatcher for {project_root}\n"
        "After=default.target\n\n"
        "[Service]\n"
        "Type=simple\n"
        f"WorkingDirectory={project_root}\n"
        f"ExecStart={wg_bin} --dir {wg_dir} service start --foreground\n"
        f"ExecStop={wg_bin} --dir {wg_dir} service stop\n"
        "Restart=on-failure\n"
        "RestartSec=5\n\n"
        "[Install]\n"
        "WantedBy=default.target\n"
    )


def run_install(ctx: Ctx, a: Args) -> int:
    """``wg service install``: write a systemd user unit so the daemon starts at login (not in the spec;
    the original writes ``wg-<project>.service``; ours runs ``start --foreground`` so systemd tracks it)."""
    import os
    import re
    import shutil
    import sys

    if not os.path.isdir(ctx.wg_dir):
        from ..errors import NotInitialized

        raise NotInitialized()
    home = os.environ.get("HOME", "")
    if not home:
        raise WgError("wg service install needs HOME to find ~/.config/systemd/user")
    root = os.path.dirname(ctx.wg_dir)
    name = re.sub(r"[^A-Za-z0-9_.-]", "-", os.path.basename(root) or "project")
    unit_dir = os.path.join(
        os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config"), "systemd", "user"
    )
    path = os.path.join(unit_dir, f"wg-{name}.service")
    wg_bin = shutil.which("wg") or os.path.join(os.path.dirname(sys.executable), "wg")
    text = systemd_unit(wg_bin, ctx.wg_dir, root)
    if a.dry_run:
        ctx.out(f"# Would write {path}", text.rstrip("\n"))
        return 0
    from ..atomic import write_text_atomic

    os.makedirs(unit_dir, exist_ok=True)
    write_text_atomic(path, text, fsync=False)
    if ctx.json:
        ctx.emit_json({"unit": path, "name": f"wg-{name}.service"})
        return 0
    ctx.out(
        f"Wrote {path}",
        f"  Enable it with: systemctl --user daemon-reload && systemctl --user enable --now wg-{name}.service",
    )
    return 0


_RELOAD_OPTS = [
    Opt("--max-agents", type=int, help="Maximum parallel agents"),
    Opt("--executor", help="Default executor"),
    Opt("--interval", type=float, help="Safety tick interval (seconds)"),
    Opt("--model", help="Default model"),
]
RESTART = Cmd("restart", "Stop the daemon (agents keep running) and start it again", run_restart)
FREEZE = Cmd("freeze", "Stop (SIGSTOP) every live agent and pause dispatch", run_freeze)
THAW = Cmd("thaw", "Continue frozen agents and resume dispatch", run_thaw)
RELOAD = Cmd("reload", "Change dispatcher settings of the running daemon", run_reload, opts=_RELOAD_OPTS)
TICK = Cmd(
    "tick",
    "Run one dispatcher tick in this process",
    run_tick,
    opts=[
        Opt("--max-agents", type=int, help="Maximum parallel agents"),
        Opt("--executor", help="Default executor"),
        Opt("--model", help="Default model"),
    ],
)
INSTALL = Cmd(
    "install",
    "Write a systemd user unit that runs the daemon at login",
    run_install,
    opts=[flag("--dry-run", help="Print the unit instead of writing it")],
)
SUBS = [RESTART, FREEZE, THAW, RELOAD, TICK, INSTALL]
