"""The ``wg tui`` Textual application (imported only by ``wg tui``)."""
