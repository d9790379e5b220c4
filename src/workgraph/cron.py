"""Cron schedules for ``--cron`` (spec core 11.18): 5 fields (seconds 0 prepended) or 6. Pure."""

from __future__ import annotations

import time as _time
import zlib

_RANGES = ((0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_NAMES = ("second", "minute", "hour", "day of month", "month", "day of week")


def _field(text: str, lo: int, hi: int, name: str) -> frozenset[int]:
    out: set[int] = set()
    for part in text.split(","):
        step = 1
        if "/" in part:
            part, _, step_s = part.partition("/")
            if not step_s.isdigit() or int(step_s) == 0:
                raise ValueError(f"bad step in {name} field")
            step = int(step_s)
        if part in ("*", "?"):
            a, b = lo, hi
        elif "-" in part:
            a_s, _, b_s = part.partition("-")
            if not (a_s.isdigit() and b_s.isdigit()):
                raise ValueError(f"bad range in {name} field")
            a, b = int(a_s), int(b_s)
        elif part.isdigit():
            a = b = int(part)
            if step > 1:
                b = hi
        else:
            raise ValueError(f"bad value '{part}' in {name} field")
        if name == "day of week":
            a, b = (7 if a == 7 else a), (7 if b == 7 else b)
        if a < lo or b > (7 if name == "day of week" else hi) or a > b:
            raise ValueError(f"{name} out of range")
        out.update(v % 7 if name == "day of week" else v for v in range(a, b + 1, step))
    return frozenset(out)


def parse_cron(expr: str) -> tuple[frozenset[int], ...]:
    parts = expr.split()
    if len(parts) == 5:
        parts = ["0", *parts]
    if len(parts) != 6:
        raise ValueError(f"expected 5 or 6 fields, got {len(parts)}")
    return tuple(_field(p, lo, hi, n) for p, (lo, hi), n in zip(parts, _RANGES, _NAMES, strict=True))


def next_fire_exact(expr: str, after_ns: int) -> int:
    """The first fire time strictly after ``after_ns`` (UTC), in epoch ns."""
    sec, minute, hour, dom, month, dow = parse_cron(expr)
    t = after_ns // 1_000_000_000 + 1
    limit = t + 366 * 86400 * 5
    while t < limit:
        g = _time.gmtime(t)
        if g.tm_mon not in month or g.tm_mday not in dom or (g.tm_wday + 1) % 7 not in dow:
            t = (t // 86400 + 1) * 86400
            continue
        if g.tm_hour not in hour:
            t = (t // 3600 + 1) * 3600
            continue
        if g.tm_min not in minute:
            t = (t // 60 + 1) * 60
            continue
        if g.tm_sec not in sec:
            t += 1
            continue
        return t * 1_000_000_000
    raise ValueError("schedule never fires")


def next_fire(expr: str, after_ns: int, task_id: str) -> int:
    """Next fire shifted by a per-id deterministic jitter of at most ±10% of the period (≤ 15 min)."""
    first = next_fire_exact(expr, after_ns)
    period = next_fire_exact(expr, first) - first
    span = min(period // 10, 15 * 60 * 1_000_000_000)
    if span <= 0:
        return first
    frac = (zlib.crc32(task_id.encode()) % 2001 - 1000) / 1000.0
    return max(after_ns + 1, first + int(span * frac))
