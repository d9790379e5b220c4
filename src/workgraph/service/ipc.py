"""The daemon's IPC: newline-delimited JSON over a Unix stream socket (spec service 4).

The server serves each connection on its own thread, so no request ever waits for a tick.
"""

from __future__ import annotations

import json
import os
import socket
import threading

from ..errors import WgError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Handler = Callable[[dict[str, Any]], dict[str, Any]]

MAX_LINE = 1024 * 1024
IDLE_TIMEOUT = 5.0


class InvalidRequest(Exception):
    pass


class IpcServer:
    """Accepts connections on ``path`` and answers each request line with ``handler(request)``."""

    def __init__(self, path: str, handler: Handler, log: Callable[[str, str], None]) -> None:
        self.path = path
        self.handler = handler
        self.log = log
        self.closing = False
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            self.sock.bind(path)
        finally:
            os.umask(old)
        os.chmod(path, 0o600)
        self.sock.listen(64)
        self.thread = threading.Thread(target=self._accept_loop, name="ipc-accept", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.closing = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        try:
            os.unlink(self.path)
        except OSError:
            pass

    def _accept_loop(self) -> None:
        while not self.closing:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                if self.closing:
                    return
                continue
            threading.Thread(target=self._serve, args=(conn,), name="ipc-conn", daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(IDLE_TIMEOUT)
        buf = b""
        try:
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    if len(buf) > MAX_LINE:
                        self._send(conn, _error(f"Invalid request: line exceeds {MAX_LINE} bytes"))
                        return
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    buf += chunk
                    continue
                line, buf = buf[:nl], buf[nl + 1 :]
                if len(line) > MAX_LINE:
                    self._send(conn, _error(f"Invalid request: line exceeds {MAX_LINE} bytes"))
                    return
                if not line.strip():
                    continue
                reply = self._answer(line)
                after = reply.pop("__after__", None)
                self._send(conn, reply)
                if callable(after):
                    after()
        except (OSError, TimeoutError):
            return
        finally:
            conn.close()

    def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            req = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return _error(f"Invalid request: {exc}")
        if not isinstance(req, dict) or not isinstance(req.get("cmd"), str):
            return _error("Invalid request: expected an object with a string 'cmd'")
        try:
            return self.handler(req)
        except InvalidRequest as exc:
            return _error(f"Invalid request: {exc}")
        except WgError as exc:
            return _error(exc.message)
        except Exception as exc:  # a bug must not take the daemon down
            self.log("ERROR", f"IPC handler error for {req.get('cmd')}: {type(exc).__name__}: {exc}")
            return _error(f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _send(conn: socket.socket, reply: dict[str, Any]) -> None:
        conn.sendall(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n")


def _error(message: str) -> dict[str, Any]:
    return {"ok": False, "error": message}


def request(
    path: str, req: dict[str, Any], *, connect_timeout: float = 1.0, read_timeout: float = 30.0
) -> dict[str, Any]:
    """One request, one reply. Raises OSError/ValueError on transport problems."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(connect_timeout)
        sock.connect(path)
        sock.settimeout(read_timeout)
        sock.sendall(json.dumps(req).encode("utf-8") + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            buf += chunk
    reply = json.loads(buf.decode("utf-8"))
    if not isinstance(reply, dict):
        raise ValueError("reply is not an object")
    return reply
