"""Executors (spec service 6-7): choosing executor/model/timeout, command lines, ``run.sh``, environment,
``prompt.txt`` and the agent directory ``$WG/agents/agent-N/``.

``plan.plan_spawn`` decides (pure, given the configuration), ``prepare.prepare_agent`` writes the agent directory
and returns what the dispatcher starts.
"""
