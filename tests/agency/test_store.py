"""The agency store in-process: YAML form, unknown keys, corrupt files, prefix lookup (agency.md 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workgraph.agency import entities as E
from workgraph.agency.store import AgencyStore
from workgraph.agency.yamlio import AgencyFileError, Tagged, dumps, loads
from workgraph.errors import WgError

NOW = 1_780_000_000_000_000_000


def _store(tmp_path: Path) -> tuple[AgencyStore, list[str]]:
    warnings: list[str] = []
    wg = tmp_path / ".wg"
    wg.mkdir()
    return AgencyStore(str(wg), warn=warnings.append), warnings


def test_tagged_content_round_trips() -> None:
    comp = E.make(
        "component", NOW, name="x", description="d", category="translated", content=Tagged("name", "x")
    )
    text = dumps(E.for_write("component", comp, NOW))
    assert "content: !name x\n" in text
    assert "quality" not in text and "domain_specificity" not in text
    back = loads(text, "f.yaml")
    assert back["content"] == Tagged("name", "x")
    assert isinstance(back["lineage"]["created_at"], str)  # timestamps stay text


def test_write_omits_defaults_and_keeps_unknown_keys(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    agent = E.make("agent", NOW, role_id="r" * 64, tradeoff_id="t" * 64, name="A", executor="claude")
    agent["custom_key"] = "keep"
    agent["attractor_weight"] = 0.5
    path = store.write("agent", agent, NOW)
    text = Path(path).read_text()
    for absent in ("executor", "trust_level", "motivation_id", "capabilities", "rate"):
        assert f"{absent}:" not in text
    loaded = store.get("agent", agent["id"])
    assert loaded is not None
    E.append_score(loaded, 0.5, "t1", "ts", "ctx")
    store.write("agent", loaded, NOW)
    again = store.get("agent", agent["id"])
    assert again is not None
    assert again["custom_key"] == "keep" and again["attractor_weight"] == 0.5
    assert list(again)[-2:] == ["custom_key", "attractor_weight"]  # after the modelled keys
    assert E.task_count(again) == 1 and E.avg_score(again) == 0.5
    assert not list(Path(store.root).rglob(".*.tmp"))


def test_motivation_id_alias_is_read(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    store.ensure()
    Path(store.path("agent", "ab" * 32)).write_text(
        f"id: {'ab' * 32}\nrole_id: r\nmotivation_id: m\nname: old\n"
    )
    agent = store.find("agent", "abab")
    assert agent["tradeoff_id"] == "m" and "motivation_id" not in agent


def test_corrupt_file_reports_file_and_line(tmp_path: Path) -> None:
    store, warnings = _store(tmp_path)
    good = E.make("agent", NOW, role_id="r", tradeoff_id="t", name="good")
    store.write("agent", good, NOW)
    bad = Path(store.path("agent", "f" * 64))
    bad.write_text("id: ffff\nname: [unclosed\nrole_id: x\n")
    agents = store.all("agent")
    assert [a["id"] for a in agents] == [good["id"]]
    assert len(warnings) == 1
    assert warnings[0].startswith(f"Warning: skipping corrupt YAML file {bad}: {bad}:")
    line = int(warnings[0].split(f"{bad}:")[2].split(":")[0])
    assert line in (2, 3)
    with pytest.raises(AgencyFileError) as info:
        store.read_file("agent", str(bad))
    assert info.value.message.startswith(f"{bad}:")


def test_all_corrupt_is_an_error(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    store.ensure()
    for name in ("a", "b"):
        Path(store.path("role", name * 64)).write_text(": : :\n  - [\n")
    with pytest.raises(WgError, match=r"All 2 YAML file\(s\) in .*cache/roles are corrupt \(skipped: "):
        store.all("role")


def test_non_mapping_or_missing_id_is_corrupt(tmp_path: Path) -> None:
    store, warnings = _store(tmp_path)
    store.ensure()
    Path(store.path("tradeoff", "1" * 64)).write_text("- just a list\n")
    Path(store.path("tradeoff", "2" * 64)).write_text("name: no id\n")
    good = E.make("tradeoff", NOW, name="ok", description="ok")
    store.write("tradeoff", good, NOW)
    assert [t["id"] for t in store.all("tradeoff")] == [good["id"]]
    assert len(warnings) == 2


def test_prefix_lookup(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    a = E.make("tradeoff", NOW, name="A", description="Prioritizes reliability and correctness above speed.")
    b = E.make(
        "tradeoff",
        NOW,
        name="B",
        description="Moderate on all dimensions; balances speed, quality, and completeness.",
    )
    for t in (a, b):
        store.write("tradeoff", t, NOW)
    assert a["id"].startswith("52fb") and b["id"].startswith("5d07")
    assert store.find("tradeoff", "52")["name"] == "A"
    assert store.find("tradeoff", b["id"])["name"] == "B"
    with pytest.raises(WgError) as info:
        store.find("tradeoff", "5")
    ids = ", ".join(sorted([a["id"], b["id"]]))
    assert info.value.message == f"Prefix '5' matches 2 tradeoffs: {ids}"
    with pytest.raises(WgError, match=r"^No tradeoff matching 'zz'$"):
        store.find("tradeoff", "zz")
    with pytest.raises(WgError, match=r"^No tradeoff matching ''$"):
        store.find("tradeoff", "")
    with pytest.raises(WgError, match="No role matching '52'"):
        store.find("role", "52")  # a missing folder reads as empty
    assert store.resolve("tradeoff", "5") is None


def test_reads_create_nothing(tmp_path: Path) -> None:
    store, _ = _store(tmp_path)
    assert store.all("agent") == [] and store.evaluations() == []
    assert not Path(store.root).exists()


def test_append_score_mean_of_finite_scores() -> None:
    e: dict[str, object] = {"id": "x"}
    E.append_score(e, 0.8, "t1", "ts1", "c")
    E.append_score(e, 0.9, "t2", "ts2", "c")
    assert E.task_count(e) == 2
    assert E.avg_score(e) == pytest.approx(0.85, abs=1e-9)
    assert [p["task_id"] for p in E.perf_entries(e)] == ["t1", "t2"]
