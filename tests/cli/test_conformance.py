"""Conformance fixes found by reviewing the core CLI against spec core.md (sections 1-2, 11)."""

from __future__ import annotations

import json
import re

from tests.conftest import Project


def _commands_in_help(out: str) -> list[str]:
    names = []
    for line in out.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines():
        if line.startswith("  ") and not line.startswith("    "):
            names.append(line.split()[0])
    return names


def _ops(project: Project) -> list[dict[str, object]]:
    path = project.wg / "log" / "operations.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


def _usage(project: Project) -> list[str]:
    return [line.split(" ", 1)[1] for line in (project.wg / "usage.log").read_text().splitlines()]


# -- 1.2 global flags: --help-all, -a/--alphabetical, --version --------------------------------------


def test_alphabetical_flag_sorts_help(bare_project: Project) -> None:
    for flag in ("-a", "--alphabetical"):
        r = bare_project.ok(flag)
        names = _commands_in_help(r.out)
        assert names == sorted(names)
        assert len(names) > 30
    plain = _commands_in_help(bare_project.ok("--help").out)
    assert plain[0] == "init"  # registry order without usage data
    assert plain != sorted(plain)


def test_help_all_lists_subcommands(bare_project: Project) -> None:
    plain = bare_project.ok("--help").out
    full = bare_project.ok("--help-all").out
    assert "    send " not in plain
    assert re.search(r"^  msg +Task message queues\n    send +\S", full, re.M)
    both = bare_project.ok("--help-all", "-a").out
    names = _commands_in_help(both)
    assert names == sorted(names) and "    send " in both


def test_help_orders_by_usage(project: Project) -> None:
    for _ in range(3):
        project.ok("list")
    names = _commands_in_help(project.ok("--help").out)
    assert names[0] == "list"  # used 3 times, init once
    assert names.index("init") < names.index("add")
    (project.wg / "config.toml").write_text('[help]\nordering = "alphabetical"\n')
    names = _commands_in_help(project.ok("--help").out)
    assert names == sorted(names)


def test_version_prints_wg_version(bare_project: Project) -> None:
    from workgraph import __version__

    assert bare_project.ok("--version").out == f"wg {__version__}\n"
    assert bare_project.ok("--json", "--version").out == f"wg {__version__}\n"


def test_global_flags_between_group_and_subcommand(project: Project) -> None:
    project.ok("add", "A", "--no-place")
    project.ok("msg", "send", "a", "hi")
    rows = project.ok("msg", "--json", "list", "a").json()
    assert isinstance(rows, list) and rows[0]["body"] == "hi"
    other = project.root / "elsewhere"
    other.mkdir()
    rows = project.ok("msg", "--dir", str(project.root), "--json", "list", "a", cwd=other).json()
    assert isinstance(rows, list) and rows[0]["body"] == "hi"
    r = project.fails("msg", "--json", "list", "ab")
    assert json.loads(r.out) == {"error": "Task 'ab' not found. Did you mean 'a'?"}


# -- 2 usage log and operations log ---------------------------------------------------------------


