"""``wg service start|stop|status|pause|resume`` and the hidden ``wg service daemon`` (spec service 3)."""

from __future__ import annotations

import os

from ..errors import NotInitialized, WgError
from .args import Cmd, Opt, flag
from .service_proc import (
    AGENT_REFUSAL,
    agency_agents_defined,
    daemon_request,
    dispatch_overrides,
    fmt_secs,
    launch_daemon,
    service_paths,
    stop_daemon,
    wait_ready,
)
from .service_status import run_status

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..service.files import ServicePaths
    from .args import Args
    from .context import Ctx

# -- start --------------------------------------------------------------------------------------


def run_start(ctx: Ctx, a: Args) -> int:
    from ..config import ConfigError, load_config
    from ..service.files import remove_stale, running_pid

    paths = service_paths(ctx)
    try:
        load_config(ctx.wg_dir, quiet=True, strict=True)
    except ConfigError as exc:
        raise WgError(f"Config error: {exc}") from None
    if a.port is not None:
        ctx.err("Warning: --port is ignored; the service listens only on its Unix socket")
    pid = running_pid(paths)
    if pid is not None and not a.force:
        sock = paths.socket_from_state()
        if ctx.json:
            ctx.emit_json({"error": "Service already running", "pid": pid, "socket": sock})
        else:
            ctx.out(
                f"Service already running (PID {pid}). Use 'wg service stop' first or 'wg service start --force'.",
                f"Socket: {sock}",
            )
        return 0
    if pid is not None:
        ctx.out(f"Killing existing daemon (PID {pid}) before starting new one...")
        stop_daemon(paths, pid, force=False, kill_agents=False)
    remove_stale(paths)
    sock = os.path.abspath(a.socket) if a.socket else paths.default_socket()
    if a.foreground:
        from ..service.daemon import Daemon

        return Daemon(ctx.wg_dir, sock, dispatch_overrides(a), foreground=True).run()
    proc = launch_daemon(ctx, paths, sock, a)
    reply = wait_ready(paths, sock, proc)
    print_started(ctx, paths, reply)
    return 0


def print_started(ctx: Ctx, paths: ServicePaths, reply: dict[str, Any]) -> None:
    coord = reply.get("coordinator") or {}
    model = coord.get("model")
    warning = None
    try:
        auto_assign = ctx.config.agency_flag("auto_assign")
    except Exception:
        auto_assign = False
    if auto_assign and not agency_agents_defined(ctx.wg_dir):
        warning = "auto_assign is enabled but no agents are defined."
    if ctx.json:
        out: dict[str, Any] = {
            "status": "started",
            "pid": reply.get("pid"),
            "socket": reply.get("socket"),
            "log": paths.log,
            "coordinator": {k: coord.get(k) for k in ("max_agents", "poll_interval", "executor", "model")},
            "paused": bool(coord.get("paused")),
        }
        if warning:
            out["warning"] = warning
        ctx.emit_json(out)
        return
    ctx.out(
        f"Service started (PID {reply.get('pid')})",
        f"Socket: {reply.get('socket')}",
        f"Log: {paths.log}",
        f"Dispatcher: max_agents={coord.get('max_agents')}, poll_interval={fmt_secs(coord.get('poll_interval'))}s, "
        f"executor={coord.get('executor')}, model={model or 'default'}",
    )
    if coord.get("paused"):
        reason = coord.get("pause_reason") or "paused by user"
        ctx.out(f"Dispatch is paused ({reason}). Run 'wg service resume' to start dispatching.")
    if warning:
        ctx.out("", f"Warning: {warning}", "  Run 'wg agency init' or 'wg agent create' to create agents.")


# -- stop ---------------------------------------------------------------------------------------


def run_stop(ctx: Ctx, a: Args) -> int:
    from ..service.files import remove_stale, running_pid

    if ctx.agent_context:
        raise WgError(AGENT_REFUSAL)
    paths = service_paths(ctx)
    pid = running_pid(paths)
    if pid is None:
        remove_stale(paths)
        if ctx.json:
            ctx.emit_json({"status": "not_running"})
        else:
            ctx.out("Service not running")
        return 0
    stop_daemon(paths, pid, force=bool(a.force), kill_agents=bool(a.kill_agents))
    if ctx.json:
        ctx.emit_json(
            {"status": "stopped", "pid": pid, "force": bool(a.force), "kill_agents": bool(a.kill_agents)}
        )
    else:
        tail = "agents killed" if a.kill_agents else "agents continue running"
        ctx.out(f"Service stopped (PID {pid}), {tail}")
    return 0


