"""Modal screens: a yes/no confirmation, a one-line prompt, and the key help."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import ClassVar

    from textual.binding import BindingType

HELP_TEXT = """\
wg tui — keys

  ↑/↓ j/k     move the selection (the task page follows)
  /           search: words match id/title; status:<s>, tag:<t> or #<t> filter
  s           cycle the status filter (all, open, in-progress, blocked, failed, ...)
  t           filter by tag (prompt)
  o           order: tree (dependents under their dependency) / deps (dependencies first)
  .           show or hide system tasks (.id)
  escape      clear search and filters

  c           claim the selected task      (asks to confirm)
  d           mark it done                 (asks to confirm)
  f           mark it failed (asks a reason, then to confirm)
  r           retry a failed task          (asks to confirm)
  a           add a task (asks a title; it depends on nothing)

  g           follow the selected task's newest agent in the output pane
  tab         move focus: tasks / agents (selecting an agent follows its output.log)
  ?           this help          q  quit

The view refreshes by itself when graph.jsonl, the agent registry or the followed output.log change.
Actions run the `wg` commands, so they log, validate and notify the daemon exactly as the CLI does.
"""


class ConfirmScreen(ModalScreen[bool]):
    """``question`` with y / n (enter = yes, escape = no)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 70; height: auto; border: thick $warning; background: $surface; padding: 1 2;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y,enter", "answer(True)", "yes"),
        Binding("n,escape", "answer(False)", "no"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, id="question")
            yield Static("[b]y[/b] yes   [b]n[/b] no", id="choices")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class PromptScreen(ModalScreen["str | None"]):
    """One line of input: enter returns it (stripped; empty = cancel), escape cancels."""

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical {
        width: 70; height: auto; border: thick $accent; background: $surface; padding: 1 2;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "cancel")]

    def __init__(self, label: str, value: str = "") -> None:
        super().__init__()
        self.label = label
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.label)
            yield Input(value=self.value, id="prompt-input")

    def on_mount(self) -> None:
        box = self.query_one(Input)
        box.cursor_blink = False
        box.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 90; height: auto; max-height: 90%; border: thick $primary; background: $surface; padding: 0 1;
    }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "close")]

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP_TEXT, markup=False)

    def action_close(self) -> None:
        self.dismiss(None)
