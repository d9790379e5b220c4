"""Renderers: text, DOT and Mermaid drawings of the graph."""
