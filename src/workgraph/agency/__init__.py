"""Agency: agent identities (components, outcomes, tradeoffs, roles, agents), assignment and evaluation.

Spec: agency.md and service.md 9. Modules by noun: ``yamlio`` (YAML text), ``entities`` (records, ids),
``store`` (the ``$WG/agency/`` folder), ``bootstrap`` (``wg agency init``), ``evaluation`` (verdicts,
roll-ups, gate), ``evalprompt``/``identity`` (prompt text), ``scaffold`` (dispatcher scaffolding, pure),
``evalfiles`` (evaluation files, stdlib only: read by ``wg show``).

Only ``yamlio`` imports PyYAML, and nothing on the ``wg add``/``wg ready`` path imports ``yamlio``.
"""
