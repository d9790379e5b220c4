"""Every command is documented: help text for each command, subcommand and option (like sqlite-utils'
documentation test), and ``wg <cmd> --help`` works for all of them."""

from __future__ import annotations

import importlib

import pytest

from tests.conftest import Project
from workgraph.cli import COMMANDS
from workgraph.cli.args import Cmd

# Options whose missing help belongs to a module this suite's owner may not edit. Listed as strict
# xfails so the test goes red (XPASS) as soon as the help is written, and the entry can go.
KNOWN_UNDOCUMENTED: set[tuple[str, str]] = set()


def _cmd(name: str) -> Cmd:
    cmd = importlib.import_module(f"workgraph.cli.{COMMANDS[name][0]}").COMMANDS[name]
    assert isinstance(cmd, Cmd)
    return cmd


def _walk(cmd: Cmd, path: str) -> list[tuple[str, Cmd]]:
    out = [(path, cmd)]
    for sub in cmd.subs.values():
        out += _walk(sub, f"{path} {sub.name}")
    return out


def _all_paths() -> list[tuple[str, Cmd]]:
    out: list[tuple[str, Cmd]] = []
    for name in COMMANDS:
        out += _walk(_cmd(name), name)
    return out


def _option_cases() -> list[object]:
    cases: list[object] = []
    for path, cmd in _all_paths():
        for opt in cmd.opts:
            if opt.hidden:
                continue
            key = (path, opt.names[-1])
            marks = (
                [pytest.mark.xfail(strict=True, reason="help owned elsewhere")]
                if key in KNOWN_UNDOCUMENTED
                else []
            )
            cases.append(
                pytest.param(
                    path, opt.names, bool(opt.help.strip()), id=f"{path}:{opt.names[-1]}", marks=marks
                )
            )
    return cases


def test_every_registered_command_has_help_text() -> None:
    for name, (module, one_line) in COMMANDS.items():
        assert one_line.strip(), f"COMMANDS[{name!r}] has no one-line help"
        assert importlib.import_module(f"workgraph.cli.{module}").COMMANDS.get(name) is not None, name
    for path, cmd in _all_paths():
        assert cmd.help.strip(), f"'wg {path}' has no help text"
        for arg in cmd.args:
            assert arg.name, path


@pytest.mark.parametrize(("path", "names", "documented"), _option_cases())
def test_every_option_has_help(path: str, names: tuple[str, ...], documented: bool) -> None:
    assert documented, f"'wg {path}' option {', '.join(names)} has no help string"


def test_help_exits_zero_for_every_command(project: Project) -> None:
    for path, cmd in _all_paths():
        r = project.run(*path.split(), "--help")
        assert r.code == 0, f"wg {path} --help exited {r.code}: {r.err}"
        assert "Traceback" not in r.err
        assert f"Usage: wg {path}" in r.out, f"wg {path} --help:\n{r.out}"
        assert cmd.help.splitlines()[0] in r.out
        for opt in cmd.opts:
            if not opt.hidden:
                assert opt.names[0] in r.out, f"wg {path} --help does not list {opt.names[0]}"


def test_top_level_help_lists_every_command(bare_project: Project) -> None:
    out = bare_project.ok("--help").out
    for name, (_module, one_line) in COMMANDS.items():
        assert f"  {name:<14} {one_line}" in out
