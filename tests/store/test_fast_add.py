"""The ``wg add`` fast path on big validated files (store/lazy.py) gives byte-identical results.

The property test runs every add twice, in two directories holding the same graph: once with
``lazy=True`` (the fast path, which must actually be taken) and once on the full path, and compares the
result or error and the written bytes. ``BIG_FILE`` is lowered so that small random graphs count as big.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Project
from workgraph.addtask import AddRequest, add_task, validate_request
from workgraph.cli.args import parse
from workgraph.cli.tasks import ADD
from workgraph.errors import WgError
from workgraph.graph import Graph
from workgraph.model import dumps_line
from workgraph.store import jsonl
from workgraph.store.jsonl import VALIDATED_FILE, JsonlStore

NOW = 1_780_000_000 * 1_000_000_000
ID_POOL = ["a", "b", "foo", "foo-2", "new", "x-y", "naïve", 'q"t', "back\\slash", "zz-1", "task", "r1"]
TITLES = ["Foo", "New", "new", "a", "x y", "Zz 1", ".hidden", "Naïve", "B"]
STATUSES = ["open", "in-progress", "done", "failed", "abandoned", "blocked"]


class Probe(JsonlStore):
    """Counts the transactions that took the fast path, and those that fell back to the full path."""

    def __init__(self, wg_dir: str) -> None:
        super().__init__(wg_dir)
        self.entered = 0
        self.fell_back = 0

    def _fast_transaction(self, *args: Any, **kw: Any) -> Any:
        self.entered += 1
        done = super()._fast_transaction(*args, **kw)
        self.fell_back += done is None
        return done


# -- random graphs ----------------------------------------------------------------------------------

ids = st.sampled_from(ID_POOL)
id_lists = st.lists(ids, max_size=3, unique=True)


@st.composite
def task_records(draw: st.DrawFn) -> dict[str, Any]:
    rec: dict[str, Any] = {"kind": "task", "id": draw(ids), "title": draw(st.sampled_from(TITLES))}
    if draw(st.booleans()):
        rec["description"] = draw(st.sampled_from(['see "new"', "after new", "x\ny", "ü"]))
    rec["status"] = draw(st.sampled_from(STATUSES))
    rec["priority"] = draw(st.sampled_from([10, 0, 50, -3]))
    if draw(st.booleans()):
        rec["assigned"] = "agent-1"
    if draw(st.booleans()):
        rec["estimate"] = {"hours": draw(st.sampled_from([1.0, 0.1, 1e20, 2.5e-7]))}
    for key in ("before", "after", "tags"):
        values = draw(id_lists)
        if key == "tags" and draw(st.booleans()):
            values.append("chat-loop")
        if values:
            rec[key] = values
    rec["created_at"] = "2026-01-01T00:00:00+00:00"
    rec["last_interaction_at"] = "2026-01-02T00:00:00+00:00"
    if draw(st.booleans()):
        rec["zz_unknown"] = {"after": ["new"], "n": 1}
    return rec


@st.composite
def resource_records(draw: st.DrawFn) -> dict[str, Any]:
    rid = draw(ids)
    if draw(st.booleans()):  # not the canonical prefix: the index parses this line
        return {"id": rid, "kind": "resource", "available": 2.0}
    return {"kind": "resource", "id": rid, "name": "gpu"}


def line_of(rec: dict[str, Any], spaced: bool) -> str:
    if spaced:  # hand-written style: rewritten (made canonical) by the first full-path write
        return json.dumps(rec, ensure_ascii=True)
    return dumps_line(rec)


graphs = st.lists(
    st.tuples(st.one_of(task_records(), task_records(), resource_records()), st.booleans()), max_size=10
)


@st.composite
def add_commands(draw: st.DrawFn) -> tuple[list[str], bool, str, int]:
    tokens = [draw(st.sampled_from(TITLES))]
    if draw(st.booleans()):
        tokens += ["--id", draw(ids)]
    after = draw(id_lists)
    if after:
        tokens += ["--after", ",".join(after)]
    for opt in ("--no-place", "--paused", "--allow-phantom", "--independent", "--subtask"):
        if draw(st.integers(0, 3)) == 0:
            tokens.append(opt)
    if draw(st.integers(0, 4)) == 0:
        tokens += ["--max-iterations", "3"]
    if draw(st.integers(0, 3)) == 0:
        tokens += ["-t", "urgent", "--hours", "1e20"]
    agent_context = draw(st.booleans())
    task_env = draw(st.sampled_from(["", *ID_POOL]))
    return tokens, agent_context, task_env, draw(st.sampled_from([0, 1, 2, 8]))


def run_add(store: JsonlStore, command: tuple[list[str], bool, str, int], now: int, lazy: bool) -> Any:
    tokens, agent_context, task_env, max_depth = command
    a = parse(ADD, tokens, "wg add")
    req = AddRequest(
        title=a.title,
        explicit_id=a.id,
        description=a.description,
        after=list(a.after),
        no_place=bool(a.no_place),
        paused=bool(a.paused),
        subtask=bool(a.subtask),
        agent_context=agent_context,
        task_env=task_env,
        agent_env="",
        user="tester",
        opts=a,
        warnings=[],
        wg_dir=store.dir,
    )
    try:
        validate_request(req)
    except WgError as exc:
        return ("refused", str(exc))
    req.max_depth = max_depth
    try:
        return store.transaction(lambda g: add_task(g, req, now), now, lazy=lazy)
    except WgError as exc:
        return ("error", type(exc).__name__, str(exc))


def seed(path: str, lines: list[str]) -> Probe:
    os.makedirs(path)
    with open(os.path.join(path, "graph.jsonl"), "w", encoding="utf-8") as fh:
        fh.write("".join(line + "\n" for line in lines))
    return Probe(path)


def stamped(store: JsonlStore) -> bool:
    return os.path.exists(os.path.join(store.dir, VALIDATED_FILE))


def graph_bytes(store: JsonlStore) -> bytes:
    with open(store.path, "rb") as fh:
        return fh.read()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph=graphs, commands=st.lists(add_commands(), min_size=1, max_size=4))
def test_fast_path_matches_full_path(
    graph: list[tuple[dict[str, Any], bool]], commands: list[tuple[list[str], bool, str, int]]
) -> None:
    lines = [line_of(rec, spaced) for rec, spaced in graph]
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(jsonl, "BIG_FILE", 0):
        fast, full = (seed(os.path.join(tmp, name), lines) for name in ("fast", "full"))
        for store in (fast, full):  # a full-path write of a non-empty ("big") file stamps it
            for rid in ("seed-r", "seed-s"):
                store.transaction(lambda g, rid=rid: g.put({"kind": "resource", "id": rid}), NOW)
        assert graph_bytes(fast) == graph_bytes(full)
        assert stamped(fast)
        for step, command in enumerate(commands, 1):
            now = NOW + step * 1_000_000_000
            entered = fast.entered
            got = run_add(fast, command, now, lazy=True)
            want = run_add(full, command, now, lazy=False)
            assert got == want, command
            assert graph_bytes(fast) == graph_bytes(full), command
            ran = not (isinstance(got, tuple) and got[0] == "refused")
            assert (fast.entered, fast.fell_back) == (entered + ran, 0), command
            assert stamped(fast)
        assert full.entered == 0


def test_referrers_agree_with_a_scan() -> None:
    """``LazyGraph.referrers`` (substring search) answers like ``Graph.referrers`` (a scan)."""
    from workgraph.store.lazy import LazyGraph, build_index

    recs = [
        {"kind": "task", "id": "t1", "title": "new", "status": "open", "priority": 1, "after": ["new"]},
        {"kind": "task", "id": "t2", "title": "x", "status": "open", "priority": 1, "tags": ["new"]},
        {"kind": "task", "id": "t3", "title": "x", "status": "open", "priority": 1, "after": ["a", "new"]},
        {"kind": "resource", "id": "r", "after": ["new"]},
        {"kind": "task", "id": "new", "title": "x", "status": "open", "priority": 1, "after": ["new"]},
    ]
    for r in recs:
        r["last_interaction_at"] = "2026-01-01T00:00:00+00:00"
    data = "".join(dumps_line(r) + "\n" for r in recs).encode()
    index = build_index(data, len(recs))
    assert index is not None
    lazy = LazyGraph(data, *index)
    lazy.add_dependency("t2", "new")
    eager = Graph({r["id"]: dict(r) for r in recs})
    eager.add_dependency("t2", "new")
    assert lazy.referrers("new") == eager.referrers("new") == ["t1", "t2", "t3"]


def test_giant_integer_is_not_stamped() -> None:
    """A line a big-file load reads differently (orjson turns an integer beyond 64 bits into a float) is
    never stamped: the next add takes the full path, which does what it always did with it."""
    rec = {"kind": "task", "id": "a", "title": "A", "status": "open", "priority": 1}
    with tempfile.TemporaryDirectory() as tmp, mock.patch.object(jsonl, "BIG_FILE", 0):
        store = seed(os.path.join(tmp, "wg"), [dumps_line({**rec, "last_interaction_at": "x"})])
        store.transaction(lambda g: g.put({"kind": "resource", "id": "r"}), NOW)
        assert stamped(store)
        got = run_add(store, (["Big", "-p", str(2**70)], False, "", 0), NOW, lazy=True)
        assert got["id"] == "big" and store.entered == 1
        assert not stamped(store)
        got = run_add(store, (["Next"], False, "", 0), NOW, lazy=True)
        assert got["id"] == "next" and store.entered == 1
        assert stamped(store)
        priorities = [json.loads(line).get("priority") for line in graph_bytes(store).splitlines()]
        assert priorities == [1, None, 10, 10]


# -- the CLI on a really big file -----------------------------------------------------------------


def write_big_graph(project: Project, n: int = 2600) -> None:
    lines = []
    for i in range(n):
        rec = {
            "kind": "task",
            "id": f"t-{i}",
            "title": f"Task {i}",
            "description": "lorem ipsum " * 70,
            "status": "done" if i % 3 else "open",
            "priority": 10,
            "after": [f"t-{i - 1}"] if i else ["later-task"],
            "created_at": "2026-01-01T00:00:00+00:00",
            "last_interaction_at": "2026-01-01T00:00:00+00:00",
        }
        lines.append(dumps_line(rec))
    project.graph_path.write_text("".join(line + "\n" for line in lines))
    assert project.graph_path.stat().st_size > jsonl.BIG_FILE


def stamp_of(project: Project) -> dict[str, Any]:
    stamp: dict[str, Any] = json.loads((project.wg / VALIDATED_FILE).read_text())
    return stamp


def test_cli_add_stamps_and_appends(project: Project) -> None:
    write_big_graph(project)
    project.ok("add", "Warm up", "--no-place")  # full path: validates and stamps
    st = project.graph_path.stat()
    stamp = stamp_of(project)
    assert (stamp["st_ino"], stamp["st_size"], stamp["st_mtime_ns"]) == (
        st.st_ino,
        st.st_size,
        st.st_mtime_ns,
    )
    assert stamp["lines"] == 2601
    old = project.graph_bytes()
    # t-0 listed later-task before it existed: later-task gets t-0 in its before; t-3 gets it in its before
    project.ok("add", "Later task", "--id", "later-task", "--after", "t-3", "--no-place")
    new = project.graph_bytes()
    old_lines, new_lines = old.splitlines(), new.splitlines()
    assert len(new_lines) == len(old_lines) + 1
    changed = [i for i, (o, n) in enumerate(zip(old_lines, new_lines, strict=False)) if o != n]
    assert changed == [3]
    assert json.loads(new_lines[3])["before"] == ["later-task"]
    assert json.loads(new_lines[-1])["before"] == ["t-0"]
    assert json.loads(new_lines[-1])["after"] == ["t-3"]
    assert stamp_of(project)["lines"] == 2602
    assert stamp_of(project)["st_ino"] == project.graph_path.stat().st_ino


def test_cli_trusts_only_a_matching_stamp(project: Project) -> None:
    write_big_graph(project)
    project.ok("add", "Warm up", "--no-place")
    data = project.graph_bytes()
    corrupt = data.replace(b'"id":"t-5","title":"Task 5"', b'"id":"t-5","title":12345678', 1)
    assert len(corrupt) == len(data)
    # A hand edit (even one keeping size and mtime) changes the file's identity: full path, exit 1, no write.
    st = project.graph_path.stat()
    project.graph_path.write_bytes(corrupt)
    os.utime(project.graph_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    r = project.fails("add", "Another", "--no-place")
    assert 'graph.jsonl:6: "title" must be a string' in r.err
    assert project.graph_bytes() == corrupt
    # The fast path is what the CLI runs: with a stamp forged to match, the add does not read line 6.
    st = project.graph_path.stat()
    stamp = stamp_of(project)
    stamp.update(st_ino=st.st_ino, st_size=st.st_size, st_mtime_ns=st.st_mtime_ns, st_ctime_ns=st.st_ctime_ns)
    (project.wg / VALIDATED_FILE).write_text(json.dumps(stamp))
    project.ok("add", "Another", "--no-place")
    assert project.graph_bytes().startswith(corrupt)
    project.fails("list")


def test_forged_stamp_on_a_mismatched_file_falls_back(tmp_path: Path) -> None:
    """A stamp whose line count does not match the file (or a line that does not load back unchanged)
    sends the add down the full path."""
    rec = {"kind": "task", "id": "a", "title": "A", "status": "open", "priority": 1, "after": ["b"]}
    with mock.patch.object(jsonl, "BIG_FILE", 0):
        store = seed(str(tmp_path / "wg"), [dumps_line({**rec, "last_interaction_at": "x"})])
        store.transaction(lambda g: g.put({"kind": "resource", "id": "r"}), NOW)
        stamp_path = tmp_path / "wg" / VALIDATED_FILE
        stamp = json.loads(stamp_path.read_text())
        stamp_path.write_text(json.dumps({**stamp, "lines": 7}))
        got = run_add(store, (["B"], False, "", 0), NOW, lazy=True)
        assert got["id"] == "b" and (store.entered, store.fell_back) == (1, 1)
        assert json.loads(stamp_path.read_text())["lines"] == 3  # re-stamped by the full path
        data = Path(store.path).read_bytes()
        spaced = data.replace(b'"title":"A"', b'"title": "A"', 1)  # not canonical: would be rewritten
        Path(store.path).write_bytes(spaced)
        st = os.stat(store.path)
        stamp = json.loads(stamp_path.read_text())
        stamp.update(
            st_ino=st.st_ino, st_size=st.st_size, st_mtime_ns=st.st_mtime_ns, st_ctime_ns=st.st_ctime_ns
        )
        stamp_path.write_text(json.dumps(stamp))
        got = run_add(store, (["C", "--id", "a2", "--after", "a"], False, "", 0), NOW, lazy=True)
        assert got["id"] == "a2" and (store.entered, store.fell_back) == (2, 2)
        assert b'"title": "A"' not in Path(store.path).read_bytes()
