"""``wg html``: the static site (spec core 12 for the task page; the index per the views issue).

Page rendering is pure (records and pre-loaded side data in, text out); :func:`load_side_data` and
:func:`write_site` do the I/O. Every piece of task text goes through :func:`esc`.
"""

from __future__ import annotations

import json
import os

from ..model import STATUSES, is_chat, is_system
from . import markdown
from .markdown import esc

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    from ..graph import Graph
    from ..model import Record

LOG_LIMIT = 50
STATIC_FILES = ("style.css", "site.js")
_KEEP = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def encode_id(task_id: str) -> str:
    """File-name encoding of spec core 12: unreserved bytes kept, other UTF-8 bytes as ``%XX``."""
    return "".join(chr(b) if b in _KEEP else f"%{b:02X}" for b in task_id.encode("utf-8"))


def page_href(task_id: str) -> str:
    """A relative URL to a page whose file name is ``encode_id(task_id)`` (``%`` itself must be escaped)."""
    return encode_id(task_id).replace("%", "%25") + ".html"


def badge(status: str) -> str:
    return f'<span class="badge st-{esc(status)}">{esc(status)}</span>'


class SideData:
    """What the pages show besides the graph: evaluations, messages, chat conversations."""

    def __init__(self) -> None:
        self.evals: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.conversations: dict[str, list[dict[str, Any]]] = {}


# -- the task page ------------------------------------------------------------------------------


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


def _head(title: str, css: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        f'<link rel="stylesheet" href="{css}">\n</head>\n'
    )


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
        _head(f"{tid} — {project_title}", "../style.css"),
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


# -- the index ----------------------------------------------------------------------------------


def _viz(graph: Graph, ids: list[str], now: int) -> str:
    """``wg viz``'s text drawing with every task id linked to its page (arcs left out of huge components)."""
    from . import textgraph

    lines: list[str] = []
    for comp in textgraph.components(graph, ids):
        if lines:
            lines.append("")
        rows, extra = textgraph.layout(graph, comp)
        texts = [prefix + textgraph.node_text(graph.get(t) or {"id": t}, now) for prefix, t in rows]
        drawn = (
            texts
            if len(extra) * len(rows) > 4_000_000
            else textgraph._arcs(texts, [t for _, t in rows], extra)
        )
        for (prefix, t), text, line in zip(rows, texts, drawn, strict=True):
            rec = graph.get(t) or {}
            label = text[len(prefix) :]
            lead = "‖ " if label.startswith("‖ ") else ""
            rest = label[len(lead) + len(t) :]
            st = esc(str(rec.get("status", "open")))
            link = f'<a class="st-{st}" href="tasks/{esc(page_href(t))}">{esc(t)}</a>'
            lines.append(esc(prefix + lead) + link + esc(rest) + esc(line[len(text) :]))
    return '<pre class="viz">' + "\n".join(lines) + "</pre>" if lines else '<p class="none">(no tasks)</p>'


