"""graph.jsonl reading and writing (spec core 3.1-3.4; acceptance checks 23, 24)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from tests.conftest import Project
from workgraph.errors import CorruptGraph
from workgraph.model import KEY_ORDER
from workgraph.store.jsonl import BIG_FILE, parse_graph, render_graph

DATA = Path(__file__).parent / "data"
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}\+00:00")


def _abc(project: Project) -> list[str]:
    for t in ("a", "b", "c"):
        project.ok("add", t, "--no-place")
    return project.graph_bytes().decode().splitlines()


def _replace_line3(project: Project, line: str) -> bytes:
    lines = _abc(project)
    lines[2] = line
    data = ("\n".join(lines) + "\n").encode()
    project.graph_path.write_bytes(data)
    return data


# -- check 23: corrupt graph ----------------------------------------------------------------------

CORRUPT = {
    "truncated": ('{"kind":"task","id":', "graph.jsonl:3: invalid JSON"),
    "status": (
        '{"kind":"task","id":"c","title":"c","status":"finished","priority":10}',
        "graph.jsonl:3: unknown status 'finished'",
    ),
    "kind": ('{"kind":"alien","id":"c","title":"c"}', "graph.jsonl:3: unknown kind 'alien'"),
    "type": (
        '{"kind":"task","id":"c","title":"c","status":"open","priority":10,"after":"x"}',
        'graph.jsonl:3: "after" must be a list of strings',
    ),
}
COMMANDS = [("list",), ("show", "a"), ("add", "x", "--no-place"), ("done", "a")]


@pytest.mark.parametrize("case", sorted(CORRUPT))
def test_corrupt_line_fails_every_command_and_changes_nothing(project: Project, case: str) -> None:
    line, message = CORRUPT[case]
    before = _replace_line3(project, line)
    for cmd in COMMANDS:
        r = project.fails(*cmd)
        assert f"Error: {message}" in r.err, (cmd, r.err)
        assert r.err.startswith("Error: graph.jsonl:3: "), (cmd, r.err)
        assert "Traceback" not in r.err
        assert project.graph_bytes() == before
    assert not list(project.wg.glob(".graph.tmp.*"))


@pytest.mark.parametrize(
    ("line", "what"),
    [
        ("[1,2]", "not a JSON object"),
        ('{"id":"c","title":"c"}', 'missing "kind"'),
        ('{"kind":"task","title":"c"}', 'missing "id"'),
        ('{"kind":"task","id":"c"}', 'missing "title"'),
        ('{"kind":"task","id":"c","title":"c","after":["a",1]}', '"after" must be a list of strings'),
        ('{"kind":"task","id":"c","title":"c","paused":1}', '"paused" must be a boolean'),
        ('{"kind":"task","id":"c","title":"c","retry_count":true}', '"retry_count" must be an integer'),
        (
            '{"kind":"task","id":"c","title":"c","log":[{"timestamp":"x"}]}',
            '"log" must be a list of log entries',
        ),
        ('{"kind":"task","id":"c","title":"c"} {"kind":"task","id":"d","title":"d"}', "invalid JSON"),
    ],
)
def test_corrupt_line_messages(line: str, what: str) -> None:
    text = '{"kind":"task","id":"a","title":"A"}\n\n' + line + "\n"
    with pytest.raises(CorruptGraph) as exc:
        parse_graph(text)
    assert exc.value.message.startswith(f"graph.jsonl:3: {what}")


def test_an_object_split_over_lines_is_corrupt_even_when_the_pieces_join_up() -> None:
    # Joined into one JSON array these lines would parse as three valid records.
    text = (
        '{"kind":"task","id":"a","title":"A","tags":["x",\n'
        '"y"]}\n'
        '{"kind":"task","id":"b","title":"B"},{"kind":"task","id":"c","title":"C"}\n'
    )
    with pytest.raises(CorruptGraph) as exc:
        parse_graph(text)
    assert exc.value.message.startswith("graph.jsonl:1: invalid JSON")


def test_big_file_path_names_the_bad_line_too() -> None:
    row = '{"kind":"task","id":"t%d","title":"%s","status":"done","priority":10}'
    lines = [row % (i, "x" * 200) for i in range(BIG_FILE // 200 + 10)]
    assert len("\n".join(lines)) > BIG_FILE
    ok = parse_graph("\n".join(lines) + "\n")
    assert len(ok.graph) == len(lines)
    lines[5000] = lines[5000].replace('"done"', '"finished"')
    with pytest.raises(CorruptGraph) as exc:
        parse_graph("\n".join(lines) + "\n")
    assert exc.value.message == "graph.jsonl:5001: unknown status 'finished'"
    lines[5000] = lines[5000][:-3]
    with pytest.raises(CorruptGraph) as exc:
        parse_graph("\n".join(lines) + "\n")
    assert exc.value.message.startswith("graph.jsonl:5001: invalid JSON")


def test_invalid_utf8_is_corrupt(project: Project) -> None:
    _abc(project)
    data = project.graph_bytes().replace(b'"title":"b"', b'"title":"\xff"')
    project.graph_path.write_bytes(data)
    r = project.fails("list")
    assert "Error: graph.jsonl:2: invalid UTF-8" in r.err
    assert project.graph_bytes() == data


# -- check 24: compatible reading ------------------------------------------------------------------

COMPAT_ROWS = [
    '{"kind":"task","id":"a","title":"A","status":"open","priority":10,'
    '"created_at":"2026-04-01T09:00:00.000000000+00:00","last_interaction_at":"2026-04-01T09:00:00.000000000+00:00"}',
    '{ "kind": "task", "id": "spaced", "title": "Spaced", "status": "open", "priority": 10, '
    '"created_at": "2026-04-01T09:00:00.000000000+00:00" }',
    '{"kind":"task","id":"hi","title":"High","status":"open","priority":"high",'
    '"created_at":"2026-04-01T09:00:00.000000000+00:00","last_interaction_at":"2026-04-01T09:00:00.000000000+00:00"}',
    '{"kind":"task","id":"obj","title":"Obj","status":"open","priority":{"name":"x"},'
    '"created_at":"2026-04-01T09:00:00.000000000+00:00","last_interaction_at":"2026-04-01T09:00:00.000000000+00:00"}',
    '{"kind":"task","id":"rev","title":"Rev","status":"pending-review","priority":10,'
    '"created_at":"2026-04-01T09:00:00.000000000+00:00","last_interaction_at":"2026-04-01T09:00:00.000000000+00:00"}',
    '{"kind":"task","id":"dep","title":"Dep","status":"open","priority":10,"blocked_by":["a"],'
    '"created_at":"2026-04-01T09:00:00.000000000+00:00","last_interaction_at":"2026-04-01T09:00:00.000000000+00:00"}',
    '{"kind":"task","id":"nolast","title":"No last","status":"open","priority":10,'
    '"created_at":"2026-04-01T09:00:00.000000000+00:00"}',
    '{"kind":"task","id":"unk","title":"Unknown","status":"open","priority":10,'
    '"created_at":"2026-04-01T09:00:00.000000000+00:00","last_interaction_at":"2026-04-01T09:00:00.000000000+00:00",'
    '"x_note":{"k":1}}',
    '{"kind":"task","id":"other","title":"Other","status":"open","priority":10,'
    '"created_at":"2026-04-01T09:00:00.000000000+00:00","last_interaction_at":"2026-04-01T09:00:00.000000000+00:00"}',
]


def _has_log_command() -> bool:
    return importlib.util.find_spec("workgraph.cli.records") is not None


def test_compatible_rows_load_and_are_rewritten_converted(project: Project) -> None:
    project.graph_path.write_text("\n".join(COMPAT_ROWS) + "\n")
    listed = project.ok("list").out
    assert [line.split(" - ")[0].split()[-1] for line in listed.splitlines()] == [
        "a", "spaced", "hi", "obj", "rev", "dep", "nolast", "unk", "other",
    ]  # fmt: skip
    if _has_log_command():
        project.ok("log", "other", "m")
    else:
        project.ok("claim", "other")
    lines = project.graph_bytes().decode().splitlines()
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ["a", "spaced", "hi", "obj", "rev", "dep", "nolast", "unk", "other"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["hi"]["priority"] == 50
    assert by_id["obj"]["priority"] == 10
    assert by_id["rev"]["status"] == "done"
    assert by_id["dep"]["after"] == ["a"] and "blocked_by" not in by_id["dep"]
    assert by_id["nolast"]["last_interaction_at"] == by_id["nolast"]["created_at"]
    assert lines[7].endswith(',"x_note":{"k":1}}')
    assert lines[0] == COMPAT_ROWS[0]  # untouched canonical line: byte-identical
    assert lines[1] == (
        '{"kind":"task","id":"spaced","title":"Spaced","status":"open","priority":10,'
        '"created_at":"2026-04-01T09:00:00.000000000+00:00",'
        '"last_interaction_at":"2026-04-01T09:00:00.000000000+00:00"}'
    )
    for line in lines:  # every written line is compact
        assert line == json.dumps(json.loads(line), ensure_ascii=False, separators=(",", ":"))


def test_duplicate_ids_warn_and_last_wins_at_first_position(project: Project) -> None:
    rows = [
        '{"kind":"task","id":"a","title":"First A","status":"open","priority":10}',
        '{"kind":"task","id":"b","title":"B","status":"open","priority":10}',
        '{"kind":"task","id":"a","title":"Second A","status":"open","priority":10}',
    ]
    project.graph_path.write_text("\n".join(rows) + "\n")
    r = project.ok("list")
    assert "Warning: duplicate node ID 'a' at line 3 (overwriting previous definition)" in r.err
    assert r.out.splitlines()[0].endswith("a - Second A")
    assert r.out.splitlines()[1].endswith("b - B")
    project.ok("claim", "b")
    rows_after = project.rows()
    assert [(x["id"], x["title"]) for x in rows_after] == [("a", "Second A"), ("b", "B")]


def test_comments_blank_lines_crlf_and_legacy_actor_rows(project: Project) -> None:
    text = (
        "# a comment line\n"
        "\n"
        '{"kind":"actor","id":"erik","name":"Erik"}\n'
        '   {"kind":"task","id":"a","title":"A","status":"open","priority":10}\r\n'
        "   # indented comment\n"
        "\t\n"
        '{"kind":"task","id":"b","title":"B","status":"open","priority":10}\n'
    )
    project.graph_path.write_text(text)
    out = project.ok("list").out
    assert [line.split(" - ")[0].split()[-1] for line in out.splitlines()] == ["a", "b"]
    project.ok("claim", "a")
    rows = project.rows()
    assert [r["id"] for r in rows] == ["a", "b"]
    assert all(r["kind"] == "task" for r in rows)
    assert b"\r" not in project.graph_bytes() and b"#" not in project.graph_bytes()


# -- round trip ---------------------------------------------------------------------------------


def test_every_key_round_trips_and_untouched_lines_stay_byte_identical(project: Project) -> None:
    original = (DATA / "original_all_keys.jsonl").read_bytes()
    full = json.loads(original.splitlines()[2])
    assert [k for k in full if k != "kind"] == list(KEY_ORDER)  # the fixture holds every key, in order
    project.graph_path.write_bytes(original)
    project.ok("claim", "other", "--actor", "z")
    after = project.graph_bytes().splitlines()
    before = original.splitlines()
    assert len(after) == len(before)
    for i, (old, new) in enumerate(zip(before, after, strict=True)):
        if i == 4:
            assert old != new
            row = json.loads(new)
            assert row["status"] == "in-progress" and row["assigned"] == "z"
        else:
            assert old == new, f"line {i + 1} changed"
    assert json.loads(after[2]) == full
    r = project.ok("show", "full", "--json")
    assert r.json()["id"] == "full"  # type: ignore[index]


def test_round_trip_in_process_keeps_every_byte() -> None:
    original = (DATA / "original_all_keys.jsonl").read_bytes()
    parsed = parse_graph(original)
    assert render_graph(parsed.graph, parsed.raw) == original
    for rid in parsed.graph.records:  # even re-serialized, every line comes out the same
        parsed.graph.touched.add(rid)
    assert render_graph(parsed.graph, {}) == original


def test_add_no_place_writes_exactly_the_spec_line(project: Project) -> None:
    project.ok("add", "Foo", "--no-place")
    text = project.graph_bytes().decode()
    assert text.endswith("\n") and text.count("\n") == 1
    masked = TS.sub("<ts>", text.rstrip("\n"))
    assert masked == (
        '{"kind":"task","id":"foo","title":"Foo","status":"open","priority":10,"created_at":"<ts>",'
        '"last_interaction_at":"<ts>","unplaced":true}'
    )
    row = json.loads(text)
    assert row["created_at"] == row["last_interaction_at"]


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ('"cycle_config":{"max_iterations":"x"}', '"cycle_config.max_iterations" must be an integer'),
        ('"estimate":{"hours":"two"}', '"estimate.hours" must be a number'),
        ('"wait_condition":{"mode":"some","conditions":[]}', '"wait_condition.mode" must be "all" or "any"'),
    ],
)
def test_wrong_nested_type_is_a_corrupt_line(project: Project, row: str, message: str) -> None:
    """A known nested key with the wrong type fails the load (spec core 3.1), not a later command."""
    project.ok("add", "a", "--no-place")
    line = '{"kind":"task","id":"b","title":"B","status":"open","priority":10,' + row + "}\n"
    with project.graph_path.open("a") as fh:
        fh.write(line)
    before = project.graph_bytes()
    for args in (("show", "b"), ("list",), ("add", "c", "--no-place")):
        r = project.fails(*args)
        assert f"Error: graph.jsonl:2: {message}" in r.err
    assert project.graph_bytes() == before
