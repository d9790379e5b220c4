"""Pieces every ``wg html`` page shares: file names for task ids (spec core 12), status badges, the head."""

from __future__ import annotations

from .markdown_inline import esc

_KEEP = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def encode_id(task_id: str) -> str:
    """File-name encoding of spec core 12: unreserved bytes kept, other UTF-8 bytes as ``%XX``."""
    return "".join(chr(b) if b in _KEEP else f"%{b:02X}" for b in task_id.encode("utf-8"))


def page_href(task_id: str) -> str:
    """A relative URL to a page whose file name is ``encode_id(task_id)`` (``%`` itself must be escaped)."""
    return encode_id(task_id).replace("%", "%25") + ".html"


def badge(status: str) -> str:
    return f'<span class="badge st-{esc(status)}">{esc(status)}</span>'


def page_head(title: str, css: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        f'<link rel="stylesheet" href="{css}">\n</head>\n'
    )
