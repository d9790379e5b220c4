"""The dispatcher daemon, its IPC server and the agent registry (spec service)."""
