"""``wg html``: the per-task page of spec core 12 (acceptance check 27) and the index, read as HTML."""

from __future__ import annotations

import json
import os
import pty
import subprocess

from tests.conftest import WG_BIN, Project
from tests.views.htmlcheck import append_rows, page, write_rows

TS = "2026-05-01T12:00:00.000000000+00:00"


def test_check_27_page_sections_log_and_escaping(project: Project) -> None:
    project.ok("add", "Busy", "--no-place", "-d", "Some *text*")
    project.ok("add", "Empty", "--no-place")
    project.ok("add", "<script>x</script>", "--no-place", "--after", "busy")
    rows = project.rows()
    for r in rows:
        if r["id"] == "busy":
            r["log"] = [{"timestamp": f"2026-05-01T12:00:{i:02d}.000000000+00:00", "message": f"entry {i}"}
                        for i in range(60)]  # fmt: skip
    write_rows(project.graph_path, [{k: v for k, v in r.items() if k != "kind"} for r in rows])
    out = project.ok("html", "--out", "site")
    assert "Wrote 4 pages to" in out.out
    site = project.root / "site"
    assert {p.name for p in (site / "tasks").iterdir()} == {"busy.html", "empty.html", "script-x-script.html"}
    for name in ("index.html", "style.css", "site.js"):
        assert (site / name).is_file()

    busy = page(site, "busy")
    assert busy.h2 == ["Metadata", "Description", "Depends on", "Required by", "Log"]
    log = busy.section_items["log"]
    assert len(log) == 50
    assert log[0].endswith("entry 10") and log[-1].endswith("entry 59")
    assert log[0].startswith("2026-05-01T12:00:10.000000000+00:00 ")
    assert busy.title == "busy — Workgraph"
    assert [label for label, _ in busy.meta] == ["Status", "Created"]
    assert busy.meta[0][1] == "open"
    assert busy.section_items["required-by"] == ["open script-x-script"]
    assert busy.section_items["depends-on"] == ["(none)"]

    empty = page(site, "empty")
    assert "(no description)" in empty.section_text["description"]
    assert "(no log entries)" in empty.section_text["log"]
    assert [label for label, _ in empty.meta] == ["Status", "Created"]

    raw = (site / "tasks" / "script-x-script.html").read_text()
    assert "<script>x</script>" not in raw
    assert "&lt;script&gt;x&lt;/script&gt;" in raw
    scripty = page(site, "script-x-script")
    assert scripty.task_title == "<script>x</script>"
    assert scripty.scripts == 1  # only ../site.js
    assert scripty.section_items["depends-on"] == ["open busy"]
    assert "./busy.html" in scripty.links and "../index.html" in scripty.links
    assert "<script>x</script>" not in (site / "index.html").read_text()


def test_metadata_rows_in_order_with_eval_and_paused(project: Project) -> None:
    full = {
        "id": "full", "title": "Full", "description": "d", "status": "failed", "priority": 10,
        "assigned": "agent-1", "tags": ["alpha", "beta"], "created_at": TS,
        "started_at": "2026-05-01T12:01:00Z", "completed_at": TS, "failure_reason": "boom <b>",
        "model": "claude:opus", "agent": "f" * 64, "paused": True, "visibility": "public",
        "token_usage": {"input_tokens": 100, "output_tokens": 7, "cache_read_input_tokens": 20,
                        "cache_creation_input_tokens": 3},
    }  # fmt: skip
    write_rows(project.graph_path, [full])
    evals = project.wg / "agency" / "evaluations"
    evals.mkdir(parents=True)
    (evals / "eval-full-2026-05-01T10-00-00.json").write_text(
        json.dumps({"id": "x", "task_id": "full", "score": 0.1, "timestamp": "2026-05-01T10:00:00Z"})
    )
    (evals / "eval-full-2026-05-02T10-00-00.yaml").write_text(
        "id: y\ntask_id: full\nscore: 0.8567\ndimensions:\n  correctness: 0.9\n  code_quality: 0.756\n"
        "timestamp: '2026-05-02T10:00:00+00:00'\n"
    )
    (evals / "broken.json").write_text("{not json")
    project.ok("html", "--out", "site")
    p = page(project.root / "site", "full")
    assert [label for label, _ in p.meta] == [
        "Status", "Assigned", "Agent identity", "Model", "Created", "Started", "Completed", "Tags", "Tokens",
        "Failure reason", "Eval score", "  └ correctness", "  └ code quality",
    ]  # fmt: skip
    values = dict(p.meta)
    assert values["Status"] == "failed ‖ paused"
    assert values["Started"] == "2026-05-01T12:01:00Z"
    assert values["Tags"] == "alpha, beta"
    assert values["Tokens"] == "123 in / 7 out"
    assert values["Failure reason"] == "boom <b>"
    assert values["Eval score"] == "0.86"
    assert values["  └ correctness"] == "0.90" and values["  └ code quality"] == "0.76"
    assert "Visibility = public" in (project.root / "site" / "tasks" / "full.html").read_text().replace(
        "<code>", ""
    ).replace("</code>", "")


