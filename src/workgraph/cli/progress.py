"""A one-line progress bar for long CLI work: drawn on a terminal stderr, silent when piped."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable


def progress_bar(stream: object, label: str) -> Callable[[int, int], None] | None:
    """A bar redrawn at most ~100 times; None when ``stream`` is not a TTY (so callers skip all work)."""
    isatty = getattr(stream, "isatty", None)
    if not callable(isatty) or not isatty():
        return None
    state = {"last": -1}

    def draw(done: int, total: int) -> None:
        pct = done * 100 // total if total else 100
        if pct == state["last"] and done != total:
            return
        state["last"] = pct
        width = 30
        filled = width * done // total if total else width
        line = f"\r{label} [{'#' * filled}{' ' * (width - filled)}] {done}/{total}"
        sys.stderr.write(line + ("\n" if done == total else ""))
        sys.stderr.flush()

    return draw
