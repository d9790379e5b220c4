"""Provider health (spec service 5.8): API-error classes of failed agents, ``provider_health.json``.

Consecutive agent failures classified as provider/API errors are counted per provider; at
``provider_failure_threshold`` (3) with ``on_provider_failure = "pause"`` dispatch pauses with reason
``provider failures: {provider}`` (persisted). An agent success resets its provider's count;
``wg service resume`` clears the pause.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re

from .files import read_json, write_json_atomic

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

    from .dispatcher import Dispatcher

FILE = "provider_health.json"
PAUSE_PREFIX = "provider failures: "
_TAIL = 64 * 1024
_CLASSES = (
    ("api-error-429-rate-limit", re.compile(r"rate[_ -]?limit|\b429\b|too many requests", re.I)),
    (
        "api-error-5xx-transient",
        re.compile(
            r"overloaded|internal server error|\b(500|502|503|504|529)\b[^\n]{0,80}error|"
            r"error[^\n]{0,80}\b(500|502|503|504|529)\b",
            re.I,
        ),
    ),
    ("api-error-400-document", re.compile(r"\b400\b[^\n]{0,200}document|document[^\n]{0,200}\b400\b", re.I)),
)


def _tail(path: str) -> str:
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            size = fh.tell()
            fh.seek(max(0, size - _TAIL))
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return ""


def classify(agent_dir: str) -> str | None:
    """The ``api-error-*`` class an agent's streams show (``core.md`` 3.2), or None."""
    text = "\n".join(
        _tail(os.path.join(agent_dir, n)) for n in ("raw_stream.jsonl", "stream.jsonl", "output.log")
    )
    for klass, pattern in _CLASSES:
        if pattern.search(text):
            return klass
    return None


def provider_of(entry: dict[str, Any]) -> str:
    model = str(entry.get("model") or "")
    if ":" in model:
        return model.split(":", 1)[0]
    return str(entry.get("executor") or "claude")


def path_of(service_dir: str) -> str:
    return os.path.join(service_dir, FILE)


def load(service_dir: str) -> dict[str, Any]:
    data = read_json(path_of(service_dir)) or {}
    if not isinstance(data.get("providers"), dict):
        data["providers"] = {}
    return data


@contextlib.contextmanager
def _locked(service_dir: str) -> Iterator[None]:
    """``provider_health.lock``: the daemon's ``record`` and ``wg service resume``'s ``clear`` both rewrite the
    file; without it a ``record`` that read before a ``clear`` could write the old counts back. Taken alone."""
    os.makedirs(service_dir, exist_ok=True)
    fd = os.open(
        os.path.join(service_dir, "provider_health.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644
    )
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def record(d: Dispatcher, entry: dict[str, Any], klass: str | None, success: bool) -> None:
    """After an agent (not ``shell``) ended: count an API failure, reset on success, pause at the threshold."""
    if not success and not (klass or "").startswith("api-error"):
        return
    with _locked(d.paths.dir):
        _record(d, entry, klass, success)


def _record(d: Dispatcher, entry: dict[str, Any], klass: str | None, success: bool) -> None:
    provider = provider_of(entry)
    data = load(d.paths.dir)
    slot = data["providers"].setdefault(provider, {"consecutive_failures": 0, "paused": False})
    if success:
        if not slot.get("consecutive_failures"):
            return
        slot["consecutive_failures"] = 0
    else:
        slot["consecutive_failures"] = int(slot.get("consecutive_failures") or 0) + 1
        slot["last_failure_class"] = klass
    s = d.settings
    if (
        not success
        and s.on_provider_failure == "pause"
        and slot["consecutive_failures"] >= s.provider_failure_threshold
    ):
        if not slot.get("paused"):
            slot["paused"] = True
            data["service_paused"] = True
            reason = f"{PAUSE_PREFIX}{provider}"
            d.paused = True
            d.pause_reason = reason
            d.log("WARN", f"[dispatcher] Spawning paused: {reason} ({slot['consecutive_failures']} consecutive "
                  f"failures, last {klass})")  # fmt: skip
    write_json_atomic(path_of(d.paths.dir), data, pretty=True)


def clear(service_dir: str) -> list[str]:
    """``wg service resume``: the lines to print; counts and pause flags are reset."""
    if not os.path.exists(path_of(service_dir)):
        return []
    with _locked(service_dir):
        return _clear(service_dir)


def _clear(service_dir: str) -> list[str]:
    path = path_of(service_dir)
    data = load(service_dir)
    paused = sorted(
        p for p, slot in data["providers"].items() if isinstance(slot, dict) and slot.get("paused")
    )
    lines = []
    if data.get("service_paused"):
        lines.append("Cleared service pause due to provider failures")
    elif paused:
        lines.append(f"Resumed providers: {', '.join(paused)}")
    if not lines and not any(
        isinstance(s, dict) and s.get("consecutive_failures") for s in data["providers"].values()
    ):
        return []
    write_json_atomic(path, {"providers": {}, "service_paused": False}, pretty=True)
    return lines