# -- pause / resume -----------------------------------------------------------------------------


def _write_pause(paths: ServicePaths, paused: bool, reason: str | None) -> None:
    from ..service.files import read_json, write_json_atomic

    data = read_json(paths.dispatcher_state) or {}
    data["paused"] = paused
    data["pause_reason"] = reason
    write_json_atomic(paths.dispatcher_state, data, pretty=True)


def run_pause(ctx: Ctx, a: Args) -> int:
    from ..service.files import running_pid

    if ctx.agent_context:
        raise WgError(AGENT_REFUSAL)
    paths = service_paths(ctx)
    reason = a.reason or "paused by user"
    if running_pid(paths) is None:
        _write_pause(paths, True, reason)
        ctx.out("Service not running; dispatch will start paused.")
        return 0
    daemon_request(paths, {"cmd": "pause", "reason": reason})
    ctx.out("Coordinator paused (running agents continue, no new spawns)")
    return 0


def run_resume(ctx: Ctx, a: Args) -> int:
    from ..service.files import running_pid
    from ..service.health import clear

    paths = service_paths(ctx)
    for line in clear(paths.dir):  # provider-health pauses (5.8)
        ctx.out(line)
    if running_pid(paths) is None:
        _write_pause(paths, False, None)
        ctx.out("Service not running; dispatch will not be paused when it starts.")
        return 0
    daemon_request(paths, {"cmd": "resume"})
    ctx.out("Coordinator resumed")
    return 0


# -- daemon (hidden) ----------------------------------------------------------------------------


def run_daemon(ctx: Ctx, a: Args) -> int:
    from ..service.daemon import Daemon

    if not os.path.isfile(os.path.join(ctx.wg_dir, "graph.jsonl")):
        raise NotInitialized()
    return Daemon(ctx.wg_dir, a.socket, dispatch_overrides(a), foreground=False).run()


_DISPATCH_OPTS = [
    Opt("--max-agents", type=int, help="Maximum parallel agents"),
    Opt("--executor", help="Default executor"),
    Opt("--interval", type=float, help="Safety tick interval (seconds)"),
    Opt("--model", help="Default model (provider:model)"),
]

START = Cmd(
    "start",
    "Start the service daemon",
    run_start,
    opts=[
        *_DISPATCH_OPTS,
        Opt("--socket", help="Socket path"),
        flag("--force", help="Replace a running daemon"),
        flag("--no-chat-agent", "--no-coordinator-agent", dest="no_chat_agent", help="Start no chat agent"),
        flag("--foreground", help="Run in this process"),
        Opt("--port", hidden=True, help="Ignored"),
    ],
)
STOP = Cmd(
    "stop",
    "Stop the service daemon",
    run_stop,
    opts=[
        flag("--force", help="SIGKILL right after the request"),
        flag("--kill-agents", help="Also stop agents"),
    ],
)
STATUS = Cmd("status", "Show service status", run_status)
PAUSE = Cmd("pause", "Pause dispatching (agents keep running)", run_pause, opts=[Opt("--reason", help="Why")])
RESUME = Cmd("resume", "Resume dispatching", run_resume)
DAEMON = Cmd(
    "daemon",
    "Run the daemon in the foreground (internal)",
    run_daemon,
    opts=[
        *_DISPATCH_OPTS,
        Opt("--socket", help="Socket path"),
        flag("--no-chat-agent", "--no-coordinator-agent", dest="no_chat_agent"),
    ],
)


class _Subs(dict):  # type: ignore[type-arg]
    """Sub-commands with ``daemon`` left out of help listings."""

    def values(self):  # type: ignore[no-untyped-def]
        return [v for k, v in self.items() if k != "daemon"]


def _subs() -> list[Cmd]:
    from .chat import SERVICE_SUBS
    from .service_ctl import SUBS

    return [START, STOP, STATUS, PAUSE, RESUME, *SUBS, *SERVICE_SUBS]


SERVICE = Cmd("service", "Manage the dispatcher daemon", subs=_subs())
SERVICE.subs = _Subs(SERVICE.subs)
SERVICE.subs["daemon"] = DAEMON

COMMANDS = {"service": SERVICE}
