"""``wg html [--out DIR]``: export the graph as a static site (spec core 12, views issue)."""

from __future__ import annotations

import os
import sys

from .args import Cmd, Opt, flag
from .progress import progress_bar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .args import Args
    from .context import Ctx

PROGRESS_MIN = 200  # pages; smaller exports finish before a bar would be worth drawing


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
    progress = (
        progress_bar(sys.stderr, "Writing pages") if len(ids) >= PROGRESS_MIN and not ctx.json else None
    )
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