def render_index(
    graph: Graph,
    ids: list[str],
    blockers: dict[str, list[str]],
    project_title: str,
    now: int,
    note: str,
) -> str:
    counts: dict[str, int] = {}
    rows: list[str] = []
    exported = set(ids)
    for tid in ids:
        t = graph.get(tid) or {"id": tid}
        st = str(t.get("status", "open"))
        counts[st] = counts.get(st, 0) + 1
        tags = [x for x in t.get("tags") or () if isinstance(x, str)]
        assigned = t.get("assigned") if isinstance(t.get("assigned"), str) else ""
        title = str(t.get("title", ""))
        blocked = [b for b in blockers.get(tid) or () if b in exported]
        hidden = len(blockers.get(tid) or ()) - len(blocked)
        search = " ".join([tid, title, st, *tags, str(assigned), *blocked]).lower()
        st_html = badge(st) + (' <span class="badge paused">‖ paused</span>' if t.get("paused") else "")
        blocked_html = ", ".join(f'<a href="tasks/{esc(page_href(b))}">{esc(b)}</a>' for b in blocked)
        rows.append(
            f'<tr data-status="{esc(st)}" data-search="{esc(search)}">'
            f'<td><a href="tasks/{esc(page_href(tid))}"><code>{esc(tid)}</code></a></td>'
            f"<td>{esc(title)}</td><td>{st_html}</td><td>{', '.join(esc(x) for x in tags)}</td>"
            f"<td>{esc(str(assigned))}</td>"
            f"<td>{'blocked by ' + blocked_html if blocked else ''}"
            f"{(' + ' if blocked else 'blocked by ') + f'{hidden} non-public' if hidden else ''}</td></tr>"
        )
    order = [s for s in STATUSES if s in counts] + sorted(s for s in counts if s not in STATUSES)
    summary = "".join(f'<span class="badge st-{esc(s)}">{esc(s)} {counts[s]}</span>' for s in order)
    options = "".join(f'<option value="{esc(s)}">{esc(s)}</option>' for s in order)
    return "".join(
        [
            _head(project_title, "style.css"),
            '<body class="index-page">\n<header>\n',
            f"<h1>{esc(project_title)}</h1>\n",
            f'<p class="muted">{len(ids)} tasks{esc(note)}</p>\n',
            f'<div class="summary">{summary}</div>\n</header>\n<main>\n',
            '<section id="tasks-section"><h2>Tasks</h2>\n<div class="filters">',
            '<input id="filter" type="search" placeholder="Filter by id, title, tag, assignee…" '
            'aria-label="Filter tasks" autocomplete="off">',
            f'<select id="status-filter" aria-label="Status"><option value="">all statuses</option>{options}</select>',
            f'</div>\n<p class="muted"><span id="shown-count">{len(ids)}</span> shown</p>\n',
            '<div class="table-wrap"><table class="index-table" id="tasks"><thead><tr><th>ID</th><th>Title</th>'
            "<th>Status</th><th>Tags</th><th>Assigned</th><th>Waiting on</th></tr></thead>\n<tbody>\n",
            "\n".join(rows),
            "\n</tbody></table></div></section>\n",
            f'<section id="dependencies"><h2>Dependencies</h2>{_viz(graph, ids, now)}</section>\n</main>\n',
            '<footer><p class="meta">Generated by <code>wg html</code>.</p></footer>\n',
            '<script src="site.js"></script>\n</body>\n</html>\n',
        ]
    )


# -- selection and side data --------------------------------------------------------------------


def select_ids(graph: Graph, *, include_system: bool, public_only: bool) -> list[str]:
    return [
        t["id"]
        for t in graph.tasks()
        if (include_system or not is_system(t["id"])) and (not public_only or t.get("visibility") == "public")
    ]


