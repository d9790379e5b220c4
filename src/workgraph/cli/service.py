"""``wg service start|stop|status|pause|resume`` and the hidden ``wg service daemon`` (spec service 3)."""

from __future__ import annotations

import os
import sys

from ..errors import NotInitialized, WgError
from .args import Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..service.files import ServicePaths
    from .args import Args
    from .context import Ctx

AGENT_REFUSAL = "agents cannot stop/pause the service. Use `wg service restart` instead."


def _paths(ctx: Ctx) -> ServicePaths:
    from ..service.files import ServicePaths

    if not sys.platform.startswith(("linux", "darwin", "freebsd")):
        raise WgError("Service daemon is only supported on Unix systems")
    if not os.path.isfile(os.path.join(ctx.wg_dir, "graph.jsonl")):
        raise NotInitialized()
    paths = ServicePaths(ctx.wg_dir)
    os.makedirs(paths.dir, exist_ok=True)
    return paths


def _overrides(a: Args) -> dict[str, Any]:
    return {
        "max_agents": a.max_agents,
        "executor": a.executor,
        "poll_interval": a.interval,
        "model": a.model,
        "no_chat_agent": a.get("no_chat_agent") or None,
    }


def _wg_argv() -> list[str]:
    argv0 = sys.argv[0] if sys.argv else ""
    if os.path.basename(argv0) == "wg" and os.path.isfile(argv0):
        return [os.path.abspath(argv0)]
    return [sys.executable, "-c", "import sys; from workgraph.cli import main; sys.exit(main())"]


def _tail(path: str, n: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()[-n:]
    except OSError:
        return []


# -- start --------------------------------------------------------------------------------------


def run_start(ctx: Ctx, a: Args) -> int:
    from ..config import ConfigError, load_config
    from ..service.files import remove_stale, running_pid

    paths = _paths(ctx)
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
        _stop_daemon(paths, pid, force=False, kill_agents=False)
    remove_stale(paths)
    sock = os.path.abspath(a.socket) if a.socket else paths.default_socket()
    if a.foreground:
        from ..service.daemon import Daemon

        return Daemon(ctx.wg_dir, sock, _overrides(a), foreground=True).run()
    proc = _launch(ctx, paths, sock, a)
    reply = _wait_ready(paths, sock, proc)
    _print_started(ctx, paths, reply)
    return 0


def _launch(ctx: Ctx, paths: ServicePaths, sock: str, a: Args) -> Any:
    import subprocess

    from ..service.dispatcher import SCRUBBED_ENV

    argv = [*_wg_argv(), "--dir", paths.wg_dir, "service", "daemon", "--socket", sock]
    for opt, key in (("--max-agents", "max_agents"), ("--executor", "executor"), ("--interval", "interval")):
        if a[key] is not None:
            argv += [opt, str(a[key])]
    if a.model is not None:
        argv += ["--model", a.model]
    if a.no_chat_agent:
        argv.append("--no-chat-agent")
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    with open(paths.log, "ab") as log:
        return subprocess.Popen(
            argv,
            cwd=paths.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=env,
            start_new_session=True,
        )


def _wait_ready(paths: ServicePaths, sock: str, proc: Any) -> dict[str, Any]:
    import signal
    import time

    from ..service.ipc import request

    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = "\n".join(_tail(paths.log, 5))
            raise WgError("Daemon process exited immediately. Check logs." + (f"\n{lines}" if lines else ""))
        try:
            reply = request(sock, {"cmd": "status"}, connect_timeout=0.2, read_timeout=1.0)
            if reply.get("ok") and reply.get("pid") == proc.pid:
                return reply
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    try:
        proc.send_signal(signal.SIGTERM)
    except OSError:
        pass
    raise WgError(f"Daemon did not become ready within 5s. Check logs: {paths.log}")


def _agency_agents_defined(wg_dir: str) -> int:
    try:
        return len(
            [
                n
                for n in os.listdir(os.path.join(wg_dir, "agency", "cache", "agents"))
                if not n.startswith(".")
            ]
        )
    except OSError:
        return 0


def _print_started(ctx: Ctx, paths: ServicePaths, reply: dict[str, Any]) -> None:
    coord = reply.get("coordinator") or {}
    model = coord.get("model")
    warning = None
    try:
        auto_assign = ctx.config.agency_flag("auto_assign")
    except Exception:
        auto_assign = False
    if auto_assign and not _agency_agents_defined(ctx.wg_dir):
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
        f"Dispatcher: max_agents={coord.get('max_agents')}, poll_interval={_secs(coord.get('poll_interval'))}s, "
        f"executor={coord.get('executor')}, model={model or 'default'}",
    )
    if coord.get("paused"):
        reason = coord.get("pause_reason") or "paused by user"
        ctx.out(f"Dispatch is paused ({reason}). Run 'wg service resume' to start dispatching.")
    if warning:
        ctx.out("", f"Warning: {warning}", "  Run 'wg agency init' or 'wg agent create' to create agents.")


