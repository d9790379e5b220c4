"""``wg tui``: the interactive terminal view (Textual is imported only here, when the command runs)."""

from __future__ import annotations

from ..errors import WgError
from .args import Cmd, Opt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .args import Args
    from .context import Ctx


def run_tui(ctx: Ctx, a: Args) -> int:
    ctx.store  # noqa: B018 - raises NotInitialized before any screen is drawn
    interval = a.interval if a.interval is not None else 0.5
    if not 0.05 <= interval <= 60:
        raise WgError(f"--interval must be between 0.05 and 60 seconds, got {interval}")
    try:
        from ..tui.app import WgApp
    except ImportError as exc:  # textual is a dependency, but a broken install should say so plainly
        raise WgError(f"the TUI needs the 'textual' package: {exc}") from None
    WgApp(ctx.wg_dir, interval=interval).run()
    return 0


COMMANDS = {
    "tui": Cmd(
        "tui",
        "Interactive terminal view: tasks, the selected task, agents and their output",
        run_tui,
        opts=[Opt("--interval", type=float, help="Seconds between checks of graph.jsonl for changes (0.5)")],
        json=False,
    ),
}
