"""Timestamps (RFC 3339, nanoseconds, UTC) and durations. Pure: callers pass ``now`` in.

Times are carried as integer nanoseconds since the epoch; stored as strings such as
``2026-05-01T12:34:56.123456789+00:00``.
"""

from __future__ import annotations

import time as _time

_NS = 1_000_000_000
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def now_ns() -> int:
    return _time.time_ns()


def format_ts(ns: int) -> str:
    """Stored form: UTC, nine fraction digits, ``+00:00``."""
    secs, frac = divmod(ns, _NS)
    t = _time.gmtime(secs)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        f".{frac:09d}+00:00"
    )


def format_compact_utc(ns: int) -> str:
    """File-name form ``YYYYMMDDTHHMMSSZ``."""
    t = _time.gmtime(ns // _NS)
    return f"{t.tm_year:04d}{t.tm_mon:02d}{t.tm_mday:02d}T{t.tm_hour:02d}{t.tm_min:02d}{t.tm_sec:02d}Z"


def format_usage_ts(ns: int) -> str:
    t = _time.gmtime(ns // _NS)
    return f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"


def _days_from_civil(y: int, m: int, d: int) -> int:
    # Howard Hinnant's algorithm: days since 1970-01-01 for the proleptic Gregorian calendar.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def parse_ts(text: object, *, naive_ok: bool = False) -> int | None:
    """Parse any RFC 3339 form (``Z`` or offset, 0-9 fraction digits) to epoch ns; None if it doesn't parse.

    With ``naive_ok`` a form without offset (``YYYY-MM-DDTHH:MM:SS``) is read as UTC.
    """
    if not isinstance(text, str):
        return None
    s = text.strip()
    if len(s) < 19 or s[4] != "-" or s[7] != "-" or s[10] not in "Tt " or s[13] != ":" or s[16] != ":":
        return None
    try:
        y, mo, d = int(s[0:4]), int(s[5:7]), int(s[8:10])
        hh, mm, ss = int(s[11:13]), int(s[14:16]), int(s[17:19])
    except ValueError:
        return None
    if not (1 <= mo <= 12 and 1 <= d <= 31 and hh <= 23 and mm <= 59 and ss <= 60):
        return None
    rest = s[19:]
    frac_ns = 0
    if rest.startswith("."):
        i = 1
        while i < len(rest) and rest[i].isdigit():
            i += 1
        digits = rest[1:i]
        if not digits or len(digits) > 9:
            return None
        frac_ns = int(digits.ljust(9, "0"))
        rest = rest[i:]
    if rest in ("Z", "z"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":":
        try:
            offset = int(rest[1:3]) * 3600 + int(rest[4:6]) * 60
        except ValueError:
            return None
        if rest[0] == "-":
            offset = -offset
    elif rest == "" and naive_ok:
        offset = 0
    else:
        return None
    secs = _days_from_civil(y, mo, d) * 86400 + hh * 3600 + mm * 60 + ss - offset
    return secs * _NS + frac_ns


def parse_duration(text: str, *, units: str = "smhd", bare_unit: str | None = None) -> int | None:
    """``<n>s|m|h|d`` (and ``w`` when allowed) to seconds; None when malformed."""
    s = text.strip()
    if not s:
        return None
    if s.isdigit():
        return int(s) * _UNITS[bare_unit] if bare_unit else None
    num, unit = s[:-1], s[-1]
    if unit not in units or not num.isdigit():
        return None
    return int(num) * _UNITS[unit]


def countdown(seconds: int) -> str:
    """``<s>s``, ``<m>m <s>s``, ``<h>h <m>m``, ``<d>d <h>h`` by magnitude."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60}s"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}m"
    return f"{s // 86400}d {s % 86400 // 3600}h"


def human_duration(seconds: int) -> str:
    """Countdown that drops a zero smaller unit: ``5m``, ``5m 3s``, ``2h``, ``1d 4h``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        big, small, bu, su = s // 60, s % 60, "m", "s"
    elif s < 86400:
        big, small, bu, su = s // 3600, s % 3600 // 60, "h", "m"
    else:
        big, small, bu, su = s // 86400, s % 86400 // 3600, "d", "h"
    return f"{big}{bu}" if small == 0 else f"{big}{bu} {small}{su}"


def compact_duration(seconds: int) -> str:
    """Largest unit only: ``45s``, ``5m``, ``3h``, ``2d``."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m"
    if s < 86400:
        return f"{s // 3600}h"
    return f"{s // 86400}d"
