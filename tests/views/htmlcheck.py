"""Helpers for the ``wg html`` tests: write hand-made graph rows and read pages back with html.parser."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path


def write_rows(graph: Path, rows: list[dict[str, object]]) -> None:
    lines = [json.dumps({"kind": "task", **r}, separators=(",", ":"), ensure_ascii=False) for r in rows]
    graph.write_text("".join(line + "\n" for line in lines), encoding="utf-8")


def append_rows(graph: Path, rows: list[dict[str, object]]) -> None:
    with graph.open("a", encoding="utf-8") as fh:
        for r in rows:
            fh.write(json.dumps({"kind": "task", **r}, separators=(",", ":"), ensure_ascii=False) + "\n")


class Page(HTMLParser):
    """Collects section headings, metadata rows, list items per section, links and script tags."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.h2: list[str] = []
        self.meta: list[tuple[str, str]] = []
        self.section_text: dict[str, str] = {}
        self.section_items: dict[str, list[str]] = {}
        self.links: list[str] = []
        self.scripts = 0
        self.title = ""
        self.task_title = ""
        self._stack: list[str] = []
        self._section = ""
        self._cell: list[str] | None = None
        self._row: list[str] = []
        self._li: list[str] | None = None
        self._cap: str | None = None
        self._buf: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "section":
            self._section = a.get("id") or ""
            self.section_text.setdefault(self._section, "")
            self.section_items.setdefault(self._section, [])
        if tag in ("h2", "title") or (tag == "p" and a.get("class") == "task-title"):
            self._cap, self._buf = ("task-title" if tag == "p" else tag), []
        if tag in ("th", "td") and self._section == "metadata":
            self._cell = []
        if tag == "li":
            self._li = []
        if tag == "a" and a.get("href"):
            self.links.append(a["href"] or "")
        if tag == "script":
            self.scripts += 1

    def handle_endtag(self, tag: str) -> None:
        if self._cap and (tag == self._cap or (self._cap == "task-title" and tag == "p")):
            text = "".join(self._buf).strip()
            if self._cap == "h2":
                self.h2.append(text)
            elif self._cap == "title":
                self.title = text
            else:
                self.task_title = text
            self._cap = None
        if tag in ("th", "td") and self._cell is not None:
            self._row.append("".join(self._cell))
            self._cell = None
            if tag == "td":
                self.meta.append((self._row[0], self._row[1]))
                self._row = []
        if tag == "li" and self._li is not None:
            self.section_items.setdefault(self._section, []).append(" ".join("".join(self._li).split()))
            self._li = None
        if tag == "section":
            self._section = ""

    def handle_data(self, data: str) -> None:
        if self._cap:
            self._buf.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._li is not None:
            self._li.append(data)
        if self._section:
            self.section_text[self._section] += data


def page(site: Path, enc: str) -> Page:
    return Page((site / "tasks" / f"{enc}.html").read_text(encoding="utf-8"))
