"""Chats: chat tasks in the graph, their history directories and their supervisors (spec chats.md)."""