def test_encoded_file_names_links_and_hidden_counts(project: Project) -> None:
    write_rows(
        project.graph_path,
        [
            {"id": "a/b ü", "title": "Odd id", "status": "done", "priority": 10, "visibility": "public"},
            {"id": "secret1", "title": "S1", "status": "open", "priority": 10},
            {"id": "secret2", "title": "S2", "status": "open", "priority": 10},
            {"id": "pub", "title": "Pub", "status": "open", "priority": 10, "visibility": "public",
             "after": ["a/b ü", "secret1", "secret2"]},
            {"id": "child", "title": "C", "status": "open", "priority": 10, "after": ["pub"]},
            {"id": ".hidden", "title": "H", "status": "open", "priority": 10, "after": ["pub"]},
        ],
    )  # fmt: skip
    project.ok("html", "--out", "pubsite", "--public-only")
    site = project.root / "pubsite"
    assert sorted(p.name for p in (site / "tasks").iterdir()) == ["a%2Fb%20%C3%BC.html", "pub.html"]
    p = page(site, "pub")
    assert p.section_items["depends-on"] == ["done a/b ü", "2 non-public dependencies hidden"]
    assert p.section_items["required-by"] == ["2 non-public dependents hidden"]
    assert "./a%252Fb%2520%25C3%25BC.html" in p.links
    blob = "".join(f.read_text() for f in site.rglob("*.html"))
    assert "secret1" not in blob and "child" not in blob
    assert "blocked by 2 non-public" in (site / "index.html").read_text()

    project.ok("html", "--out", "site")  # default: every non-system task
    site = project.root / "site"
    assert not (site / "tasks" / ".hidden.html").exists()
    assert page(site, "pub").section_items["required-by"] == ["open child", "1 non-public dependent hidden"]
    project.ok("html", "--out", "allsite", "--all")
    assert page(project.root / "allsite", "pub").section_items["required-by"] == [
        "open .hidden",
        "open child",
    ]


def test_missing_dependency_shows_open(project: Project) -> None:
    write_rows(
        project.graph_path,
        [{"id": "c", "title": "C", "status": "open", "priority": 10, "after": ["ghost"]}],
    )
    project.ok("html", "--out", "site")
    assert page(project.root / "site", "c").section_items["depends-on"] == ["open ghost (missing)"]


def test_description_markdown_is_safe(project: Project) -> None:
    desc = (
        "# Head\n\nText <img src=x onerror=alert(1)> and [bad](javascript:alert(1)) "
        "and [good](https://example.org/?a=1&b=2).\n\n- one\n  - nested\n\n```\n<b>code</b>\n```\n"
    )
    project.ok("add", "Md", "--no-place", "-d", desc)
    project.ok("html", "--out", "site")
    raw = (project.root / "site" / "tasks" / "md.html").read_text()
    pretty = raw.split('<div class="markdown" data-view="pretty">', 1)[1].split("</div>", 1)[0]
    assert "<img" not in raw and "javascript:" not in pretty and "bad" in pretty
    assert "&lt;img src=x onerror=alert(1)&gt;" in raw
    assert '<a href="https://example.org/?a=1&amp;b=2"' in raw
    assert "<h1>Head</h1>" in raw and "<ul><li>one<ul><li>nested</li></ul></li></ul>" in raw
    assert "<pre><code>&lt;b&gt;code&lt;/b&gt;\n</code></pre>" in raw
    assert '<pre class="description-raw" data-view="raw" hidden>' in raw
    assert 'data-mode="raw"' in raw and "localStorage" in (project.root / "site" / "site.js").read_text()


def test_pages_are_static_and_phone_ready(project: Project) -> None:
    project.ok("add", "A", "--no-place")
    project.ok("html", "--out", "site")
    site = project.root / "site"
    for f in [site / "index.html", site / "tasks" / "a.html"]:
        text = f.read_text()
        assert text.startswith("<!DOCTYPE html>")
        assert 'name="viewport"' in text
        assert "http://" not in text and "https://" not in text  # no network resources
    assert "@media (max-width" in (site / "style.css").read_text()
    assert 'href="../style.css"' in (site / "tasks" / "a.html").read_text()


def test_index_lists_every_task_with_filter(project: Project) -> None:
    project.ok("add", "Blocker", "--no-place")
    project.ok("add", "Waiter", "--no-place", "--after", "blocker", "-t", "red")
    project.ok("claim", "waiter", "--actor", "bob")
    index = (project.root / "site").exists()
    assert not index
    r = project.ok("--json", "html", "--out", "site")
    assert json.loads(r.out)["pages_written"] == 3
    text = (project.root / "site" / "index.html").read_text()
    assert 'id="filter"' in text and 'id="tasks"' in text
    assert 'href="tasks/blocker.html"' in text and 'href="tasks/waiter.html"' in text
    assert "bob" in text and "red" in text
    assert 'id="dependencies"' in text


def test_default_out_dir_and_progress_only_on_tty(project: Project) -> None:
    append_rows(
        project.graph_path,
        [{"id": f"t{i}", "title": f"T {i}", "status": "open", "priority": 10} for i in range(250)],
    )
    r = project.ok("html")
    assert r.err == ""  # piped: quiet
    assert len(list((project.root / "public" / "tasks").iterdir())) == 250

    master, slave = pty.openpty()
    proc = subprocess.run(
        [WG_BIN, "html", "--out", "tty"], cwd=project.root, env=project.env,
        stdout=subprocess.PIPE, stderr=slave, timeout=60, check=False,
    )  # fmt: skip
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.returncode == 0
    err = b"".join(chunks).decode()
    assert "Writing pages" in err and "250/250" in err
    assert b"Writing pages" not in proc.stdout


def test_uninitialized_fails(bare_project: Project) -> None:
    r = bare_project.fails("html", "--out", "site")
    assert "WG not initialized" in r.err
    assert not (bare_project.root / "site").exists()
