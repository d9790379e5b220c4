from __future__ import annotations

import io

import pytest

from workgraph.cli.progress import progress_bar


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_no_bar_when_piped() -> None:
    assert progress_bar(io.StringIO(), "Work") is None


def test_bar_on_a_tty_draws_to_stderr_and_ends_with_a_newline(capsys: pytest.CaptureFixture[str]) -> None:
    draw = progress_bar(_Tty(), "Checking worktrees")
    assert draw is not None
    for n in range(11):
        draw(n, 10)
    err = capsys.readouterr().err
    assert err.startswith("\rChecking worktrees [")
    assert err.endswith("] 10/10\n")
    assert err.count("\r") == 11  # one redraw per percent step, never more


def test_bar_skips_redraws_within_one_percent(capsys: pytest.CaptureFixture[str]) -> None:
    draw = progress_bar(_Tty(), "Writing pages")
    assert draw is not None
    for n in range(1001):
        draw(n, 1000)
    assert capsys.readouterr().err.count("\r") == 101