def test_usage_log_records_usage_errors_and_help(project: Project) -> None:
    project.fails("list", "--bogus", code=2)
    project.ok("add", "--help")
    project.fails("msg", code=2)
    project.fails("show", "nosuch")
    assert _usage(project)[-4:] == ["list", "add", "msg", "show"]
    line = (project.wg / "usage.log").read_text().splitlines()[-1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ show", line)


def test_operations_log_carries_user(project: Project) -> None:
    project.ok("add", "A", "--no-place", env={"WG_USER": "ann"})
    project.ok("claim", "a", "--actor", "bot", env={"WG_USER": "ann"})
    ops = _ops(project)
    assert list(ops[-2]) == ["timestamp", "op", "task_id", "user", "detail"]
    assert ops[-2]["user"] == "ann"
    assert list(ops[-1]) == ["timestamp", "op", "task_id", "actor", "user"]
    assert ops[-1]["actor"] == "bot" and ops[-1]["user"] == "ann"


def test_operations_log_keeps_extra_fields_in_detail(project: Project) -> None:
    project.ok("add", "A", "--no-place")
    project.ok("claim", "a", "--actor", "x")
    project.ok("reclaim", "a", "--from", "x", "--to", "y")
    op = _ops(project)[-1]
    assert op["op"] == "reclaim"
    assert op["detail"] == {"from_actor": "x", "to_actor": "y"}


# -- 1.3 locating $WG -----------------------------------------------------------------------------


def test_dir_holding_graph_jsonl_is_used_as_is(project: Project) -> None:
    store = project.root / "store"
    (store / ".wg").mkdir(parents=True)
    (store / "graph.jsonl").write_text("")
    out = project.ok("which", "--dir", str(store)).out
    assert out.splitlines()[0] == str(store)
    # a path merely containing the text "graph.jsonl" is not a graph directory
    odd = project.root / "graph.jsonl.d"
    (odd / ".wg").mkdir(parents=True)
    out = project.ok("which", "--dir", str(odd)).out
    assert out.splitlines()[0] == str(odd / ".wg")


# -- 1.1 errors: WG_DEBUG adds ONE traceback after the error line -----------------------------------


def test_wg_debug_prints_one_traceback_after_the_error(project: Project) -> None:
    # a record whose nested value makes rendering fail (or, once validated, fails the load)
    project.graph_path.write_text(
        '{"kind":"task","id":"a","title":"A","status":"open","priority":10,'
        '"cycle_config":{"max_iterations":"x"}}\n'
    )
    r = project.run("show", "a")
    assert r.code == 1 and "Traceback" not in r.err and r.err.startswith("Error: ")
    r = project.run("show", "a", env={"WG_DEBUG": "1"})
    assert r.code == 1
    assert r.err.startswith("Error: ")
    assert r.err.count("Traceback (most recent call last)") == 1
    r = project.run("add", "", env={"WG_DEBUG": "1"})
    assert r.err.startswith("Error: Task title cannot be empty\n")
    assert r.err.count("Traceback (most recent call last)") == 1


# -- 11.11 publish --only lists bare dangling ids ---------------------------------------------------


def test_publish_only_lists_bare_dangling_dependencies(project: Project) -> None:
    project.ok("add", "gho", "--no-place")
    project.ok("add", "s", "--paused", "--after", "ghost", "--allow-phantom")
    before = project.graph_bytes()
    r = project.fails("publish", "s", "--only")
    assert r.err == "Error: Cannot publish task 's': dangling dependencies:\n  'ghost'\n"
    r = project.fails("publish", "s")
    assert "  Task 's': dangling dependency 'ghost' (did you mean 'gho'?)" in r.err
    assert project.graph_bytes() == before


# -- 1.2 colour: only on a TTY or with CLICOLOR_FORCE, never with NO_COLOR ------------------------


def test_list_colours_verify_failures_and_cron_when_forced(project: Project) -> None:
    project.graph_path.write_text(
        '{"kind":"task","id":"a","title":"A","status":"open","priority":10,"verify_failures":2,'
        '"cron_schedule":"0 0 * * * *","cron_enabled":true}\n'
    )
    forced = project.ok("list", env={"NO_COLOR": "", "CLICOLOR_FORCE": "1"}).out
    assert forced == "[ ] a - A \x1b[33m[V!2]\x1b[0m \x1b[36m[cron: 0 0 * * * *]\x1b[0m\n"
    plain = "[ ] a - A [V!2] [cron: 0 0 * * * *]\n"
    assert project.ok("list", env={"NO_COLOR": "1", "CLICOLOR_FORCE": "1"}).out == plain
    assert project.ok("list", env={"NO_COLOR": ""}).out == plain  # piped: no colour


# -- 1.1 did-you-mean only on show, done, fail, the listing forms of log/artifact, and msg ----------


def test_did_you_mean_only_where_the_spec_lists_it(project: Project) -> None:
    project.ok("add", "Alpha", "--no-place")
    with_hint = [
        ("show", "alph"),
        ("done", "alph"),
        ("fail", "alph"),
        ("log", "alph"),
        ("log", "alph", "--list"),
        ("artifact", "alph"),
        ("msg", "list", "alph"),
        ("msg", "send", "alph", "hi"),
    ]
    for args in with_hint:
        assert project.fails(*args).err == "Error: Task 'alph' not found. Did you mean 'alpha'?\n", args
    for args in [("abandon", "alph"), ("retry", "alph"), ("claim", "alph"), ("log", "alph", "m")]:
        assert project.fails(*args).err == "Error: Task 'alph' not found\n", args
