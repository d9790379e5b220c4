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
from html import escape

_SAFE_SCHEMES = frozenset(("http", "https", "mailto"))
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")
_CTRL = re.compile(r"[\x00-\x20\x7f]+")
_PUNCT = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_HR = re.compile(r"^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$")
_LIST = re.compile(r"^( {0,3})([-*+]|\d{1,9}[.)])(?:([ \t]+)(.*)|$)")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)$")
_TABLE_SEP = re.compile(r"^ {0,3}\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_TASK = re.compile(r"^ {0,3}\[[ xX]\](?:[ \t]+|$)")
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


# -- inlines ------------------------------------------------------------------------------------


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
