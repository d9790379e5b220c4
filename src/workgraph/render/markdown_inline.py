"""Inline Markdown for ``wg html`` (code spans, emphasis, strikethrough, links, autolinks) and the escaping
every piece of source text goes through. Pure: no I/O.

A link whose scheme is not ``http``, ``https`` or ``mailto`` (or a relative link) is rendered as plain text;
images become links (no resource is ever loaded).
"""

from __future__ import annotations

import re
from html import escape

_SAFE_SCHEMES = frozenset(("http", "https", "mailto"))
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_CTRL = re.compile(r"[\x00-\x20\x7f]+")
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
_BARE_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")


def esc(text: str) -> str:
    return escape(text, quote=True)


def safe_href(url: str) -> str | None:
    """The URL if it may become a link (http, https, mailto or relative), else None."""
    probe = _CTRL.sub("", url)
    m = _SCHEME.match(probe)
    if m and m.group(1).lower() not in _SAFE_SCHEMES:
        return None
    if probe.startswith("//"):  # protocol-relative: fine, it is http(s)
        return url.strip()
    return url.strip()


def _find_close_bracket(s: str, i: int) -> int:
    depth = 0
    k = i
    while k < len(s):
        ch = s[k]
        if ch == "\\":
            k += 2
            continue
        if ch == "`":
            run = _run(s, k, "`")
            end = s.find("`" * run, k + run)
            if end != -1:
                k = end + run
                continue
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return k
        k += 1
    return -1


def _link_target(s: str, k: int) -> tuple[str, int] | None:
    """Parse ``(url "title")`` starting at ``s[k] == '('``: the url and the index after ``)``."""
    depth = 0
    j = k
    while j < len(s):
        ch = s[j]
        if ch == "\\":
            j += 2
            continue
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                inner = s[k + 1 : j].strip()
                if inner.startswith("<") and ">" in inner:
                    url = inner[1 : inner.index(">")]
                else:
                    url = inner.split()[0] if inner else ""
                return url, j + 1
        elif ch == "\n" and depth == 1 and s[k + 1 : j].strip() == "":
            return None
        j += 1
    return None


def _run(s: str, i: int, ch: str) -> int:
    k = i
    while k < len(s) and s[k] == ch:
        k += 1
    return k - i


def _left_flanking(s: str, i: int, run: int) -> bool:
    after = s[i + run] if i + run < len(s) else " "
    return not after.isspace()


def _can_close(s: str, k: int) -> bool:
    before = s[k - 1] if k > 0 else " "
    return not before.isspace()


def _find_closer(s: str, start: int, ch: str, run: int) -> int:
    k = start
    while k < len(s):
        c = s[k]
        if c == "\\":
            k += 2
            continue
        if c == "`":
            r = _run(s, k, "`")
            end = s.find("`" * r, k + r)
            if end != -1:
                k = end + r
                continue
            k += r
            continue
        if c == ch:
            r = _run(s, k, ch)
            if r >= run and _can_close(s, k) and k > start:
                if ch == "_":
                    nxt = s[k + run] if k + run < len(s) else " "
                    if nxt.isalnum():
                        k += r
                        continue
                return k
            k += r
            continue
        k += 1
    return -1


def inline(s: str) -> str:
    """Inline Markdown to HTML; everything not recognised is escaped text."""
    out: list[str] = []
    text: list[str] = []
    i, n = 0, len(s)

    def flush() -> None:
        if text:
            out.append(_autolink_bare("".join(text)))
            text.clear()

    while i < n:
        ch = s[i]
        if ch == "\\" and i + 1 < n and s[i + 1] in _PUNCT:
            text.append(s[i + 1])
            i += 2
            continue
        if ch == "`":
            run = _run(s, i, "`")
            end = s.find("`" * run, i + run)
            while end != -1 and _run(s, end, "`") != run:
                end = s.find("`" * run, end + _run(s, end, "`"))
            if end == -1:
                text.append("`" * run)
                i += run
                continue
            code = s[i + run : end].replace("\n", " ")
            if code.startswith(" ") and code.endswith(" ") and code.strip():
                code = code[1:-1]
            flush()
            out.append("<code>" + esc(code) + "</code>")
            i = end + run
            continue
        if ch == "!" and i + 1 < n and s[i + 1] == "[":
            close = _find_close_bracket(s, i + 1)
            if close != -1 and close + 1 < n and s[close + 1] == "(":
                target = _link_target(s, close + 1)
                if target is not None:
                    flush()
                    out.append(_anchor(target[0], s[i + 2 : close] or target[0]))
                    i = target[1]
                    continue
        if ch == "[":
            close = _find_close_bracket(s, i)
            if close != -1 and close + 1 < n and s[close + 1] == "(":
                target = _link_target(s, close + 1)
                if target is not None:
                    flush()
                    out.append(_anchor(target[0], s[i + 1 : close]))
                    i = target[1]
                    continue
        if ch == "<":
            m = re.match(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*)>", s[i:])
            if m is None:
                m = re.match(
                    r"<([A-Za-z0-9.!#$%&'*+/=?^_`{|}~\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+)>", s[i:]
                )
                if m is not None:
                    flush()
                    out.append(_anchor("mailto:" + m.group(1), m.group(1), literal=True))
                    i += m.end()
                    continue
            if m is not None:
                flush()
                out.append(_anchor(m.group(1), m.group(1), literal=True))
                i += m.end()
                continue
        if ch in "*_~":
            run = _run(s, i, ch)
            if ch == "~" and run != 2:
                text.append(ch * run)
                i += run
                continue
            prev = s[i - 1] if i > 0 else " "
            intraword = ch == "_" and prev.isalnum()
            if not intraword and _left_flanking(s, i, run):
                use = 2 if run >= 2 else 1
                if ch == "~":
                    use = 2
                closer = _find_closer(s, i + use, ch, use)
                if closer != -1:
                    tag = "del" if ch == "~" else ("strong" if use == 2 else "em")
                    flush()
                    text.append(ch * (run - use))
                    flush()
                    out.append(f"<{tag}>{inline(s[i + use : closer])}</{tag}>")
                    i = closer + use
                    continue
            text.append(ch * run)
            i += run
            continue
        text.append(ch)
        i += 1
    flush()
    return "".join(out)


def _anchor(url: str, label: str, literal: bool = False) -> str:
    inner = esc(label) if literal else inline(label)
    href = safe_href(url)
    if href is None:
        return inner
    return f'<a href="{esc(href)}" rel="noopener noreferrer">{inner}</a>'


def _autolink_bare(text: str) -> str:
    """Escape plain text, turning bare http(s) URLs into links."""
    parts: list[str] = []
    pos = 0
    for m in _BARE_URL.finditer(text):
        parts.append(esc(text[pos : m.start()]))
        url = m.group(0)
        parts.append(f'<a href="{esc(url)}" rel="noopener noreferrer">{esc(url)}</a>')
        pos = m.end()
    parts.append(esc(text[pos:]))
    return "".join(parts)
