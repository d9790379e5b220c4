"""``archive.jsonl`` and ``archive-last-batch.json`` on disk, for ``wg archive`` (spec core 11.16).

``archive.jsonl`` never loses a record: archiving appends and fsyncs it BEFORE the graph transaction
removes the records; undo and restore put records back into the graph first and only then rewrite the
archive (temp + rename), in a second transaction so no concurrent archive append is lost. A crash in
between leaves a record in both files, never in neither.
"""

from __future__ import annotations

import os

from ..errors import WgError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ..model import Record

ARCHIVE_FILE = "archive.jsonl"
BATCH_FILE = "archive-last-batch.json"


def archive_path(wg_dir: str) -> str:
    return os.path.join(wg_dir, ARCHIVE_FILE)


def read_archive(wg_dir: str) -> list[Record]:
    from ..archive import parse_archive

    try:
        with open(archive_path(wg_dir), encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise WgError(f"Failed to read {archive_path(wg_dir)}: {exc}") from None
    return parse_archive(text)


def _fsync_dir(path: str) -> None:
    dfd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def append_archive(wg_dir: str, records: list[Record]) -> None:
    from ..archive import archive_lines

    path = archive_path(wg_dir)
    data = archive_lines(records).encode("utf-8")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            # a previous crash may have left a partial last line: start ours on a fresh line
            if os.fstat(fd).st_size > 0:
                with open(path, "rb") as fh:
                    fh.seek(-1, os.SEEK_END)
                    if fh.read(1) != b"\n":
                        data = b"\n" + data
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(wg_dir)
    except OSError as exc:
        raise WgError(f"Failed to write {path}: {exc.strerror}") from None


def rewrite_archive_without(wg_dir: str, ids: set[str]) -> None:
    """Drop ``ids`` from archive.jsonl (temp + fsync + rename). Run under the graph lock."""
    path = archive_path(wg_dir)
    try:
        with open(path, encoding="utf-8") as fh:
            lines = fh.read().split("\n")
    except FileNotFoundError:
        return
    import json

    kept: list[str] = []
    for line in lines:
        s = line.strip()
        if not s:
            continue
        try:
            obj = json.loads(s)
        except ValueError:
            kept.append(s)  # never drop what we cannot read
            continue
        if isinstance(obj, dict) and obj.get("id") in ids:
            continue
        kept.append(s)
    tmp = f"{path}.tmp.{os.getpid()}"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write("".join(k + "\n" for k in kept))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(wg_dir)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise WgError(f"Failed to write {path}: {exc.strerror}") from None


def write_batch(wg_dir: str, ids: list[str], now: int) -> None:
    import json

    from ..timeutil import format_ts

    path = os.path.join(wg_dir, BATCH_FILE)
    tmp = path + ".tmp"
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"timestamp": format_ts(now), "task_ids": ids}, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise WgError(f"Failed to write {path}: {exc.strerror}") from None


def read_batch(wg_dir: str) -> list[str]:
    import json

    path = os.path.join(wg_dir, BATCH_FILE)
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise WgError("No archive batch to undo. No previous archive operation found.") from None
    except (OSError, ValueError) as exc:
        raise WgError(f"Failed to read {path}: {exc}") from None
    ids = data.get("task_ids") if isinstance(data, dict) else None
    if not isinstance(ids, list):
        raise WgError("Invalid batch metadata: missing task_ids")
    return [i for i in ids if isinstance(i, str)]