def _secs(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


# -- stop ---------------------------------------------------------------------------------------


def _stop_daemon(paths: ServicePaths, pid: int, *, force: bool, kill_agents: bool) -> None:
    import signal
    import time

    from ..service.files import lock_held, pid_alive, remove_stale
    from ..service.ipc import request

    try:
        request(
            paths.socket_from_state(),
            {"cmd": "shutdown", "force": force, "kill_agents": kill_agents},
            read_timeout=5.0,
        )
    except (OSError, ValueError):
        pass

    def gone() -> bool:
        return not lock_held(paths.lock) and not pid_alive(pid)

    def wait(seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if gone():
                return True
            time.sleep(0.05)
        return gone()

    if force:
        _signal(pid, signal.SIGKILL)
        wait(5)
    elif not wait(12 if kill_agents else 5):
        _signal(pid, signal.SIGTERM)
        if not wait(5):
            _signal(pid, signal.SIGKILL)
            wait(5)
    remove_stale(paths)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_stop(ctx: Ctx, a: Args) -> int:
    from ..service.files import remove_stale, running_pid

    if ctx.agent_context:
        raise WgError(AGENT_REFUSAL)
    paths = _paths(ctx)
    pid = running_pid(paths)
    if pid is None:
        remove_stale(paths)
        if ctx.json:
            ctx.emit_json({"status": "not_running"})
        else:
            ctx.out("Service not running")
        return 0
    _stop_daemon(paths, pid, force=bool(a.force), kill_agents=bool(a.kill_agents))
    if ctx.json:
        ctx.emit_json(
            {"status": "stopped", "pid": pid, "force": bool(a.force), "kill_agents": bool(a.kill_agents)}
        )
    else:
        tail = "agents killed" if a.kill_agents else "agents continue running"
        ctx.out(f"Service stopped (PID {pid}), {tail}")
    return 0


# -- status -------------------------------------------------------------------------------------


def daemon_request(paths: ServicePaths, req: dict[str, Any]) -> dict[str, Any]:
    """A request to the running daemon with the client errors of spec 3.6."""
    import time

    from ..service.files import pid_alive, read_json
    from ..service.ipc import request

    state = read_json(paths.state)
    if state is None:
        raise WgError("Service not running (no state file). Start it with 'wg service start'.")
    pid = state.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        raise WgError(
            f"Service daemon (PID {pid}) is not running. The state file is stale — start a new service with "
            "'wg service start'."
        )
    sock = paths.socket_from_state()
    err: Exception | None = None
    for delay in (0.0, 0.05, 0.1):
        time.sleep(delay)
        try:
            return request(sock, req)
        except (OSError, ValueError) as exc:
            err = exc
    raise WgError(f"Could not connect to service at {sock} (PID {pid}, 2 retries exhausted): {err}.")


def _recent_errors(log: str) -> list[str]:
    lines = _tail(log, 2000)
    fatal = [ln for ln in lines if "[FATAL]" in ln][-5:]
    errors = [ln for ln in lines if "[ERROR]" in ln][-5:]
    return fatal + errors


def run_status(ctx: Ctx, a: Args) -> int:
    import time

    from ..service.files import remove_stale, running_pid
    from ..timeutil import human_duration, parse_ts

    paths = _paths(ctx)
    pid = running_pid(paths)
    if pid is None:
        cleaned = remove_stale(paths)
        if ctx.json:
            ctx.emit_json(
                {"status": "not_running", **({"note": "Cleaned up stale state"} if cleaned else {})}
            )
        else:
            ctx.out("Service: not running (cleaned up stale state)" if cleaned else "Service: not running")
        return 0
    reply = daemon_request(paths, {"cmd": "status"})
    reply.pop("ok", None)
    coord = reply.get("coordinator") or {}
    agents = reply.get("agents") or {}
    started = parse_ts(reply.get("started_at"))
    uptime = human_duration(int(time.time() - started / 1e9)) if started else "unknown"
    defined = _agency_agents_defined(ctx.wg_dir)
    errors = _recent_errors(paths.log)
    if ctx.json:
        reply["uptime"] = uptime
        agents["agents_defined"] = defined
        reply["agents"] = agents
        coord.setdefault("frozen", False)
        coord.setdefault("frozen_pids", [])
        log: dict[str, Any] = {"path": paths.log, "exists": os.path.exists(paths.log)}
        if errors:
            log["recent_errors"] = errors
        reply["log"] = log
        ctx.emit_json(reply)
        return 0
    flags = (", FROZEN" if coord.get("frozen") else "") + (", PAUSED" if coord.get("paused") else "")
    lines = [
        f"Service: running (PID {reply.get('pid')})",
        f"Socket: {reply.get('socket')}",
        f"Uptime: {uptime}",
        f"Agents: {agents.get('alive', 0)} alive, {agents.get('idle', 0)} idle, {agents.get('total', 0)} total"
        if defined or not ctx.config.agency_flag("auto_assign")
        else "Agents: No agents defined — run 'wg agency init' or 'wg agent create'",
        f"Dispatcher: enabled{flags}, max_agents={coord.get('max_agents')}, "
        f"poll_interval={_secs(coord.get('poll_interval'))}s, executor={coord.get('executor')}, "
        f"model={coord.get('model') or 'default'}",
    ]
    if coord.get("paused"):
        lines.append(f"  Pause reason: {coord.get('pause_reason') or 'paused by user'}")
    if coord.get("frozen"):
        lines.append(f"  Frozen PIDs: {coord.get('frozen_pids') or []}")
    if coord.get("last_tick"):
        lines.append(
            f"  Last tick: {coord['last_tick']} (#{coord.get('ticks')}, agents_alive={coord.get('agents_alive')}/"
            f"{coord.get('max_agents')}, tasks_ready={coord.get('tasks_ready')}, "
            f"spawned={coord.get('agents_spawned_last_tick')})"
        )
    else:
        lines.append("  No ticks yet")
    lines += _chat_lines(reply.get("chats"))
    lines.append(f"Log: {paths.log}")
    if errors:
        lines.append("  Recent errors:")
        lines += [f"    {e}" for e in errors]
    ctx.out(*lines)
    return 0


def _chat_lines(chats: object) -> list[str]:
    """Chat supervisors in ``wg service status`` (spec chats.md 3); a crash-paused chat says so."""
    import time

    if not isinstance(chats, dict):
        return []
    sups = chats.get("supervisors") or []
    if not sups:
        return []
    lines = [f"Chats: {len(sups)} supervised"]
    for s in sups:
        if s.get("state") == "crash-paused":
            left = max(0, int((s.get("paused_until") or 0) - time.time()))
            lines.append(
                f"  Chat {s.get('chat_id')}: crash budget exhausted (3 crashes in last 10 minutes), "
                f"paused for {left}s"
            )
    return lines


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
    paths = _paths(ctx)
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

    paths = _paths(ctx)
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
    return Daemon(ctx.wg_dir, a.socket, _overrides(a), foreground=False).run()


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
