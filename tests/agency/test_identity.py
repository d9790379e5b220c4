"""The ``## Agent Identity`` prompt section (agency.md 5) the service puts into prompts."""

from __future__ import annotations

from tests.agency.conftest import DEFAULT_AGENT, AgencyProject
from workgraph.agency.identity import identity_prompt_section

ORDER = ["## Agent Identity", "### Role: Programmer", "#### Skills", "- **code-writing**",
         "Writes production-quality code.", "#### Desired Outcome", "**Working, tested code**",
         "### Operational Parameters", "- Slow", "#### Non-negotiable Constraints", "- Untested", "---"]  # fmt: skip


def test_section_in_order(agency: AgencyProject) -> None:
    warnings: list[str] = []
    text = identity_prompt_section(str(agency.wg), DEFAULT_AGENT[:4], warnings.append)
    positions = [text.index(item) for item in ORDER]
    assert positions == sorted(positions)
    assert text.startswith("## Agent Identity\n\n### Role: Programmer\n")
    assert text.endswith("---\n") and warnings == []
    # the agency folder itself is accepted too
    assert identity_prompt_section(str(agency.agency), DEFAULT_AGENT, warnings.append) == text


def test_unresolved_agent_warns_and_returns_nothing(agency: AgencyProject) -> None:
    (agency.agency / "cache" / "agents" / f"{DEFAULT_AGENT}.yaml").unlink()
    warnings: list[str] = []
    assert identity_prompt_section(str(agency.wg), DEFAULT_AGENT, warnings.append) == ""
    assert warnings and warnings[0].startswith(f"Warning: could not resolve agent '{DEFAULT_AGENT}'")


def test_skills_from_specs_and_files(agency: AgencyProject) -> None:
    (agency.root / "guide.md").write_text("Read the guide.\n")
    agency.ok("role", "add", "Writer", "--outcome", "Clear documentation", "--skill", "notes:inline:Be brief.",
              "--skill", f"guide:file://{agency.root / 'guide.md'}", "--skill", "missing:file:///nope/x.md")  # fmt: skip
    role = next(r for r in agency.ok("role", "list", "--json").json() if r["name"] == "Writer")  # type: ignore[union-attr,index]
    agency.ok("agent", "create", "W", "--role", role["id"], "--tradeoff", "5d07")  # type: ignore[index]
    agent_id = next(a for a in agency.ok("agent", "list", "--json").json() if a["name"] == "W")["id"]  # type: ignore[union-attr,index]
    warnings: list[str] = []
    text = identity_prompt_section(str(agency.wg), agent_id, warnings.append)
    assert "- **notes**\nBe brief.\nBe brief." in text
    assert "Read the guide." in text
    assert any(w.startswith("Warning: Failed to read skill file /nope/x.md") for w in warnings)
    assert "- **missing**" not in text
    assert "#### Acceptable Trade-offs\n- Moderate trade-offs on any single dimension" in text


def test_agent_spawn_defaults(agency: AgencyProject) -> None:
    from workgraph.agency.identity import agent_spawn_defaults

    assert agent_spawn_defaults(str(agency.wg), DEFAULT_AGENT) == {}
    agency.ok("agent", "create", "M", "--role", "b819", "--tradeoff", "5d07", "--model", "claude:sonnet",
              "--executor", "codex")  # fmt: skip
    agent_id = next(a for a in agency.ok("agent", "list", "--json").json() if a["name"] == "M")["id"]  # type: ignore[union-attr,index]
    assert agent_spawn_defaults(str(agency.wg), agent_id) == {
        "executor": "codex",
        "preferred_model": "claude:sonnet",
    }
    assert agent_spawn_defaults(str(agency.wg), "ffff") == {}
