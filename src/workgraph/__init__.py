"""wg: a task graph for human/AI teams. See docs/ARCHITECTURE.md."""

__version__ = "0.1.0"
