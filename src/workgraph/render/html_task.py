"""``wg html``'s task page (spec core 12): metadata, description, dependencies, messages, log. Pure."""

from __future__ import annotations

from . import markdown
from .html_common import badge, page_head, page_href
from .markdown_inline import esc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from ..graph import Graph
    from ..model import Record
    from .html_side import SideData

LOG_LIMIT = 50


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _tokens(usage: object) -> str | None:
    if not isinstance(usage, dict) or not usage:
        return None

    def n(key: str) -> int:
        v = usage.get(key)
        return int(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0

    total_in = n("input_tokens") + n("cache_read_input_tokens") + n("cache_creation_input_tokens")
    return f"{total_in} in / {n('output_tokens')} out"


def metadata_rows(task: Record, evaluation: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value HTML) in the order of spec core 12, only rows that have a value."""
    status = str(task.get("status", "open"))
    value = badge(status)
    if task.get("paused"):
        value += ' <span class="badge paused">‖ paused</span>'
    rows = [("Status", value)]

    def text(key: str) -> str | None:
        v = task.get(key)
        return v if isinstance(v, str) and v.strip() else None

    for label, key, code in (("Assigned", "assigned", True), ("Agent identity", "agent", True)):
        v = text(key)
        if v is not None:
            rows.append((label, f"<code>{esc(v)}</code>" if code else esc(v)))
    v = text("model")
    if v is not None:
        rows.append(("Model", f"<code>{esc(v)}</code>"))
    for label, key in (("Created", "created_at"), ("Started", "started_at"), ("Completed", "completed_at")):
        v = text(key)
        if v is not None:
            rows.append((label, esc(v)))
    tags = [t for t in task.get("tags") or () if isinstance(t, str)]
    if tags:
        rows.append(("Tags", ", ".join(esc(t) for t in tags)))
    tok = _tokens(task.get("token_usage"))
    if tok is not None:
        rows.append(("Tokens", tok))
    v = text("failure_reason")
    if v is not None:
        rows.append(("Failure reason", esc(v)))
    if evaluation is not None:
        score = _num(evaluation.get("score", evaluation.get("value")))
        if score is not None:
            rows.append(("Eval score", f"{score:.2f}"))
            dims = evaluation.get("dimensions")
            if isinstance(dims, dict):
                for name, val in dims.items():
                    f = _num(val)
                    if f is not None:
                        rows.append((f"  └ {esc(str(name).replace('_', ' '))}", f"{f:.2f}"))
    return rows


def _dep_list(
    ids: Iterable[str], graph: Graph, exported: set[str] | frozenset[str], noun: tuple[str, str]
) -> str:
    items: list[str] = []
    hidden = 0
    any_id = False
    for dep in ids:
        any_id = True
        rec = graph.get(dep)
        if rec is None:  # not in the graph at all: listed as open, nothing to link to
            items.append(
                f'<li>{badge("open")} <code>{esc(dep)}</code> <span class="note">(missing)</span></li>'
            )
        elif dep in exported:
            st = str(rec.get("status", "open"))
            items.append(
                f'<li><a href="./{esc(page_href(dep))}">{badge(st)} <code>{esc(dep)}</code></a></li>'
            )
        else:
            hidden += 1
    if not any_id:
        return '<ul class="deps"><li class="none">(none)</li></ul>'
    if hidden:
        word = noun[0] if hidden == 1 else noun[1]
        items.append(
            f'<li class="hidden-dep"><span class="note">{hidden} non-public {word} hidden</span></li>'
        )
    return '<ul class="deps">' + "".join(items) + "</ul>"


def _description(task: Record) -> str:
    desc = task.get("description")
    if not isinstance(desc, str) or not desc.strip():
        return '<p class="none">(no description)</p>'
    return (
        '<div class="desc-toggle" role="group" aria-label="Description view">'
        '<button type="button" data-mode="pretty" aria-pressed="true">pretty</button>'
        '<button type="button" data-mode="raw" aria-pressed="false">raw</button></div>'
        f'<div class="markdown" data-view="pretty">{markdown.render(desc)}</div>'
        f'<pre class="description-raw" data-view="raw" hidden>{esc(desc)}</pre>'
    )


def _log(task: Record) -> str:
    entries = [e for e in task.get("log") or () if isinstance(e, dict)]
    if not entries:
        return '<p class="none">(no log entries)</p>'
    items = [
        f'<li><span class="log-ts">{esc(str(e.get("timestamp", "")))}</span> {esc(str(e.get("message", "")))}</li>'
        for e in entries[-LOG_LIMIT:]
    ]
    return '<ul class="task-log">' + "".join(items) + "</ul>"


def _messages(msgs: list[dict[str, Any]]) -> str:
    items = []
    for m in msgs:
        sender = esc(str(m.get("sender", "")))
        items.append(
            f'<li><span class="log-ts">{esc(str(m.get("timestamp", "")))}</span> '
            f'<span class="role">{sender}</span>: {esc(str(m.get("body", "")))}</li>'
        )
    return (
        '<section id="messages"><h2>Messages</h2><ul class="messages">' + "".join(items) + "</ul></section>"
    )


def _conversation(records: list[dict[str, Any]]) -> str:
    turns = []
    for r in records:
        role = str(r.get("role", ""))
        turns.append(
            f'<div class="turn role-{esc(role)}"><div class="turn-head"><span class="role">{esc(role)}</span> '
            f'<span class="log-ts">{esc(str(r.get("timestamp", "")))}</span></div>'
            f'<div class="turn-body">{esc(str(r.get("content", "")))}</div></div>'
        )
    return '<section id="conversation"><h2>Conversation</h2>' + "".join(turns) + "</section>"


def render_task_page(
    task: Record,
    graph: Graph,
    exported: set[str] | frozenset[str],
    dependents: list[str],
    side: SideData,
    project_title: str,
) -> str:
    tid = str(task["id"])
    meta = "".join(
        f"<tr><th>{label}</th><td>{value}</td></tr>"
        for label, value in metadata_rows(task, side.evals.get(tid))
    )
    parts = [
        page_head(f"{tid} — {project_title}", "../style.css"),
        '<body class="task-page">\n<header>\n',
        '<nav class="breadcrumb"><a href="../index.html">← graph</a></nav>\n',
        f"<h1><code>{esc(tid)}</code></h1>\n",
        f'<p class="task-title">{esc(str(task.get("title", "")))}</p>\n</header>\n<main>\n',
        f'<section id="metadata"><h2>Metadata</h2><table class="meta-table"><tbody>{meta}</tbody></table></section>\n',
        f'<section id="description"><h2>Description</h2>{_description(task)}</section>\n',
        '<section id="depends-on"><h2>Depends on</h2>',
        _dep_list((d for d in task.get("after") or () if isinstance(d, str)), graph, exported,
                  ("dependency", "dependencies")),
        "</section>\n",
        '<section id="required-by"><h2>Required by</h2>',
        _dep_list(dependents, graph, exported, ("dependent", "dependents")),
        "</section>\n",
    ]  # fmt: skip
    msgs = side.messages.get(tid)
    if msgs:
        parts.append(_messages(msgs) + "\n")
    convo = side.conversations.get(tid)
    if convo:
        parts.append(_conversation(convo) + "\n")
    parts += [
        f'<section id="log"><h2>Log</h2>{_log(task)}</section>\n</main>\n',
        f'<footer><p class="meta">Visibility = <code>{esc(str(task.get("visibility") or "internal"))}</code></p>'
        "</footer>\n",
        '<script src="../site.js"></script>\n</body>\n</html>\n',
    ]
    return "".join(parts)
