"""One exception family for the whole package; the CLI maps each to one stderr line and an exit code."""

from __future__ import annotations


class WgError(Exception):
    """An error on a well-formed command (exit 1 unless a subclass says otherwise).

    ``message`` may hold hint lines after the first; the CLI prints ``Error: <message>``.
    """

    exit_code = 1

    def __init__(self, message: str, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(WgError):
    """Bad command line: unknown flag, missing argument, bad value type, conflicting flags (exit 2)."""

    exit_code = 2

    def __init__(self, message: str, usage: str = "") -> None:
        super().__init__(message)
        self.usage = usage


class NotInitialized(WgError):
    def __init__(self) -> None:
        super().__init__("WG not initialized. Run 'wg init' first.")


class CorruptGraph(WgError):
    """A graph file that does not parse: ``graph.jsonl:<line>: <what is wrong>``."""

    def __init__(self, filename: str, line: int, what: str) -> None:
        super().__init__(f"{filename}:{line}: {what}")
        self.line = line


class LockError(WgError):
    pass
