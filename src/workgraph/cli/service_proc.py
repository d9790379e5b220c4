"""The daemon process as the ``wg service`` commands see it: where its files are, launching it, waiting
until it answers, asking it things (spec service 3.6 client errors) and stopping it."""

from __future__ import annotations

import os
import sys

from ..errors import NotInitialized, WgError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..service.files import ServicePaths
    from .args import Args
    from .context import Ctx

AGENT_REFUSAL = "agents cannot stop/pause the service. Use `wg service restart` instead."


def service_paths(ctx: Ctx) -> ServicePaths:
    from ..service.files import ServicePaths

    if not sys.platform.startswith(("linux", "darwin", "freebsd")):
        raise WgError("Service daemon is only supported on Unix systems")
    if not os.path.isfile(os.path.join(ctx.wg_dir, "graph.jsonl")):
        raise NotInitialized()
    paths = ServicePaths(ctx.wg_dir)
    os.makedirs(paths.dir, exist_ok=True)
    return paths


def dispatch_overrides(a: Args) -> dict[str, Any]:
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


def tail_lines(path: str, n: int) -> list[str]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            return fh.read().splitlines()[-n:]
    except OSError:
        return []


def launch_daemon(ctx: Ctx, paths: ServicePaths, sock: str, a: Args) -> Any:
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


def wait_ready(paths: ServicePaths, sock: str, proc: Any) -> dict[str, Any]:
    import signal
    import time

    from ..service.ipc import request

    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            lines = "\n".join(tail_lines(paths.log, 5))
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


def agency_agents_defined(wg_dir: str) -> int:
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


def fmt_secs(value: object) -> str:
    return f"{value:g}" if isinstance(value, int | float) else str(value)


def stop_daemon(paths: ServicePaths, pid: int, *, force: bool, kill_agents: bool) -> None:
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
