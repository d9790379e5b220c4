"""Best-effort nudge of a running dispatcher after a mutation (spec service 4).

Returns at once when there is no ``service/state.json`` or socket; otherwise a 50 ms connect timeout and
at most 100 ms for the reply. Errors are ignored and nothing is printed.
"""

from __future__ import annotations

import os


def socket_path(wg_dir: str) -> str:
    return os.path.join(wg_dir, "service", "daemon.sock")


def notify_daemon(wg_dir: str, cmd: str) -> dict[str, object] | None:
    service = os.path.join(wg_dir, "service")
    path = socket_path(wg_dir)
    if not os.path.exists(os.path.join(service, "state.json")) or not os.path.exists(path):
        return None
    import json
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.05)
            sock.connect(path)
            sock.settimeout(0.1)
            sock.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
            buf = b""
            while not buf.endswith(b"\n"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                buf += chunk
        reply = json.loads(buf or b"null")
        return reply if isinstance(reply, dict) else None
    except (OSError, ValueError):
        return None
