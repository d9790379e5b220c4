"""``wg html [--out DIR]``: export the graph as a static site (spec core 12, views issue)."""

from __future__ import annotations

import os
import sys

from .args import Cmd, Opt, flag

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from .args import Args
    from .context import Ctx

PROGRESS_MIN = 200  # pages; smaller exports finish before a bar would be worth drawing


def _progress_bar(stream: object) -> Callable[[int, int], None] | None:
    """A one-line bar on a terminal stderr, redrawn at most ~100 times; None when stderr is not a TTY."""
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
        line = f"\rWriting pages [{'#' * filled}{' ' * (width - filled)}] {done}/{total}"
        sys.stderr.write(line + ("\n" if done == total else ""))
        sys.stderr.flush()

    return draw


def run_html(ctx: Ctx, a: Args) -> int:
    from ..render.html import select_ids, write_site
    from ..render.html_side import load_side_data

    graph = ctx.store.load()
    out_dir = os.path.abspath(a.get("out") or "public")
    public_only = bool(a.get("public_only"))
    ids = select_ids(graph, include_system=bool(a.get("all")), public_only=public_only)
    title = ctx.config.get("project.name") or "Workgraph"
    if not isinstance(title, str) or not title.strip():
        title = "Workgraph"
    side = load_side_data(ctx.wg_dir, graph, ids)
    total = len(graph)
    note = f" ({len(ids)} public of {total})" if public_only else ""
    progress = _progress_bar(sys.stderr) if len(ids) >= PROGRESS_MIN and not ctx.json else None
    try:
        pages = write_site(graph, ids, side, out_dir, title, ctx.now, note, progress)
    except OSError as exc:
        from ..errors import WgError

        raise WgError(f"Failed to write site to {out_dir}: {exc.strerror or exc}") from None
    if ctx.json:
        ctx.emit_json(
            {
                "out_dir": out_dir,
                "total_in_graph": total,
                "exported": len(ids),
                "pages_written": pages + 1,
                "public_only": public_only,
            }
        )
        return 0
    scope = f"{len(ids)} public of {total} total" if public_only else f"{len(ids)} of {total} tasks"
    ctx.out(f"Wrote {pages + 1} pages to {out_dir} ({scope})", f"Open {out_dir}/index.html in a browser.")
    return 0


COMMANDS = {
    "html": Cmd(
        "html",
        "Export the graph as a static HTML site",
        run_html,
        opts=[
            Opt("--out", "-o", help="Output directory (default ./public)", metavar="DIR"),
            flag("--all", help="Include system tasks (ids starting with '.')"),
            flag("--public-only", help="Export only tasks with visibility public"),
        ],
    ),
}
