"""Agent worktrees (spec worktrees.md): creation, landing onto the current target tip, cleanup.

Entry points for other packages (the dispatcher, ``wg done``):
- ``create.create_worktree`` / ``create.prepare_worktree`` (section 3)
- ``gate.done_landing_gate`` (section 5, called by ``wg done``)
- ``land.land_task`` (section 6) and ``gate.apply_land_conflict`` (6.3 after the agent is gone)
- ``gc.sweep`` / ``gc.is_removable`` / ``gc.remove_worktree`` (section 7)
"""
