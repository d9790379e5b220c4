"""Where the graph lives. One Protocol; ``jsonl`` is the embedded default (a PostgreSQL backend can follow).

Every mutation is one transaction: lock, load, apply a pure change to the ``Graph``, write atomically,
release. A change raising ``WgError`` writes nothing.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol, TypeVar

    from ..graph import Graph
    from ..model import Record

    T = TypeVar("T")

    class Store(Protocol):
        def load(self) -> Graph:
            """A consistent snapshot; never waits for writers."""

        def transaction(self, change: Callable[[Graph], T], now: int, lazy: bool = False) -> T:
            """Apply ``change`` under the writers' lock and persist what it touched (``lazy``: a pure
            change that may get a graph parsing records on first access, see store/lazy.py)."""

        def claim(self, task_id: str, actor: str | None, now: int) -> Record:
            """Compare-and-set claim inside the lock (raises WgError when someone else won)."""

        def append_log(self, task_id: str, entry: Record, now: int) -> None:
            """Append one entry to a task's log."""

        def record_operation(self, op: str, now: int, **fields: Any) -> None:
            """Append one line to the operations log (best effort)."""
