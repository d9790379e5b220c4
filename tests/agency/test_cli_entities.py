"""``wg agency init``, ``wg role``, ``wg tradeoff``, ``wg agent`` (agency.md 3.1-3.5, 6.1-6.7, 6.19)."""

from __future__ import annotations

import json
import os

from tests.agency.conftest import (
    BALANCED,
    CAREFUL,
    CODE_WRITING,
    DEFAULT_AGENT,
    PROGRAMMER,
    WORKING_CODE,
    AgencyProject,
)


def _snapshot(p: AgencyProject) -> dict[str, tuple[bytes, int]]:
    return {str(f): (f.read_bytes(), f.stat().st_mtime_ns) for f in p.agency.rglob("*.yaml")}


def test_primitive_hash_and_non_identity_fields(bare: AgencyProject) -> None:
    r = bare.ok("tradeoff", "add", "Careful", "-d", "Prioritizes reliability and correctness above speed.",
                "--accept", "Slow", "--reject", "Untested")  # fmt: skip
    assert r.out.splitlines()[0] == "Created tradeoff: Careful (52fb1932)"
    folder = bare.agency / "primitives" / "tradeoffs"
    assert [p.name for p in folder.iterdir()] == [f"{CAREFUL}.yaml"]
    r = bare.fails("tradeoff", "add", "Other", "-d", "Prioritizes reliability and correctness above speed.",
                   "--accept", "Fast")  # fmt: skip
    assert "Error: Tradeoff with identical content already exists (52fb1932)" in r.err
    assert len(list(folder.iterdir())) == 1
    bare.ok("tradeoff", "add", "Quick")
    assert (folder / "9f49fadb6a863305a9b3e350cba91aff0adc2790f56ae60687e7137a99de0344.yaml").exists()
    bare.ok("tradeoff", "add", "Slowpoke")
    assert len(list(folder.iterdir())) == 3
    assert not bare.tmp_files()


def test_agency_init_and_idempotence(bare: AgencyProject) -> None:
    r = bare.ok("agency", "init")
    lines = r.out.splitlines()
    assert lines[:3] == [
        "Created 4 roles and 4 tradeoffs.",
        "Created default agent: Careful Programmer (02e87968).",
        "Enabled auto_assign and auto_evaluate in config.",
    ]
    counts = {k: len(list((bare.agency / k).glob("*.yaml"))) for k in (
        "primitives/components", "primitives/outcomes", "primitives/tradeoffs", "cache/roles", "cache/agents")}  # fmt: skip
    assert list(counts.values()) == [8, 4, 4, 4, 1]
    comp = bare.yaml("primitives/components", CODE_WRITING)
    assert comp["name"] == "code-writing"
    assert (bare.agency / "primitives" / "outcomes" / f"{WORKING_CODE}.yaml").exists()
    agent_text = (bare.agency / "cache" / "agents" / f"{DEFAULT_AGENT}.yaml").read_text()
    assert "motivation_id" not in agent_text and f"tradeoff_id: {CAREFUL}" in agent_text
    assert f"role_id: {PROGRAMMER}" in agent_text
    cfg = bare.ok("config", "--json").json()
    assert cfg["agency"]["auto_assign"] is True and cfg["agency"]["auto_evaluate"] is True  # type: ignore[index]
    assert cfg["models"]["evaluator"]["model"] == "claude:haiku"  # type: ignore[index]
    # a hand edit survives; nothing is rewritten
    role = bare.agency / "cache" / "roles" / f"{PROGRAMMER}.yaml"
    role.write_text(role.read_text().replace("name: Programmer", "name: Coder"))
    before = _snapshot(bare)
    r = bare.ok("agency", "init")
    assert r.out.splitlines() == ["Default agent already exists (02e87968).", "Agency already initialized."]
    assert _snapshot(bare) == before
    assert bare.ok("agency", "init", "--json").json() == {
        "roles_created": 0, "tradeoffs_created": 0, "agent_created": False, "config_changed": False}  # fmt: skip


