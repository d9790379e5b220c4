"""``wg tui``: a live view of the graph, the selected task's page, the agents and an agent's output.

Live refresh without a busy loop: a Textual timer stats ``graph.jsonl`` (mtime, inode, size — the store
replaces it by rename, so every write changes them), ``service/registry.json`` and the followed
``output.log`` every ``interval`` seconds, and reloads only what changed. No daemon is needed.

Actions (claim, done, fail, retry, add) run the ``wg`` command itself in a subprocess after a
confirmation, so validation, the operations log and the daemon nudge are exactly the CLI's.
"""

from __future__ import annotations

import os
import sys

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import DataTable, Footer, Input, Static

from ..errors import WgError
from ..timeutil import now_ns
from .data import (
    ORDERS,
    STATUS_CYCLE,
    Filter,
    LogFollower,
    file_signature,
    load_agents,
    status_counts,
    visible_rows,
)
from .screens import ConfirmScreen, HelpScreen, PromptScreen
from .widgets import AgentsTable, OutputLog, TaskPage, TaskTable, page_lines

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import ClassVar

    from textual.binding import BindingType

    from ..graph import Graph

WG_ARGV = [sys.executable, "-c", "import sys; from workgraph.cli import main; sys.exit(main())"]


class WgApp(App[None]):
    CSS = """
    #statusbar { height: 1; background: $panel; padding: 0 1; }
    #search { height: 1; border: none; padding: 0 1; }
    #main { height: 1fr; }
    #tasks { width: 45%; height: 100%; border: round $primary; scrollbar-size-horizontal: 0; }
    #page { width: 1fr; height: 100%; border: round $primary; padding: 0 1; overflow-x: hidden; }
    #bottom { height: 9; }
    #agents { width: 60%; height: 100%; border: round $secondary; scrollbar-size-horizontal: 0; }
    #log { width: 1fr; height: 100%; border: round $secondary; scrollbar-size-horizontal: 0; }
    #message { height: 1; padding: 0 1; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "quit"),
        Binding("question_mark", "help", "help"),
        Binding("slash", "search", "search"),
        Binding("s", "cycle_status", "status"),
        Binding("t", "tag_filter", "tag"),
        Binding("o", "toggle_order", "order"),
        Binding("full_stop", "toggle_system", "system", show=False),
        Binding("escape", "clear_filters", "clear", show=False),
        Binding("c", "claim", "claim"),
        Binding("d", "done", "done"),
        Binding("f", "fail", "fail"),
        Binding("r", "retry", "retry"),
        Binding("a", "add", "add"),
        Binding("g", "follow_task_agent", "follow", show=False),
        Binding("j", "cursor(1)", show=False),
        Binding("k", "cursor(-1)", show=False),
    ]

    def __init__(
        self,
        wg_dir: str,
        *,
        clock: Callable[[], int] | None = None,
        interval: float = 0.5,
        wg_argv: list[str] | None = None,
    ) -> None:
        super().__init__()
        self.wg_dir = wg_dir
        self.graph_path = os.path.join(wg_dir, "graph.jsonl")
        self.registry_path = os.path.join(wg_dir, "service", "registry.json")
        self.clock = clock or now_ns
        self.interval = interval
        self.wg_argv = wg_argv or WG_ARGV
        self.graph: Graph | None = None
        self.order = ORDERS[0]
        self.status_filter: str | None = None
        self.search_text = ""
        self.show_system = False
        self.graph_sig: tuple[int, int, int] | None = None
        self.registry_sig: tuple[int, int, int] | None = None
        self.follower: LogFollower | None = None
        self.followed_agent: str | None = None
        self.reloads = 0  # how many times the graph was (re)loaded: tests and the benchmark read it

    # -- layout -----------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", id="statusbar", markup=False)
        yield Input(placeholder="/ search: words, status:<s>, tag:<t>, #<t>", id="search")
        with Horizontal(id="main"):
            yield TaskTable(id="tasks")
            yield TaskPage(id="page")
        with Horizontal(id="bottom"):
            yield AgentsTable(id="agents")
            yield OutputLog(id="log", max_lines=5000)
        yield Static("", id="message", markup=False)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#tasks").border_title = "tasks"
        self.query_one("#page").border_title = "task"
        self.query_one("#agents").border_title = "agents"
        self.query_one("#log").border_title = "output"
        self.query_one("#search", Input).cursor_blink = False
        self.reload_graph()
        self.reload_agents()
        self.query_one(TaskTable).focus()
        self.set_interval(self.interval, self.poll)

    # -- reading --------------------------------------------------------------------------------
    @property
    def table(self) -> TaskTable:
        return self.query_one(TaskTable)

    def current_filter(self) -> Filter:
        return Filter.parse(self.search_text, self.status_filter, self.show_system)

    def reload_graph(self) -> None:
        from ..store.jsonl import JsonlStore

        self.graph_sig = file_signature(self.graph_path)
        try:
            self.graph = JsonlStore(self.wg_dir).load()
        except WgError as exc:
            self.say(f"cannot read the graph: {exc.message}")
            if self.graph is None:
                from ..graph import Graph

                self.graph = Graph()
        self.reloads += 1
        self.rebuild()

    def rebuild(self) -> None:
        """Re-list the visible tasks (after a reload or a filter/order change), keeping the selection."""
        if self.graph is None:
            return
        table = self.table
        keep = table.selected_id
        flt = self.current_filter()
        table.show_rows(visible_rows(self.graph, self.order, flt), keep)
        counts = status_counts(self.graph)
        summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        shown = len(table.task_ids)
        self.query_one("#statusbar", Static).update(
            f"wg · {shown}/{sum(counts.values())} tasks ({summary or 'none'}) · order:{self.order} · {flt.describe()}"
        )
        self.show_page()

    def show_page(self) -> None:
        tid = self.table.selected_id
        task = self.graph.get(tid) if self.graph is not None and tid is not None else None
        page = self.query_one(TaskPage)
        if task is None or self.graph is None:
            page.show(None)
            return
        page.show(page_lines(self.wg_dir, self.graph, task, self.clock()))

    def reload_agents(self) -> None:
        self.registry_sig = file_signature(self.registry_path)
        self.query_one(AgentsTable).show_agents(load_agents(self.wg_dir, self.clock()))

    def poll(self) -> None:
        """The timer: reload what changed on disk (a few ``stat`` calls when nothing did)."""
        if file_signature(self.graph_path) != self.graph_sig:
            self.reload_graph()
        if file_signature(self.registry_path) != self.registry_sig:
            self.reload_agents()
        self.pump_log()

    def say(self, message: str) -> None:
        self.query_one("#message", Static).update(message)

    # -- selection ------------------------------------------------------------------------------
    def on_task_table_highlighted(self, event: TaskTable.Highlighted) -> None:
        if self.query(TaskPage):
            self.show_page()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "agents" and event.row_key.value:
            self.follow(str(event.row_key.value))

    def action_cursor(self, delta: int) -> None:
        if self.table.has_focus:
            self.table.cursor = self.table.cursor + delta

    # -- the output pane ------------------------------------------------------------------------
    def follow(self, agent_id: str) -> None:
        if agent_id == self.followed_agent:
            return
        path = os.path.join(self.wg_dir, "agents", agent_id, "output.log")
        for row in load_agents(self.wg_dir, self.clock()):
            if row.id == agent_id:
                path = row.output_file
        self.followed_agent = agent_id
        self.follower = LogFollower(path)
        for log in self.query(OutputLog):  # absent while the app shuts down
            log.restart(f"output · {agent_id}")
        self.pump_log()

    def pump_log(self) -> None:
        if self.follower is None:
            return
        logs = list(self.query(OutputLog))
        if not logs:
            return
        log = logs[0]
        reset, text = self.follower.read_new()
        if reset:
            log.restart(f"output · {self.followed_agent}")
        if text:
            log.write_lines(text.splitlines())

    def action_follow_task_agent(self) -> None:
        from ..cli.show import newest_agent

        tid = self.table.selected_id
        if tid is None:
            return
        for row in load_agents(self.wg_dir, self.clock()):
            if row.task_id == tid:
                self.follow(row.id)
                return
        agent = newest_agent(self.wg_dir, tid)
        if agent is not None and agent.get("id"):
            self.follow(str(agent["id"]))
        else:
            self.say(f"no agent has worked on {tid}")

    # -- filters --------------------------------------------------------------------------------
    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "search":
            return
        self.search_text = event.value.strip()
        self.rebuild()
        self.table.focus()

    def action_cycle_status(self) -> None:
        i = STATUS_CYCLE.index(self.status_filter) if self.status_filter in STATUS_CYCLE else 0
        self.status_filter = STATUS_CYCLE[(i + 1) % len(STATUS_CYCLE)]
        self.rebuild()

    def action_tag_filter(self) -> None:
        def done(tag: str | None) -> None:
            if tag:
                kept = [w for w in self.search_text.split() if not w.startswith(("tag:", "#"))]
                self.search_text = " ".join([*kept, f"tag:{tag}"])
                self.query_one("#search", Input).value = self.search_text
                self.rebuild()

        self.push_screen(PromptScreen("Show only tasks with tag:"), done)

    def action_toggle_order(self) -> None:
        self.order = ORDERS[(ORDERS.index(self.order) + 1) % len(ORDERS)]
        self.rebuild()

    def action_toggle_system(self) -> None:
        self.show_system = not self.show_system
        self.rebuild()

    def action_clear_filters(self) -> None:
        self.search_text = ""
        self.status_filter = None
        self.query_one("#search", Input).value = ""
        self.rebuild()
        self.table.focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    # -- actions --------------------------------------------------------------------------------
    def _confirm_then_run(self, question: str, argv: list[str]) -> None:
        def answered(yes: bool | None) -> None:
            if yes:
                self.run_worker(self.run_wg(argv), group="wg", exclusive=False)
            else:
                self.say("cancelled")

        self.push_screen(ConfirmScreen(question), answered)

    def _selected_or_say(self) -> str | None:
        tid = self.table.selected_id
        if tid is None:
            self.say("no task selected")
        return tid

    def action_claim(self) -> None:
        tid = self._selected_or_say()
        if tid:
            self._confirm_then_run(f"Claim '{tid}'?", ["claim", tid])

    def action_done(self) -> None:
        tid = self._selected_or_say()
        if tid:
            self._confirm_then_run(f"Mark '{tid}' done?", ["done", tid])

    def action_retry(self) -> None:
        tid = self._selected_or_say()
        if tid:
            self._confirm_then_run(f"Retry '{tid}'?", ["retry", tid])

    def action_fail(self) -> None:
        tid = self._selected_or_say()
        if not tid:
            return

        def reason_given(reason: str | None) -> None:
            if reason is None:
                self.say("cancelled")
                return
            self._confirm_then_run(f"Mark '{tid}' failed: {reason}?", ["fail", tid, "--reason", reason])

        self.push_screen(
            PromptScreen(f"Why did '{tid}' fail? (enter to continue, escape cancels)"), reason_given
        )

    def action_add(self) -> None:
        def title_given(title: str | None) -> None:
            if title is None:
                self.say("cancelled")
                return
            self._confirm_then_run(f"Add task '{title}'?", ["add", title, "--no-place"])

        self.push_screen(PromptScreen("Title of the new task:"), title_given)

    async def run_wg(self, argv: list[str]) -> int:
        """Run ``wg --dir $WG <argv>``; show its first output line (or its error) and refresh."""
        import asyncio

        full = [*self.wg_argv, "--dir", self.wg_dir, *argv]
        env = {k: v for k, v in os.environ.items() if k not in ("WG_TASK_ID", "WG_AGENT_ID")}
        env.setdefault("NO_COLOR", "1")
        try:
            proc = await asyncio.create_subprocess_exec(
                *full,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=env,
            )
            out, err = await proc.communicate()
        except OSError as exc:
            self.say(f"wg {argv[0]}: {exc}")
            return 1
        code = proc.returncode or 0
        text = (out if code == 0 else err).decode("utf-8", errors="replace").strip()
        first = text.splitlines()[0] if text else f"exit {code}"
        self.say(f"wg {argv[0]}: {first}")
        self.poll()
        return code
