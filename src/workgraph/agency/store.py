"""The agency store ``$WG/agency/`` (agency.md 2.1): one YAML file per entity, JSON evaluations.

Writes are atomic (serialise, parse back, ``.<stem>.<ext>.tmp``, fsync, rename); every read-modify-write
holds ``flock`` on ``$WG/agency/.lock``. Reads create nothing; a corrupt file is skipped with a warning
naming ``<file>:<line>``, and a folder whose every file is corrupt is an error.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
from contextlib import contextmanager

from ..errors import WgError
from . import entities as E
from .evalfiles import EVAL_DIR, load_evaluations
from .yamlio import AgencyFileError, dumps, loads

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any

    Entity = dict[str, Any]


def _stderr(line: str) -> None:
    sys.stderr.write(line + "\n")


def write_atomic(path: str, text: str) -> None:
    """``.<name>.tmp`` in the same folder, fsync, rename, fsync the folder; the temp never survives."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass


class AgencyStore:
    def __init__(self, wg_dir: str, warn: Callable[[str], None] = _stderr) -> None:
        self.wg_dir = wg_dir
        self.root = os.path.join(wg_dir, "agency")
        self.warn = warn
        self._cache: dict[str, list[Entity]] = {}

    # -- paths, folders, lock -----------------------------------------------------------------
    def folder(self, kind: str) -> str:
        return os.path.join(self.root, E.FOLDERS.get(kind, kind))

    def path(self, kind: str, entity_id: str) -> str:
        return os.path.join(self.folder(kind), f"{entity_id}.yaml")

    def ensure(self) -> None:
        for sub in E.ALL_FOLDERS:
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        self.ensure()
        fd = os.open(os.path.join(self.root, ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._cache.clear()  # what others wrote before we held the lock
            yield
        finally:
            os.close(fd)

    # -- reading ------------------------------------------------------------------------------
    def read_file(self, kind: str, path: str) -> Entity:
        """One entity file; raises AgencyFileError (``<file>:<line>: ...``) when it is not a usable record."""
        with open(path, encoding="utf-8") as fh:
            data = loads(fh.read(), path)
        if not isinstance(data, dict):
            raise AgencyFileError(path, 1, f"expected a mapping for a {kind}")
        if not isinstance(data.get("id"), str) or not data["id"]:
            raise AgencyFileError(path, 1, "missing field `id`")
        return E.normalize(kind, data)

    def all(self, kind: str) -> list[Entity]:
        if kind in self._cache:
            return self._cache[kind]
        folder = self.folder(kind)
        try:
            names = sorted(n for n in os.listdir(folder) if n.endswith(".yaml") and not n.startswith("."))
        except (FileNotFoundError, NotADirectoryError):
            names = []
        found: list[Entity] = []
        bad: list[str] = []
        for name in names:
            path = os.path.join(folder, name)
            try:
                found.append(self.read_file(kind, path))
            except AgencyFileError as exc:
                bad.append(path)
                self.warn(f"Warning: skipping corrupt YAML file {path}: {exc.message}")
            except (OSError, UnicodeDecodeError) as exc:
                bad.append(path)
                self.warn(f"Warning: skipping corrupt YAML file {path}: {path}:1: {exc}")
        if names and not found:
            raise WgError(f"All {len(bad)} YAML file(s) in {folder} are corrupt (skipped: {', '.join(bad)})")
        found.sort(key=lambda e: str(e["id"]))
        self._cache[kind] = found
        return found

    def get(self, kind: str, entity_id: str) -> Entity | None:
        """The entity with this exact id (its file), or None; a corrupt file raises."""
        if not entity_id:
            return None
        path = self.path(kind, entity_id)
        if os.path.isfile(path):
            return self.read_file(kind, path)
        return next((e for e in self.all(kind) if e["id"] == entity_id), None)

    def matches(self, kind: str, prefix: str) -> list[Entity]:
        exact = [e for e in self.all(kind) if e["id"] == prefix]
        return exact or [e for e in self.all(kind) if str(e["id"]).startswith(prefix)]

    def find(self, kind: str, prefix: str) -> Entity:
        """Prefix lookup (2.5): exactly one match, else ``No <kind> matching`` / ``Prefix ... matches``."""
        found = self.matches(kind, prefix) if prefix else []
        if not found:
            raise WgError(f"No {kind} matching '{prefix}'")
        if len(found) > 1:
            ids = ", ".join(str(e["id"]) for e in found)
            raise WgError(f"Prefix '{prefix}' matches {len(found)} {kind}s: {ids}")
        return found[0]

    def resolve(self, kind: str, prefix: str) -> Entity | None:
        """Like ``find`` but None when it does not resolve to exactly one."""
        if not prefix:
            return None
        found = self.matches(kind, prefix)
        return found[0] if len(found) == 1 else None

    # -- writing ------------------------------------------------------------------------------
    def write(self, kind: str, entity: Entity, now: int) -> str:
        """Write (create or replace) one entity file atomically; returns its path."""
        self.ensure()
        record = E.for_write(kind, entity, now)
        text = dumps(record)
        path = self.path(kind, str(record["id"]))
        if loads(text, path) is None:  # the parse-back check (2.1)
            raise WgError(f"Failed to serialise {kind} '{record['id']}'")
        write_atomic(path, text)
        self._cache.pop(kind, None)
        return path

    def remove(self, kind: str, entity_id: str) -> None:
        os.unlink(self.path(kind, entity_id))
        self._cache.pop(kind, None)

    def exists(self, kind: str, entity_id: str) -> bool:
        return os.path.isfile(self.path(kind, entity_id))

    def human_agent_ids(self) -> frozenset[str]:
        """Ids of human agents (executor matrix/email/shell), for ``scaffold_evaluations``."""
        return frozenset(str(a["id"]) for a in self.all("agent") if E.is_human(a))

    # -- evaluations --------------------------------------------------------------------------
    def evaluations(self) -> list[Entity]:
        return load_evaluations(self.wg_dir, self.warn)

    def save_evaluation(self, evaluation: Entity) -> str:
        """Pick a free id (``-2``, ``-3``, ... when taken) and write the JSON file; call under ``lock``."""
        self.ensure()
        folder = os.path.join(self.root, EVAL_DIR)
        base = str(evaluation["id"])
        eid, n = base, 1
        while os.path.exists(os.path.join(folder, f"{eid}.json")):
            n += 1
            eid = f"{base}-{n}"
        evaluation["id"] = eid
        text = json.dumps(evaluation, indent=2, ensure_ascii=False) + "\n"
        json.loads(text)
        path = os.path.join(folder, f"{eid}.json")
        write_atomic(path, text)
        return path

    # -- assignments (2.7) --------------------------------------------------------------------
    def write_assignment(self, task_id: str, agent_id: str, timestamp: str) -> str:
        path = os.path.join(self.root, "assignments", f"{task_id}.yaml")
        record: Entity | None = None
        if os.path.isfile(path):
            try:
                with open(path, encoding="utf-8") as fh:
                    old = loads(fh.read(), path)
                record = old if isinstance(old, dict) else None
            except AgencyFileError:
                record = None
        if record is None:
            record = {
                "task_id": task_id,
                "agent_id": agent_id,
                "composition_id": agent_id,
                "timestamp": timestamp,
                "mode": {
                    "type": "learning",
                    "dimension": {"type": "novel_composition"},
                    "bizarre_ideation": False,
                },
                "assignment_source": {"type": "native"},
            }
        else:
            record.update(agent_id=agent_id, composition_id=agent_id, timestamp=timestamp)
        self.ensure()
        write_atomic(path, dumps(record))
        return path

    def rel(self, path: str) -> str:
        """A path as printed: relative to the project root when inside it."""
        root = os.path.dirname(os.path.abspath(self.wg_dir))
        ap = os.path.abspath(path)
        return os.path.relpath(ap, root) if ap.startswith(root + os.sep) else ap