def test_wg_init_runs_the_bootstrap(bare_project: object) -> None:
    from tests.conftest import Project

    assert isinstance(bare_project, Project)
    r = bare_project.ok("init")
    assert "Created default agent: Careful Programmer (02e87968)." in r.out
    assert (bare_project.wg / "agency" / "cache" / "agents" / f"{DEFAULT_AGENT}.yaml").exists()


def test_role_hash_and_add(agency: AgencyProject) -> None:
    r = agency.fails("role", "add", "Programmer", "--outcome", "Working, tested code", "--skill", "code-writing",
                     "--skill", "testing", "--skill", "debugging")  # fmt: skip
    assert "Role with identical content already exists (b819a338)" in r.err
    outcomes = set(os.listdir(agency.agency / "primitives" / "outcomes"))
    r = agency.ok("role", "add", "Solo", "--outcome", "Clear documentation")
    solo = "72e6a7aaba18e7981caa13b3bdaf260b24facc9a84531cce029d4a69eef5200d"
    assert r.out.startswith("Created role 'Solo' (72e6a7aa) at ")
    assert (agency.agency / "cache" / "roles" / f"{solo}.yaml").exists()
    assert set(os.listdir(agency.agency / "primitives" / "outcomes")) == outcomes
    # new primitives from specs; an id prefix of >= 4 hex digits
    r = agency.ok("role", "add", "Mixed", "--outcome", "3476", "--skill", "ec4b", "--skill", "fuzzing",
                  "--skill", "style:inline:Use black.", "--json")  # fmt: skip
    role = r.json()
    assert isinstance(role, dict) and role["outcome_id"] == WORKING_CODE
    comps = role["component_ids"]
    assert comps[0] == CODE_WRITING and len(comps) == 3
    inline = agency.yaml("primitives/components", comps[2])
    assert inline["description"] == "Use black." and inline["name"] == "style"


def test_role_list_show_rm(agency: AgencyProject) -> None:
    out = agency.ok("role", "list").out.splitlines()
    assert out[:2] == ["Roles:", ""]
    assert any(
        line.startswith("  b819a338  Programmer ") and "skills: 3  avg_score: -" in line for line in out
    )
    show = agency.ok("role", "show", "b819").out.splitlines()
    assert show[0] == "Role: Programmer (b819a338)" and show[1] == f"ID: {PROGRAMMER}"
    assert f"  - {CODE_WRITING}" in show
    data = agency.ok("role", "show", "b819", "--json").json()
    assert isinstance(data, dict) and data["id"] == PROGRAMMER
    r = agency.ok("role", "rm", "b819")
    assert r.out.strip() == "Removed role 'Programmer' (b819a338)"
    agency.fails("role", "show", "b819")


def test_agents_create(agency: AgencyProject) -> None:
    r = agency.ok("agent", "create", "X", "--role", "b819", "--motivation", "5d07")
    assert r.out.startswith("Created agent 'X' (e3a19d14) at ")
    assert "  role:       Programmer (b819a338)" in r.out.splitlines()
    r = agency.fails("agent", "create", "X", "--role", "b819", "--motivation", "5d07")
    assert "Agent with identical identity already exists (e3a19d14)" in r.err
    assert agency.ok("motivation", "list", "--json").out == agency.ok("tradeoff", "list", "--json").out
    agency.ok("agent", "create", "Erik", "--executor", "matrix")
    assert (agency.agency / "cache" / "agents" /
            "8364ca1b801f3afddafd30e19e40177c7eccb97beda47af7ff7e64c2c4853764.yaml").exists()  # fmt: skip
    r = agency.fails("agent", "create", "Y", "--tradeoff", "52fb")
    assert "--role is required for AI agents (executor=claude)" in r.err
    agency.fails(
        "agent", "create", "Y", "--role", "b819", "--tradeoff", "52fb", "--trust-level", "maybe", code=2
    )
    agency.fails("agent", "create", "Y", "--role", "b819", "--tradeoff", "52fb", "--rate", "fast", code=2)
    shown = agency.ok("agent", "show", "e3a1", "--json").json()
    assert isinstance(shown, dict)
    assert shown["role_name"] == "Programmer" and shown["tradeoff_id"] == BALANCED
    listed = agency.ok("agent", "list").out
    assert "  8364ca1b  Erik                 role:- mot:- exec:matrix score:n/a tasks:0" in listed


