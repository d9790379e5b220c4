"""Generate an N-task ``graph.jsonl`` with a realistic mix of statuses, dependencies and logs.

Usage: ``python benchmarks/gen_graph.py N OUT_DIR`` writes ``OUT_DIR/.wg/graph.jsonl`` (creating the
directory) in the compact canonical format the store writes. Deterministic for a given N (seeded).
"""

from __future__ import annotations

import json
import os
import random
import sys

WORDS = [
    "build",
    "parse",
    "render",
    "store",
    "graph",
    "claim",
    "ready",
    "index",
    "cache",
    "retry",
    "agent",
    "verify",
    "deploy",
    "docs",
    "api",
    "schema",
    "migrate",
    "benchmark",
    "profile",
    "refactor",
    "test",
    "fix",
    "widget",
    "queue",
    "worker",
    "lock",
    "merge",
    "review",
    "release",
]
BASE_NS = 1_777_000_000 * 1_000_000_000  # 2026-04-24


def ts(ns: int) -> str:
    import time

    secs, frac = divmod(ns, 1_000_000_000)
    t = time.gmtime(secs)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
        f".{frac:09d}+00:00"
    )


def generate(n: int, seed: int = 7) -> list[dict[str, object]]:
    rnd = random.Random(seed)
    tasks: list[dict[str, object]] = []
    before: dict[str, list[str]] = {}
    for i in range(n):
        tid = f"{rnd.choice(WORDS)}-{rnd.choice(WORDS)}-{i}"
        # Older tasks are mostly finished; the recent tail is where the open work is.
        age = i / max(n, 1)
        r = rnd.random()
        if age < 0.8:
            status = "done" if r < 0.88 else "abandoned" if r < 0.93 else "failed" if r < 0.96 else "open"
        else:
            status = "open" if r < 0.6 else "in-progress" if r < 0.75 else "done" if r < 0.95 else "failed"
        created = BASE_NS + i * 37_000_000_000 + rnd.randrange(1_000_000_000)
        t: dict[str, object] = {
            "kind": "task",
            "id": tid,
            "title": " ".join(rnd.sample(WORDS, 4)).capitalize(),
        }
        if rnd.random() < 0.5:
            t["description"] = " ".join(rnd.choice(WORDS) for _ in range(rnd.randrange(8, 40)))
        t["status"] = status
        t["priority"] = rnd.choice((10, 10, 10, 50, 5, 100))
        if status in ("in-progress", "done") and rnd.random() < 0.7:
            t["assigned"] = f"agent-{rnd.randrange(1, 40)}"
        if i and rnd.random() < 0.7:
            window = tasks[max(0, i - 60) : i]
            after = sorted({str(d["id"]) for d in rnd.sample(window, min(len(window), rnd.randrange(1, 4)))})
            t["after"] = after
            for d in after:
                before.setdefault(d, []).append(tid)
        if rnd.random() < 0.4:
            t["tags"] = rnd.sample(
                ("backend", "frontend", "docs", "infra", "bug", "perf"), rnd.randrange(1, 3)
            )
        t["created_at"] = ts(created)
        log = []
        last = created
        if status in ("in-progress", "done", "failed"):
            t["started_at"] = ts(created + 60_000_000_000)
            last = created + 60_000_000_000
            log.append(
                {"timestamp": t["started_at"], "actor": t.get("assigned", "bob"), "message": "Task claimed"}
            )
        if status in ("done", "failed", "abandoned"):
            last = created + 900_000_000_000
            t["completed_at"] = ts(last)
            log.append({"timestamp": ts(last), "message": "Validated: tests pass"})
            log.append({"timestamp": ts(last), "message": f"Task marked as {status}"})
        t["last_interaction_at"] = ts(last)
        if log:
            t["log"] = log
        if status == "failed":
            t["retry_count"] = 1
            t["failure_reason"] = "tests failed"
        if rnd.random() < 0.05:
            t["model"] = "claude:opus"
        tasks.append(t)
    from workgraph.model import canonical

    out = []
    for t in tasks:
        b = before.get(str(t["id"]))
        if b:
            t["before"] = b
        out.append(canonical(t))  # canonical key order, as the store writes it
    return out


def write(n: int, out_dir: str) -> str:
    wg = os.path.join(out_dir, ".wg")
    os.makedirs(wg, exist_ok=True)
    path = os.path.join(wg, "graph.jsonl")
    with open(path, "w", encoding="utf-8") as fh:
        for t in generate(n):
            fh.write(json.dumps(t, ensure_ascii=False, separators=(",", ":")) + "\n")
    return path


if __name__ == "__main__":
    print(write(int(sys.argv[1]), sys.argv[2]))
