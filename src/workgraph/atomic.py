"""Replacing a small file atomically: the one helper every writer of a whole file uses."""

from __future__ import annotations

import os


def write_text_atomic(path: str, text: str, *, tmp: str | None = None, fsync: bool = True) -> None:
    """Write ``text`` to a temp file beside ``path`` and rename it over ``path``; the temp never survives.

    The default temp name is per process and thread (``<path>.tmp.<pid>.<tid>``), so concurrent writers never
    share one; ``tmp`` names it explicitly (a file with a single writer may keep a spec's ``<name>.tmp``).
    Raises OSError.
    """
    if tmp is None:
        import threading

        tmp = f"{path}.tmp.{os.getpid()}.{threading.get_native_id()}"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
        try:
            data = text.encode("utf-8")
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
