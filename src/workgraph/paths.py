"""Locating ``$WG`` (spec core 1.3)."""

from __future__ import annotations

import os

NAMES = (".wg", ".workgraph")


def _from_given(path: str) -> str:
    base = os.path.basename(os.path.normpath(path))
    if base in NAMES or os.path.isfile(os.path.join(path, "graph.jsonl")):
        return path
    for name in NAMES:
        if os.path.isdir(os.path.join(path, name)):
            return os.path.join(path, name)
    return path


def resolve_wg_dir(flag_dir: str | None, cwd: str | None = None) -> tuple[str, str]:
    """The directory and why it was chosen (the ``wg which`` reason)."""
    if flag_dir:
        return os.path.abspath(_from_given(flag_dir)), "--dir flag"
    env = os.environ.get("WG_DIR", "")
    if env:
        return os.path.abspath(_from_given(env)), f"WG_DIR env var ({env})"
    here = os.path.abspath(cwd or os.getcwd())
    while True:
        for name in NAMES:
            cand = os.path.join(here, name)
            if os.path.isdir(cand):
                return cand, f"walked up from cwd and found {cand}"
        parent = os.path.dirname(here)
        if parent == here:
            break
        here = parent
    home = os.environ.get("HOME", "")
    if home:
        for name in NAMES:
            cand = os.path.join(home, name)
            if os.path.isdir(cand):
                return cand, f"home directory ({cand})"
    default = os.path.abspath(os.path.join(cwd or os.getcwd(), ".wg"))
    return default, "default ./.wg (does not exist yet — run `wg init` to create)"