def test_prefix_errors(agency: AgencyProject) -> None:
    r = agency.fails("tradeoff", "show", "5")
    assert f"Prefix '5' matches 2 tradeoffs: {CAREFUL}, {BALANCED}" in r.err
    r = agency.fails("role", "show", "zzzz")
    assert "Error: No role matching 'zzzz'" in r.err
    assert agency.ok("role", "show", "b819").out.splitlines()[0] == "Role: Programmer (b819a338)"
    assert agency.ok("role", "show", PROGRAMMER).out.splitlines()[0] == "Role: Programmer (b819a338)"
    agency.fails("agent", "show", "")


def test_store_robustness(agency: AgencyProject) -> None:
    path = agency.agency / "cache" / "agents" / f"{DEFAULT_AGENT}.yaml"
    path.write_text(path.read_text() + "custom_key: keep\nattractor_weight: 0.5\n")
    agency.ok("add", "T", "--id", "t1", "--no-place")
    agency.ok("assign", "t1", "02e8")
    agency.ok("evaluate", "record", "--task", "t1", "--score", "0.5", "--source", "manual")
    agent = agency.agent()
    assert agent["custom_key"] == "keep" and agent["attractor_weight"] == 0.5
    assert agent["performance"]["task_count"] == 1  # type: ignore[index]
    other = agency.agency / "cache" / "agents" / ("0" * 64 + ".yaml")
    other.write_text("id: x\nname: [broken\n")
    r = agency.ok("agent", "list")
    assert "Warning: skipping corrupt YAML file" in r.err and f"{other}:" in r.err
    assert "Careful Programmer" in r.out
    path.write_text("{{{ nope")
    r = agency.fails("agent", "list")
    assert "All 2 YAML file(s) in" in r.err
    assert not agency.tmp_files()


def test_unsupported_commands(agency: AgencyProject) -> None:
    r = agency.fails("evolve")
    assert "Error: 'wg evolve' is not supported yet" in r.err
    assert "not supported yet" in agency.fails("agency", "migrate").err
    json.dumps(agency.ok("agency", "stats", "--json").json())


def test_role_edit(agency: AgencyProject) -> None:
    r = agency.ok("role", "edit", "b819", env={"EDITOR": "sed -i s/name:.Programmer/name:\\ Coder/"})
    assert r.out.strip() == "Role 'b819a338' updated"
    assert agency.yaml("cache/roles", PROGRAMMER)["name"] == "Coder"
    docs = "9c896ab0fd261030cbea7af8d71403539ad777785c27faa4ff45bf810224e921"
    r = agency.ok("role", "edit", "b819", env={"EDITOR": f"sed -i s/^outcome_id:.*/outcome_id:\\ {docs}/"})
    assert r.out.startswith("Role content changed, new ID: ")
    assert not (agency.agency / "cache" / "roles" / f"{PROGRAMMER}.yaml").exists()
    r = agency.fails("role", "edit", r.out.split()[-1], env={"EDITOR": "false"})
    assert "Editor exited with non-zero status" in r.err
    r = agency.fails("tradeoff", "edit", "52fb", env={"EDITOR": 'sh -c \'echo "[: bad" > "$0"\''})
    assert "Edited file is not valid tradeoff YAML" in r.err
    assert agency.yaml("primitives/tradeoffs", CAREFUL)["name"] == "Careful"
