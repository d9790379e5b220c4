"""Task ids generated from titles (spec core 4.1), collisions, and did-you-mean suggestions."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Container, Iterable


def slugify(title: str) -> str:
    """Lowercase; non letter/digit -> '-'; keep up to three words plus numbers that follow them."""
    lowered = "".join(ch if ch.isalnum() else "-" for ch in title.lower())
    kept: list[str] = []
    words = 0
    for piece in lowered.split("-"):
        if not piece:
            continue
        numeric = piece.isascii() and piece.isdigit()
        if numeric:
            if words <= 3:
                kept.append(piece)
            continue
        if words >= 3:
            break
        kept.append(piece)
        words += 1
    return "-".join(kept) or "task"


def unique_id(base: str, taken: Container[str], now_seconds: int) -> str:
    """``base``, then ``base-2`` .. ``base-999``, then ``task-<unix-seconds>``."""
    if base not in taken:
        return base
    for n in range(2, 1000):
        candidate = f"{base}-{n}"
        if candidate not in taken:
            return candidate
    candidate = f"task-{now_seconds}"
    n = 2
    while candidate in taken:
        candidate = f"task-{now_seconds}-{n}"
        n += 1
    return candidate


def edit_distance(a: str, b: str, limit: int = 3) -> int:
    """Levenshtein distance, returning ``limit`` early when it is at least that."""
    if abs(len(a) - len(b)) >= limit:
        return limit
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        if min(cur) >= limit:
            return limit
        prev = cur
    return min(prev[-1], limit)


def did_you_mean(wanted: str, ids: Iterable[str]) -> str | None:
    """An id that ``wanted`` is a prefix or extension of, or within edit distance 2 (closest, then id order)."""
    best: tuple[int, str] | None = None
    for other in ids:
        if other == wanted:
            continue
        if other.startswith(wanted) or wanted.startswith(other):
            score = 0
        else:
            score = edit_distance(wanted, other)
            if score > 2:
                continue
        if best is None or (score, other) < best:
            best = (score, other)
    return best[1] if best else None
