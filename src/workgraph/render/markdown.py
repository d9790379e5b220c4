"""A small, safe Markdown renderer for ``wg html`` task descriptions. Pure: no I/O.

Supported: ATX headings, paragraphs (soft and hard breaks), bullet and ordered lists (nested, lazy
continuation lines, tight and loose), fenced and indented code blocks, block quotes, thematic breaks,
GFM pipe tables, code spans, ``*``/``_`` emphasis, ``~~`` strikethrough, links and autolinks.

Safety: every piece of source text reaches the output only through :func:`esc`; raw HTML in the source
is shown as text; a link whose scheme is not ``http``, ``https`` or ``mailto`` (or a relative link)
is rendered as plain text; images become links (no resource is ever loaded).
"""

from __future__ import annotations

import re

from .markdown_inline import esc, inline

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HR = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST = re.compile(r"^( {0,3})([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*)|$)")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)$")
_TABLE_SEP = re.compile(r"^ {0,3}\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_TASK = re.compile(r"^ {0,3}\[[ xX]\](?:[ \t]+|$)")


def _indent(line: str) -> int:
    n = 0
    for ch in line:
        if ch == " ":
            n += 1
        elif ch == "\t":
            n += 4 - n % 4
        else:
            break
    return n


def _dedent(line: str, width: int) -> str:
    """Remove up to ``width`` columns of leading whitespace."""
    col = 0
    i = 0
    while i < len(line) and col < width and line[i] in " \t":
        col += 1 if line[i] == " " else 4 - col % 4
        i += 1
    rest = line[i:]
    return " " * (col - width) + rest if col > width else rest


def _blank(line: str) -> bool:
    return not line.strip()


def _starts_block(line: str, in_paragraph: bool) -> bool:
    if _FENCE.match(line) or _ATX.match(line) or _HR.match(line) or _QUOTE.match(line):
        return True
    m = _LIST.match(line)
    if m:
        if not in_paragraph:
            return True
        marker, content = m.group(2), m.group(4)
        if not content or not content.strip():
            return False  # an empty item cannot interrupt a paragraph
        return not marker[0].isdigit() or marker[:-1] == "1"
    return False


def render(text: str) -> str:
    """Markdown source to an HTML fragment."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "".join(_blocks(lines))


# -- blocks -------------------------------------------------------------------------------------


def _blocks(lines: list[str]) -> list[str]:
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if _blank(line):
            i += 1
            continue
        m = _FENCE.match(line)
        if m:
            i = _fenced(lines, i, m, out)
            continue
        if _indent(line) >= 4:
            buf: list[str] = []
            while i < n and (_blank(lines[i]) or _indent(lines[i]) >= 4):
                buf.append(_dedent(lines[i], 4))
                i += 1
            while buf and _blank(buf[-1]):
                buf.pop()
            out.append("<pre><code>" + esc("\n".join(buf)) + "\n</code></pre>")
            continue
        m = _ATX.match(line)
        if m:
            level = len(m.group(1))
            out.append(f"<h{level}>{inline((m.group(2) or '').strip())}</h{level}>")
            i += 1
            continue
        if _HR.match(line):
            out.append("<hr>")
            i += 1
            continue
        if _QUOTE.match(line):
            i = _quote(lines, i, out)
            continue
        m = _LIST.match(line)
        if m:
            i = _list(lines, i, out)
            continue
        if "|" in line and i + 1 < n and _TABLE_SEP.match(lines[i + 1]) and "-" in lines[i + 1]:
            i = _table(lines, i, out)
            continue
        i = _paragraph(lines, i, out)
    return out


def _fenced(lines: list[str], i: int, m: re.Match[str], out: list[str]) -> int:
    fence, info = m.group(1), m.group(2)
    if fence[0] == "`" and "`" in info:
        return _paragraph(lines, i, out)
    strip = _indent(lines[i])
    body: list[str] = []
    i += 1
    close = re.compile(r"^ {0,3}" + re.escape(fence[0]) + "{" + str(len(fence)) + r",}\s*$")
    while i < len(lines) and not close.match(lines[i]):
        body.append(_dedent(lines[i], strip))
        i += 1
    cls = f' class="language-{esc(info)}"' if info else ""
    text = "\n".join(body)
    out.append(f"<pre><code{cls}>{esc(text)}{chr(10) if body else ''}</code></pre>")
    return i + 1


def _quote(lines: list[str], i: int, out: list[str]) -> int:
    buf: list[str] = []
    while i < len(lines):
        m = _QUOTE.match(lines[i])
        if m:
            buf.append(m.group(1))
        elif buf and not _blank(lines[i]) and not _blank(buf[-1]) and not _starts_block(lines[i], True):
            buf.append(lines[i])  # lazy continuation of a quoted paragraph
        else:
            break
        i += 1
    out.append("<blockquote>" + "".join(_blocks(buf)) + "</blockquote>")
    return i


def _paragraph(lines: list[str], i: int, out: list[str]) -> int:
    buf = [lines[i].strip()]
    i += 1
    while i < len(lines) and not _blank(lines[i]) and not _starts_block(lines[i], True):
        buf.append(lines[i])
        i += 1
    out.append("<p>" + _with_breaks(buf) + "</p>")
    return i


def _with_breaks(buf: list[str]) -> str:
    parts: list[str] = []
    last = len(buf) - 1
    for k, raw in enumerate(buf):
        hard = k < last and (raw.endswith("  ") or raw.rstrip(" ").endswith("\\"))
        text = raw.strip()
        if hard and text.endswith("\\"):
            text = text[:-1]
        parts.append(inline(text) + ("<br>" if hard else ""))
    return "\n".join(parts)


def _list_kind(m: re.Match[str]) -> str:
    marker = m.group(2)
    return "ol" + marker[-1] if marker[0].isdigit() else "ul" + marker


def _list(lines: list[str], i: int, out: list[str]) -> int:
    first = _LIST.match(lines[i])
    assert first is not None
    kind = _list_kind(first)
    start = int(first.group(2)[:-1]) if kind.startswith("ol") else 1
    items: list[list[str]] = []
    loose = False
    n = len(lines)
    while i < n:
        m = _LIST.match(lines[i])
        if m is None or _list_kind(m) != kind or _HR.match(lines[i]):
            break
        base = len(m.group(1)) + len(m.group(2))
        gap = m.group(3) or ""
        content = m.group(4) or ""
        pad = len(gap.expandtabs(4))
        if pad > 4 or not content.strip():  # content starts in an indented code block / empty first line
            width = base + 1
            item = [" " * (pad - 1) + content] if content.strip() else []
        else:
            width = base + pad
            item = [content]
        i += 1
        pending_blank = False
        while i < n:
            line = lines[i]
            if _blank(line):
                pending_blank = True
                item.append("")
                i += 1
                continue
            if _indent(line) >= width:
                item.append(_dedent(line, width))
                pending_blank = False
                i += 1
                continue
            if _LIST.match(line):
                break  # the next item of this list, or another list
            if not pending_blank and item and not _blank(item[-1]) and not _starts_block(line, True):
                item.append(line.strip())  # lazy continuation line
                i += 1
                continue
            break
        while item and _blank(item[-1]):
            item.pop()
        loose = loose or _has_gap(item)
        items.append(item)
        if pending_blank and i < n:
            nxt = _LIST.match(lines[i])
            if nxt is not None and _list_kind(nxt) == kind:
                loose = True
    tag = kind[:2]
    attr = f' start="{start}"' if tag == "ol" and start != 1 else ""
    parts = [f"<{tag}{attr}>"]
    for item in items:
        box = ""
        if item and _TASK.match(item[0]):
            checked = item[0].lstrip()[1] in "xX"
            box = '<input type="checkbox" disabled' + (" checked" if checked else "") + "> "
            item = [_TASK.sub("", item[0], count=1), *item[1:]]
        inner = _blocks(item)
        if box:
            lead = inner[0] if inner else ""
            if lead.startswith("<p>"):
                inner[0] = "<p>" + box + lead[3:]
            else:
                inner.insert(0, box)
        if not loose:
            inner = [b[3:-4] if b.startswith("<p>") and b.endswith("</p>") else b for b in inner]
        cls = ' class="task-item"' if box else ""
        parts.append(f"<li{cls}>" + "".join(inner) + "</li>")
    parts.append(f"</{tag}>")
    out.append("".join(parts))
    return i


def _has_gap(item: list[str]) -> bool:
    """A blank line between two top-level blocks of an item (outside fences) makes the list loose."""
    seen_text = False
    gap = False
    in_fence = False
    for line in item:
        if _FENCE.match(line):
            in_fence = not in_fence
        if in_fence:
            continue
        if _blank(line):
            gap = seen_text
        else:
            if gap and _indent(line) == 0:
                return True
            seen_text = True
            gap = False
    return False


def _cells(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells: list[str] = []
    cur: list[str] = []
    k = 0
    while k < len(s):
        ch = s[k]
        if ch == "\\" and k + 1 < len(s) and s[k + 1] == "|":
            cur.append("|")
            k += 2
            continue
        if ch == "|":
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
        k += 1
    cells.append("".join(cur).strip())
    return cells


def _table(lines: list[str], i: int, out: list[str]) -> int:
    head = _cells(lines[i])
    aligns: list[str] = []
    for spec in _cells(lines[i + 1]):
        left, right = spec.startswith(":"), spec.endswith(":")
        aligns.append("center" if left and right else "right" if right else "left" if left else "")
    i += 2

    def row(cells: list[str], tag: str) -> str:
        tds = []
        for k in range(len(head)):
            al = aligns[k] if k < len(aligns) else ""
            style = f' style="text-align:{al}"' if al else ""
            tds.append(f"<{tag}{style}>{inline(cells[k]) if k < len(cells) else ''}</{tag}>")
        return "<tr>" + "".join(tds) + "</tr>"

    body: list[str] = []
    while i < len(lines) and not _blank(lines[i]) and "|" in lines[i] and not _starts_block(lines[i], True):
        body.append(row(_cells(lines[i]), "td"))
        i += 1
    html = '<div class="table-wrap"><table><thead>' + row(head, "th") + "</thead>"
    if body:
        html += "<tbody>" + "".join(body) + "</tbody>"
    out.append(html + "</table></div>")
    return i
