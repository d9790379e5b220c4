"""A stand-in chat handler (spec chats.md 3.5): session lock, inbox polling, ``fake reply #k`` replies.

Environment: FAKE_LOG (start/term/int lines), FAKE_PIDS (one file per started pid), FAKE_MODE:
``serve`` (default, runs until TERM), ``exit0:S`` / ``crash:S`` (serve, then exit 0 / 1 after S seconds).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

WG = os.environ["WG_DIR"]
LOG = os.environ.get("FAKE_LOG", os.path.join(os.path.dirname(WG), "fake.log"))
PIDS = os.environ.get("FAKE_PIDS", os.path.join(os.path.dirname(WG), "fake.pids"))
MODE = os.environ.get("FAKE_MODE", "serve")


def note(text: str) -> None:
    with open(LOG, "a") as fh:
        fh.write(f"{int(time.time())} {text}\n")


def chat_dir(ref: str) -> str:
    try:
        with open(os.path.join(WG, "chat", "sessions.json")) as fh:
            sessions = json.load(fh)["sessions"]
    except (OSError, ValueError, KeyError):
        sessions = {}
    for uid, s in sessions.items():
        if ref in s.get("aliases", []):
            return os.path.join(WG, "chat", ".archive" if s.get("archived_at") else "", uid)
    return os.path.join(WG, "chat", ref)


def take_lock(path: str) -> bool:
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                with open(path) as fh:
                    pid = int(fh.readline().strip())
                os.kill(pid, 0)
                return False
            except (ValueError, OSError):
                os.unlink(path)
                continue
        os.write(fd, f"{os.getpid()}\n2026-01-01T00:00:00Z\nadapter\n".encode())
        os.close(fd)
        return True
    return False


def read(path: str) -> list[dict[str, object]]:
    try:
        with open(path) as fh:
            return [json.loads(x) for x in fh if x.strip()]
    except OSError:
        return []


def main() -> int:
    ref = sys.argv[sys.argv.index("--chat") + 1]
    d = chat_dir(ref)
    lock = os.path.join(d, ".handler.pid")
    if not take_lock(lock):
        return 75
    note("start " + " ".join([str(os.getpid()), *sys.argv[1:]]))
    os.makedirs(PIDS, exist_ok=True)
    open(os.path.join(PIDS, str(os.getpid())), "w").close()

    def on_term(*_: object) -> None:
        note(f"term {os.getpid()}")
        try:
            os.unlink(lock)
        except OSError:
            pass
        os._exit(143)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, lambda *_: note(f"int {os.getpid()}"))
    kind, _, secs = MODE.partition(":")
    deadline = time.monotonic() + float(secs) if secs else None
    k = 0
    while deadline is None or time.monotonic() < deadline:
        cursor_path = os.path.join(d, ".coordinator-cursor")
        try:
            with open(cursor_path) as fh:
                cursor = int(fh.read().strip() or 0)
        except (OSError, ValueError):
            cursor = 0
        for m in sorted(read(os.path.join(d, "inbox.jsonl")), key=lambda r: int(r["id"])):  # type: ignore[arg-type]
            if int(m["id"]) <= cursor:  # type: ignore[call-overload]
                continue
            k += 1
            out = os.path.join(d, "outbox.jsonl")
            top = max((int(r["id"]) for r in read(out)), default=0)  # type: ignore[call-overload]
            rec = {"id": top + 1, "timestamp": "2026-01-01T00:00:00Z", "role": "coordinator",
                   "content": f"fake reply #{k}", "request_id": m["request_id"]}  # fmt: skip
            with open(out, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            with open(os.path.join(d, "chat.log"), "a") as fh:
                fh.write(f"[now] coordinator: fake reply #{k}\n\n")
            with open(cursor_path + ".tmp", "w") as fh:
                fh.write(f"{m['id']}\n")
            os.replace(cursor_path + ".tmp", cursor_path)
        time.sleep(0.2)
    try:
        os.unlink(lock)
    except OSError:
        pass
    return 1 if kind == "crash" else 0


if __name__ == "__main__":
    sys.exit(main())