def _read_records(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return []
    out: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _parse_eval(path: str) -> dict[str, Any] | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return None
    data: object = None
    if path.endswith(".json"):
        try:
            data = json.loads(text)
        except ValueError:
            return None
    else:
        try:
            import yaml

            data = yaml.safe_load(text)
        except ImportError:
            data = _mini_yaml(text)
        except Exception:
            return None
    return data if isinstance(data, dict) else None


def _mini_yaml(text: str) -> dict[str, Any]:
    """Top-level ``key: scalar`` pairs and one level of nested mapping (enough for evaluation files)."""
    out: dict[str, Any] = {}
    current: dict[str, Any] | None = None
    for raw in text.splitlines():
        if not raw.strip() or raw.lstrip().startswith("#") or ":" not in raw:
            continue
        key, _, val = raw.strip().partition(":")
        key, val = key.strip().strip("'\""), val.strip()
        value: Any = val.strip("'\"")
        try:
            value = float(val) if any(c in val for c in ".eE") else int(val)
        except ValueError:
            pass
        if raw[0] in " \t" and current is not None:
            current[key] = value
        elif val == "":
            current = {}
            out[key] = current
        else:
            current = None
            out[key] = value
    return out


def load_evaluations(wg_dir: str, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The latest evaluation per task (agency.md 2.6); unreadable files are skipped."""
    from ..timeutil import parse_ts

    folder = os.path.join(wg_dir, "agency", "evaluations")
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return {}
    best: dict[str, tuple[int, str, dict[str, Any]]] = {}
    for name in names:
        if not name.endswith((".json", ".yaml", ".yml")):
            continue
        data = _parse_eval(os.path.join(folder, name))
        if data is None:
            continue
        tid = data.get("task_id")
        if not isinstance(tid, str) or tid not in wanted:
            continue
        ts = parse_ts(data.get("timestamp")) or 0
        key = (ts, name)
        if tid not in best or key > best[tid][:2]:
            best[tid] = (ts, name, data)
    return {tid: v[2] for tid, v in best.items()}


def _chat_dirs(wg_dir: str) -> dict[str, str]:
    """alias -> chat history directory, from ``chat/sessions.json`` (chats.md 2)."""
    chat = os.path.join(wg_dir, "chat")
    out: dict[str, str] = {}
    try:
        with open(os.path.join(chat, "sessions.json"), encoding="utf-8") as fh:
            data = json.load(fh)
        sessions = data.get("sessions") if isinstance(data, dict) else None
    except (OSError, ValueError):
        sessions = None
    if isinstance(sessions, dict):
        for uuid, info in sessions.items():
            if not isinstance(info, dict):
                continue
            base = (
                os.path.join(chat, ".archive", uuid) if info.get("archived_at") else os.path.join(chat, uuid)
            )
            for alias in info.get("aliases") or ():
                if isinstance(alias, str):
                    out[alias] = base
    return out


def load_side_data(wg_dir: str, graph: Graph, ids: list[str]) -> SideData:
    from ..timeutil import parse_ts

    side = SideData()
    wanted = set(ids)
    side.evals = load_evaluations(wg_dir, wanted)
    msg_dir = os.path.join(wg_dir, "messages")
    try:
        names = os.listdir(msg_dir)
    except OSError:
        names = []
    for name in names:
        tid = name[: -len(".jsonl")] if name.endswith(".jsonl") else None
        if tid in wanted:
            msgs = [m for m in _read_records(os.path.join(msg_dir, name)) if "body" in m]
            msgs.sort(key=lambda m: m["id"] if isinstance(m.get("id"), int) else 0)
            if msgs:
                side.messages[tid] = msgs
    chats = [tid for tid in ids if is_chat(graph.get(tid) or {})]
    if chats:
        dirs = _chat_dirs(wg_dir)
        for tid in chats:
            number = tid.rsplit("-", 1)[-1]
            base = dirs.get(tid.lstrip(".")) or dirs.get(number) or os.path.join(wg_dir, "chat", number)
            recs = _read_records(os.path.join(base, "inbox.jsonl")) + _read_records(
                os.path.join(base, "outbox.jsonl")
            )
            recs.sort(key=lambda r: parse_ts(r.get("timestamp")) or 0)  # stable: inbox first on ties
            if recs:
                side.conversations[tid] = recs
    return side


def blockers_of(graph: Graph, ids: list[str]) -> dict[str, list[str]]:
    from ..graph import unsatisfied_deps

    out: dict[str, list[str]] = {}
    for tid in ids:
        t = graph.get(tid)
        if t is not None and t.get("status", "open") in ("open", "blocked", "incomplete", "waiting"):
            deps = unsatisfied_deps(graph, t)
            if deps:
                out[tid] = deps
    return out


def write_site(
    graph: Graph,
    ids: list[str],
    side: SideData,
    out_dir: str,
    project_title: str,
    now: int,
    note: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write ``index.html``, ``style.css``, ``site.js`` and ``tasks/<enc>.html``; returns pages written."""
    tasks_dir = os.path.join(out_dir, "tasks")
    os.makedirs(tasks_dir, exist_ok=True)
    here = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
    for name in STATIC_FILES:
        with open(os.path.join(here, name), "rb") as src, open(os.path.join(out_dir, name), "wb") as dst:
            dst.write(src.read())
    exported = frozenset(ids)
    dependents: dict[str, list[str]] = {}
    for t in graph.tasks():
        for d in t.get("after") or ():
            dependents.setdefault(d, []).append(t["id"])
    total = len(ids)
    for n, tid in enumerate(ids, 1):
        task = graph.get(tid)
        assert task is not None
        page = render_task_page(task, graph, exported, sorted(dependents.get(tid, ())), side, project_title)
        with open(os.path.join(tasks_dir, encode_id(tid) + ".html"), "w", encoding="utf-8") as fh:
            fh.write(page)
        if progress is not None:
            progress(n, total)
    index = render_index(graph, ids, blockers_of(graph, ids), project_title, now, note)
    with open(os.path.join(out_dir, "index.html"), "w", encoding="utf-8") as fh:
        fh.write(index)
    return total
