"""Golden identity hashes (agency.md 2.4, 6; service.md 9.2), pure."""

from __future__ import annotations

from tests.agency.conftest import CAREFUL, CODE_WRITING, DEFAULT_AGENT, PROGRAMMER, WORKING_CODE
from workgraph.agency import entities as E
from workgraph.agency_ids import agent_hash, role_hash, sha256_text, yaml_scalar
from workgraph.model import canonical


def test_primitive_hash_is_description() -> None:
    assert sha256_text("Prioritizes reliability and correctness above speed.") == CAREFUL
    assert sha256_text("Writes production-quality code.") == CODE_WRITING
    assert sha256_text("Working, tested code") == WORKING_CODE
    assert sha256_text("Quick") == "9f49fadb6a863305a9b3e350cba91aff0adc2790f56ae60687e7137a99de0344"


def test_role_hash_sorts_components_bytewise() -> None:
    comps = [CODE_WRITING, sha256_text("Writes and runs tests."), sha256_text("Diagnoses and fixes bugs.")]
    assert role_hash(comps, WORKING_CODE) == PROGRAMMER
    assert role_hash(list(reversed(comps)), WORKING_CODE) == PROGRAMMER
    text = (
        "component_ids:\n- 44bd0020aff933840a7dc7da21f3ad9f2575dcecb57bf468ff410884bfff91cb\n"
        "- 8015f245c939f4f972a3433c0dbeafb737175d66f8e7bfae154b87c293c24085\n"
        f"- {CODE_WRITING}\noutcome_id: {WORKING_CODE}\n"
    )
    assert sha256_text(text) == PROGRAMMER


def test_role_without_components() -> None:
    docs = sha256_text("Clear documentation")
    assert docs == "9c896ab0fd261030cbea7af8d71403539ad777785c27faa4ff45bf810224e921"
    assert role_hash([], docs) == "72e6a7aaba18e7981caa13b3bdaf260b24facc9a84531cce029d4a69eef5200d"


def test_agent_hash_uses_motivation_key() -> None:
    assert agent_hash(PROGRAMMER, CAREFUL) == DEFAULT_AGENT
    balanced = sha256_text("Moderate on all dimensions; balances speed, quality, and completeness.")
    assert (
        agent_hash(PROGRAMMER, balanced) == "e3a19d1491b6d1f358eb120e0dd8f610e74199f9a8d8f78d463ea865e4d1be89"
    )


def test_numeric_looking_ids_are_quoted() -> None:
    assert yaml_scalar("123") == "'123'"
    assert yaml_scalar("4e5") == "'4e5'"
    assert yaml_scalar("4e") == "4e"
    assert yaml_scalar("abc1") == "abc1"
    assert agent_hash("123", "4e5") == "a55ba4f3d3ffd84709a69640916564b603ad9b930eb70f8f940b0a66d98ba7f5"


def test_human_agent_identity() -> None:
    erik = {"name": "Erik", "executor": "matrix", "role_id": "", "tradeoff_id": ""}
    assert E.identity_of("agent", erik) == "8364ca1b801f3afddafd30e19e40177c7eccb97beda47af7ff7e64c2c4853764"
    ai = {"name": "X", "executor": "claude", "role_id": PROGRAMMER, "tradeoff_id": CAREFUL}
    assert E.identity_of("agent", ai) == DEFAULT_AGENT
    # A human agent with both ids hashes like any agent: name and executor are not identity.
    human_full = {"name": "Y", "executor": "email", "role_id": PROGRAMMER, "tradeoff_id": CAREFUL}
    assert E.identity_of("agent", human_full) == DEFAULT_AGENT


def test_legacy_identity_becomes_agent_hash() -> None:
    rec = canonical(
        {
            "kind": "task",
            "id": "a",
            "title": "A",
            "identity": {"role_id": PROGRAMMER, "motivation_id": CAREFUL},
        }
    )
    assert rec["agent"] == DEFAULT_AGENT
    assert "identity" not in rec
