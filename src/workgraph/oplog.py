"""Append-only logs beside the graph: ``log/operations.jsonl`` and ``usage.log`` (spec core 2)."""

from __future__ import annotations

import os

from .fastjson import dumps, loads
from .timeutil import format_compact_utc, format_ts, format_usage_ts

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_ROTATION = 10_485_760


def append_operation(wg_dir: str, op: str, now: int, **fields: Any) -> None:
    """One compact line per operation; absent keys omitted. Rotates (zstd) above the threshold."""
    entry: dict[str, Any] = {"timestamp": format_ts(now), "op": op}
    for key in ("task_id", "actor", "user", "detail"):
        value = fields.get(key)
        if value is not None:
            entry[key] = value
    log_dir = os.path.join(wg_dir, "log")
    path = os.path.join(log_dir, "operations.jsonl")
    line = dumps(entry) + "\n"
    try:
        os.makedirs(log_dir, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            os.write(fd, line.encode("utf-8"))
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if size > DEFAULT_ROTATION // 10:
            _maybe_rotate(wg_dir, path, size, now)
    except OSError:
        pass  # the operations log never fails a command


def _maybe_rotate(wg_dir: str, path: str, size: int, now: int) -> None:
    from .config import load_config

    threshold = load_config(wg_dir, quiet=True).get_int("log.rotation_threshold", DEFAULT_ROTATION)
    if size <= threshold:
        return
    import zstandard

    log_dir = os.path.dirname(path)
    base = os.path.join(log_dir, format_compact_utc(now))
    target, n = base + ".jsonl.zst", 2
    while os.path.exists(target):
        target, n = f"{base}-{n}.jsonl.zst", n + 1
    rotating = path + ".rotating"
    os.replace(path, rotating)  # appenders after this point start a fresh file
    with open(rotating, "rb") as src, open(target, "wb") as dst:
        zstandard.ZstdCompressor().copy_stream(src, dst)
    os.unlink(rotating)


def read_operations(wg_dir: str) -> list[dict[str, Any]]:
    path = os.path.join(wg_dir, "log", "operations.jsonl")
    out: list[dict[str, Any]] = []
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if line:
                    try:
                        out.append(loads(line))
                    except ValueError:
                        continue
    except OSError:
        pass
    return out


def append_usage(wg_dir: str, command: str, now: int) -> str | None:
    """``<YYYY-MM-DDTHH:MM:SSZ> <command-name>``; returns a warning text on failure."""
    try:
        fd = os.open(
            os.path.join(wg_dir, "usage.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
        )
        try:
            os.write(fd, f"{format_usage_ts(now)} {command}\n".encode())
        finally:
            os.close(fd)
    except OSError as exc:
        return f"Warning: failed to write usage log: {exc.strerror}"
    return None
