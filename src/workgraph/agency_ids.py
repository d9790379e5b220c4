"""Content-hash identities (spec service 9.2), shared by core's legacy ``identity`` conversion and agency.

Byte for byte as the original: lowercase hex SHA-256 of the YAML text the original emits.
"""

from __future__ import annotations

import hashlib

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def yaml_scalar(value: str) -> str:
    """An id YAML would read as a number (digits only, or digits ``e`` digits) is single-quoted."""
    head, sep, tail = value.partition("e")
    if value.isdigit() or (sep and head.isdigit() and tail.isdigit()):
        return f"'{value}'"
    return value


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def role_hash(component_ids: list[str], outcome_id: str) -> str:
    comps = sorted(component_ids, key=lambda c: c.encode())
    if comps:
        body = "component_ids:\n" + "".join(f"- {yaml_scalar(c)}\n" for c in comps)
    else:
        body = "component_ids: []\n"
    return sha256_text(f"{body}outcome_id: {yaml_scalar(outcome_id)}\n")


def agent_hash(role_id: str, tradeoff_id: str) -> str:
    return sha256_text(f"role_id: {yaml_scalar(role_id)}\nmotivation_id: {yaml_scalar(tradeoff_id)}\n")


def agent_hash_from_identity(identity: dict[str, Any]) -> str | None:
    role, motivation = identity.get("role_id"), identity.get("motivation_id")
    if isinstance(role, str) and isinstance(motivation, str):
        return agent_hash(role, motivation)
    return None
