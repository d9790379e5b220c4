"""What the agency command modules share: the store, records as JSON, lineage, ``$EDITOR`` edits, and the
generic ``list``/``show``/``rm``/``edit``/``lineage`` sub-commands of ``wg role``, ``wg tradeoff`` and ``wg agent``."""

from __future__ import annotations

import os

from ..errors import WgError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ..agency.store import AgencyStore
    from .args import Args
    from .context import Ctx

    Entity = dict[str, Any]


def open_store(ctx: Ctx) -> AgencyStore:
    """The agency store of an initialised project (``WG not initialized`` otherwise)."""
    from ..agency.store import AgencyStore

    ctx.store  # noqa: B018  # raises NotInitialized when there is no graph
    return AgencyStore(ctx.wg_dir, warn=ctx.err)


def not_supported(ctx: Ctx, a: Args) -> int:
    raise WgError(f"'wg {a.cmd_path}' is not supported yet")


def record_json(entity: Entity) -> Entity:
    """``show --json``: the whole record as stored, tags as text."""
    from ..agency.yamlio import Tagged

    def conv(v: Any) -> Any:
        if isinstance(v, Tagged):
            return {v.tag: v.value}
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, list):
            return [conv(x) for x in v]
        return v

    return {k: conv(v) for k, v in entity.items()}


def _lineage_rows(store: AgencyStore, kind: str, entity: Entity) -> list[tuple[int, Entity]]:
    """The entity and its ancestors (depth first, each once), with their depth."""
    from ..agency import entities as E

    rows: list[tuple[int, Entity]] = []
    seen: set[str] = set()

    def walk(e: Entity, depth: int) -> None:
        if e["id"] in seen:
            return
        seen.add(e["id"])
        rows.append((depth, e))
        for pid in E.lineage(e)["parent_ids"]:
            parent = store.get(kind, pid)
            if parent is not None:
                walk(parent, depth + 1)

    walk(entity, 0)
    return rows


def lineage_output(ctx: Ctx, store: AgencyStore, kind: str, entity: Entity, header: str) -> list[str]:
    from ..agency import entities as E

    rows = _lineage_rows(store, kind, entity)
    if ctx.json:
        ctx.emit_json(
            [
                {"id": e["id"], "name": E.text(e, "name"), "generation": E.lineage(e)["generation"],
                 "created_by": E.lineage(e)["created_by"], "created_at": E.lineage(e).get("created_at"),
                 "parent_ids": E.lineage(e)["parent_ids"]}
                for _, e in rows
            ]
        )  # fmt: skip
        return []
    lines = [header, ""]
    for depth, e in rows:
        lin = E.lineage(e)
        gen = int(lin["generation"] or 0)
        label = "gen 0 (root)" if gen == 0 else f"gen {gen}"
        parents = lin["parent_ids"]
        tail = f" <- [{', '.join(E.short(p) for p in parents)}]" if parents else ""
        lines.append(
            f"{'  ' * depth}{E.short(e['id'])} ({E.text(e, 'name')}) [{label}] created by: {lin['created_by']}{tail}"
        )
    if not E.lineage(entity)["parent_ids"]:
        lines += ["", f"This {kind} has no evolutionary history (manually created)."]
    return lines


def edit_entity(ctx: Ctx, store: AgencyStore, kind: str, entity: Entity, label: str) -> list[str]:
    """``edit``: the file in ``$EDITOR``; same identity rewrites, a new one moves the file (3.3)."""
    import shlex
    import subprocess
    import tempfile

    from ..agency import entities as E
    from ..agency.yamlio import AgencyFileError, dumps, loads

    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    with store.lock():
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False, encoding="utf-8") as fh:
            fh.write(dumps(E.for_write(kind, entity, ctx.now)))
            tmp = fh.name
        try:
            code = subprocess.call([*shlex.split(editor), tmp])
            if code != 0:
                raise WgError("Editor exited with non-zero status")
            with open(tmp, encoding="utf-8") as fh:
                try:
                    data = loads(fh.read(), tmp)
                except AgencyFileError:
                    data = None
        finally:
            os.unlink(tmp)
        if not isinstance(data, dict):
            raise WgError(f"Edited file is not valid {kind} YAML")
        data = E.normalize(kind, data)
        old_id = str(entity["id"])
        data["id"] = old_id
        new_id = E.identity_of(kind, data)
        if new_id == old_id:
            store.write(kind, data, ctx.now)
            return [f"{label} '{E.short(old_id)}' updated"]
        if store.exists(kind, new_id):
            raise WgError(f"{label} with identical content already exists ({E.short(new_id)})")
        data["id"] = new_id
        store.write(kind, data, ctx.now)
        store.remove(kind, old_id)
        return [f"{label} content changed, new ID: {E.short(new_id)}"]


def list_entities(
    ctx: Ctx, kind: str, add_cmd: str, as_json: Callable[[Entity], Entity], as_line: Callable[[Entity], str]
) -> int:
    """``wg <kind> list``: one JSON object per entity, or a header and one line each (a hint when none)."""
    items = open_store(ctx).all(kind)
    if ctx.json:
        ctx.emit_json([as_json(e) for e in items])
        return 0
    if not items:
        ctx.out(f"No {kind}s defined. Use '{add_cmd}' to create one.")
        return 0
    ctx.out(f"{kind.capitalize()}s:", "")
    for e in items:
        ctx.out(as_line(e))
    return 0


def run_show(kind: str, render: Callable[[Entity], list[str]]) -> Any:
    """``wg <kind> show``: the stored record with ``--json``, else ``render``'s lines."""

    def run(ctx: Ctx, a: Args) -> int:
        entity = open_store(ctx).find(kind, a.id)
        if ctx.json:
            ctx.emit_json(record_json(entity))
        else:
            ctx.out(*render(entity))
        return 0

    return run


def run_edit(kind: str, label: str) -> Any:
    def run(ctx: Ctx, a: Args) -> int:
        store = open_store(ctx)
        ctx.out(*edit_entity(ctx, store, kind, store.find(kind, a.id), label))
        return 0

    return run


def run_rm(kind: str, fmt: str) -> Any:
    """``wg <kind> rm``: ``fmt`` gets ``{name}`` and ``{short}`` of the removed entity."""

    def run(ctx: Ctx, a: Args) -> int:
        from ..agency import entities as E

        store = open_store(ctx)
        with store.lock():
            entity = store.find(kind, a.id)
            store.remove(kind, entity["id"])
        if ctx.json:
            ctx.emit_json({"removed": entity["id"]})
        else:
            ctx.out(fmt.format(name=E.text(entity, "name"), short=E.short(entity["id"])))
        return 0

    return run


def run_lineage(kind: str, title: str) -> Any:
    def run(ctx: Ctx, a: Args) -> int:
        from ..agency import entities as E

        store = open_store(ctx)
        e = store.find(kind, a.id)
        ctx.out(
            *lineage_output(
                ctx, store, kind, e, f"Lineage for {title}: {E.short(e['id'])} ({E.text(e, 'name')})"
            )
        )
        return 0

    return run
