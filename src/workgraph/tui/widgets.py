"""The TUI's panes: the task list, the task page, the agents table and the followed output log."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip
from textual.widgets import DataTable, Log, Static

from ..cli.context import Ctx
from .data import STATUS_STYLE, fmt_runtime, status_mark

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar

    from textual.binding import BindingType

    from ..graph import Graph
    from ..model import Record
    from .data import AgentRow


class TaskTable(ScrollView, can_focus=True):
    """One line per visible task; only the lines on screen are rendered, so 100k tasks list instantly.

    The cursor row is the selection; moving it posts ``TaskTable.Highlighted``.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "move(-1000000000)", show=False),
        Binding("end", "move(1000000000)", show=False),
    ]
    DEFAULT_CSS = """
    TaskTable { background: $surface; }
    TaskTable > .task-table--cursor { background: $accent 40%; }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"task-table--cursor"}
    cursor: reactive[int] = reactive(0, always_update=True)

    class Highlighted(Message):
        def __init__(self, task_id: str | None) -> None:
            super().__init__()
            self.task_id = task_id

    def __init__(self, **kw: str) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.task_ids: list[str] = []
        self._lines: list[tuple[str, str, str, str]] = []  # (mark, padded id, title, style), drawn lazily

    def show_rows(self, rows: list[tuple[Record, int]], keep: str | None) -> None:
        """Replace the rows, keeping the cursor on ``keep`` when it is still visible."""
        ids: list[str] = []
        lines: list[tuple[str, str, str, str]] = []
        width = max((len(rec["id"]) for rec, _ in rows), default=2)
        width = min(width, 28)
        for rec, depth in rows:
            tid = rec["id"]
            status = rec.get("status", "open")
            style = STATUS_STYLE.get(status, "")
            title = ("  " * depth + ("└ " if depth else "")) + str(rec.get("title", ""))
            if rec.get("paused"):
                title += " [PAUSED]"
            if rec.get("tags"):
                title += f" [{', '.join(rec['tags'])}]"
            lines.append((status_mark(status), tid.ljust(width), title, style))
            ids.append(tid)
        self.task_ids, self._lines = ids, lines
        self.virtual_size = Size(self.size.width, len(ids))
        self.cursor = (
            ids.index(keep) if keep is not None and keep in ids else min(self.cursor, max(len(ids) - 1, 0))
        )
        self.refresh()

    def validate_cursor(self, value: int) -> int:
        return max(0, min(value, len(self.task_ids) - 1)) if self.task_ids else 0

    def watch_cursor(self, value: int) -> None:
        top = round(self.scroll_offset.y)
        height = max(self.scrollable_content_region.height, 1)
        if value < top:
            self.scroll_to(y=value, animate=False)
        elif value >= top + height:
            self.scroll_to(y=value - height + 1, animate=False)
        self.refresh()
        self.post_message(self.Highlighted(self.selected_id))

    def action_move(self, delta: int) -> None:
        self.cursor = self.cursor + delta

    def action_page(self, direction: int) -> None:
        self.cursor = self.cursor + direction * max(self.scrollable_content_region.height - 1, 1)

    def on_click(self, event: events.Click) -> None:
        self.cursor = round(self.scroll_offset.y) + event.y

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        idx = round(self.scroll_offset.y) + y
        base = self.rich_style
        if idx >= len(self._lines):
            return Strip.blank(width, base)
        mark, tid, title, style = self._lines[idx]
        line = Text.assemble((mark, style), " ", (tid, style), " ", title, no_wrap=True, overflow="ellipsis")
        if idx == self.cursor:
            line.stylize(self.get_component_rich_style("task-table--cursor"))
        segments = list(line.render(self.app.console))
        return Strip(segments).crop_extend(0, width, base).apply_style(base)

    @property
    def selected_id(self) -> str | None:
        if not self.task_ids or not 0 <= self.cursor < len(self.task_ids):
            return None
        return self.task_ids[self.cursor]


class _PageCtx(Ctx):
    """A ``Ctx`` for ``show.show_lines``: a fixed ``$WG`` and clock, warnings kept instead of printed."""

    def __init__(self, wg_dir: str, now: int) -> None:
        super().__init__(wg_dir, False, "tui")
        self._wg_dir = wg_dir
        self.now = now
        self.warnings: list[str] = []

    def err(self, *lines: str) -> None:  # type: ignore[override]
        self.warnings.extend(lines)


def page_lines(wg_dir: str, graph: Graph, task: Record, now: int) -> list[str]:
    """The selected task's page: exactly ``wg show``'s lines."""
    from ..cli.show import show_lines

    return show_lines(_PageCtx(wg_dir, now), graph, task)


class TaskPage(VerticalScroll):
    """The ``wg show`` page of the selected task."""

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("", id="page-text", markup=False)

    def show(self, lines: list[str] | None) -> None:
        text = "\n".join(lines) if lines is not None else "(no task selected)"
        self.query_one("#page-text", Static).update(Text(text))
        self.scroll_home(animate=False)


class AgentsTable(DataTable[Text]):
    """Agents from ``service/registry.json``: alive/dead, status, task, runtime, last output line."""

    def __init__(self, **kw: str) -> None:
        super().__init__(cursor_type="row", **kw)  # type: ignore[arg-type]
        self.agent_ids: list[str] = []

    def on_mount(self) -> None:
        for label, width in (("agent", 8), ("state", 5), ("task", 16), ("runtime", 7)):
            self.add_column(label, width=width, key=label)
        self.add_column("last output", key="tail")

    def show_agents(self, agents: list[AgentRow]) -> None:
        keep = self.selected_id
        self.clear()
        self.agent_ids = [a.id for a in agents]
        for a in agents:
            state = Text("alive", style="bold green") if a.alive else Text("dead", style="dim red")
            self.add_row(
                Text(a.id),
                state,
                Text(a.task_id),
                Text(fmt_runtime(a.runtime)),
                Text(a.tail, overflow="ellipsis", no_wrap=True),
                key=a.id,
            )
        if keep in self.agent_ids:
            self.move_cursor(row=self.agent_ids.index(keep), animate=False)

    @property
    def selected_id(self) -> str | None:
        if not self.agent_ids or not 0 <= self.cursor_row < len(self.agent_ids):
            return None
        return self.agent_ids[self.cursor_row]


class OutputLog(Log):
    """The followed agent's ``output.log``, appended to as it grows."""

    def restart(self, title: str, text: str = "") -> None:
        self.clear()
        self.border_title = title
        if text:
            self.write_lines(text.splitlines())
