"""``wg html`` in a real browser: headless Chromium opens the site from file:// (spec core 12).

Chromium comes from Debian (``scripts/ensure-chromium.sh``). Without it these tests skip, except under
CI (``CI=true``), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse
from urllib.request import url2pathname

import pytest

from tests.conftest import Project
from tests.views.htmlcheck import append_rows, write_rows

HERE = Path(__file__).parent
REPO = HERE.parents[1]
ARTIFACTS = REPO / "test-artifacts"
# shared/reference/task-page.txt beside the repository when present, else the copy kept with the tests
_SHARED = REPO.parent / "shared" / "reference" / "task-page.txt"
REFERENCE = _SHARED if _SHARED.is_file() else HERE / "data" / "task-page.txt"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def chromium() -> str:
    if CHROMIUM is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is missing under CI: run scripts/ensure-chromium.sh")
        pytest.skip("chromium not installed (scripts/ensure-chromium.sh installs it)")
    return CHROMIUM


def run_chromium(binary: str, *args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             *args],
            capture_output=True, text=True, timeout=90, check=False,
        )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


def dump_dom(binary: str, url: str) -> str:
    return run_chromium(binary, "--dump-dom", url)


def inner_text(binary: str, page: Path) -> str:
    """The page's ``document.body.innerText`` as Chromium lays it out (hidden elements excluded).

    A copy of the page next to it gets one extra script at the end that stores innerText in an attribute
    of ``<html>``; the copy keeps the relative ``../style.css`` and ``../site.js``."""
    probe = page.with_name("__probe__" + page.name)
    script = "<script>document.documentElement.setAttribute('data-inner', document.body.innerText);</script>"
    probe.write_text(
        page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8"
    )
    try:
        dom = dump_dom(binary, probe.as_uri())
    finally:
        probe.unlink()

    class Grab(HTMLParser):
        value = ""

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "html":
                self.value = dict(attrs).get("data-inner") or ""

    g = Grab()
    g.feed(dom)
    return g.value


def links(dom: str) -> list[str]:
    return re.findall(r'<a [^>]*href="([^"]+)"', dom)


def test_index_link_to_blocked_task_shows_blocker_and_escaped_title(chromium: str, project: Project) -> None:
    project.ok("add", "Blocker", "--no-place")
    project.ok("add", "Waiter", "--no-place", "--after", "blocker", "-d", "Needs **blocker** first.")
    project.ok("add", "<script>x</script>", "--no-place", "--after", "waiter")
    project.ok("html", "--out", "site")
    index = project.root / "site" / "index.html"
    dom = dump_dom(chromium, index.as_uri())
    assert "blocked by" in dom
    href = next(h for h in links(dom) if h.endswith("waiter.html"))
    target = urljoin(index.as_uri(), href)
    assert Path(url2pathname(urlparse(target).path)).is_file()

    text = inner_text(chromium, Path(url2pathname(urlparse(target).path)))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    dep = lines.index("Depends on")
    assert re.sub(r"\s+", " ", lines[dep + 1]) == "open blocker"
    assert "Needs blocker first." in lines  # the description rendered, the raw view hidden
    assert "Needs **blocker** first." not in text

    esc_page = project.root / "site" / "tasks" / "script-x-script.html"
    dom = dump_dom(chromium, esc_page.as_uri())
    assert "&lt;script&gt;x&lt;/script&gt;" in dom
    assert len(re.findall(r"<script\b", dom)) == 1  # only site.js, the title stayed text
    text = inner_text(chromium, esc_page)
    assert "<script>x</script>" in text.splitlines()

    ARTIFACTS.mkdir(exist_ok=True)
    for name, url, size in (
        ("html-index.png", index.as_uri(), "1200,900"),
        ("html-task-phone.png", target, "390,844"),
    ):
        shot = ARTIFACTS / name
        shot.unlink(missing_ok=True)
        run_chromium(chromium, f"--window-size={size}", f"--screenshot={shot}", url)
        assert shot.stat().st_size > 1000


def test_filter_box_hides_rows(chromium: str, project: Project) -> None:
    append_rows(
        project.graph_path,
        [{"id": f"task-{i}", "title": f"Title {i}", "status": "open", "priority": 10} for i in range(5)],
    )
    project.ok("html", "--out", "site")
    index = project.root / "site" / "index.html"
    dom = dump_dom(chromium, index.as_uri() + "#q=task-3")
    rows = re.findall(r"<tr data-status[^>]*>", dom)
    assert len(rows) == 5
    assert sum(1 for r in rows if " hidden" in r) == 4
    assert re.search(r'<span id="shown-count">1</span>', dom)


REFERENCE_TASK = {
    "id": "land-dispatcher-auto",
    "title": "Land dispatcher-auto-respawns work onto current main",
    "status": "done",
    "priority": 10,
    "assigned": "agent-879",
    "tags": ["eval-scheduled"],
    "created_at": "2026-04-27T21:50:19.097971191+00:00",
    "started_at": "2026-04-27T21:50:50.466196852+00:00",
    "completed_at": "2026-04-27T22:17:58.878261031+00:00",
    "agent": "f51439356729d112a6c404803d88015d5b44832c6c584c62b96732b63c2b0c7e",
    "visibility": "public",
}
# What the page adds around the reference text: the breadcrumb, the raw/pretty toggle, the empty
# dependency lists and log, and the footer.
PAGE_EXTRAS = {"←graph", "pretty", "raw", "prettyraw", "(none)", "(nologentries)", "Visibility=public"}


def _normalize(lines: list[str]) -> list[str]:
    out = []
    for line in lines:
        line = re.sub(r"^\s*(?:•|\d+\.)\s+", "", line)  # list markers: the browser draws them, not text
        key = re.sub(r"\s+", "", line)
        if key:
            out.append(key)
    return out


def test_reference_task_page_text(chromium: str, project: Project) -> None:
    description = (HERE / "data" / "reference_description.md").read_text(encoding="utf-8")
    write_rows(project.graph_path, [{**REFERENCE_TASK, "description": description}])
    project.ok("html", "--out", "site")
    text = inner_text(chromium, project.root / "site" / "tasks" / "land-dispatcher-auto.html")
    got = _normalize(text.splitlines())
    want = _normalize(REFERENCE.read_text(encoding="utf-8").splitlines())
    extras = [g for g in got if g in PAGE_EXTRAS]
    assert sorted(extras) == sorted(
        ["←graph", "(none)", "(none)", "(nologentries)", "Visibility=public"]
        + (["prettyraw"] if "prettyraw" in extras else ["pretty", "raw"])
    )
    assert [g for g in got if g not in PAGE_EXTRAS] == want
