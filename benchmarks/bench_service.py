"""Service benchmarks: dispatch latency, throughput of trivial shell tasks, idle daemon cost.

Prints ``name value unit ratio`` lines; each ratio is against a baseline measured in the same run:

- ``ready_to_spawn_p50/p99``: 200 tasks added one by one with ``wg add`` while the daemon runs; latency is
  from ``wg add`` returning to the agent's command running (it writes ``date +%s%N``). Ratio against one
  ``bash -c`` process start (the floor any agent start pays).
- ``throughput_1000``: 1,000 ``true`` tasks, ``max_agents`` 8, from ``wg service start`` to all done. The
  tasks are written straight into ``graph.jsonl`` (the rows ``wg add --no-place --exec true`` writes) so the
  add loop is not what is measured. Ratio against ``1000 x (one wg done + one process start) / 8``.
  ``per_task_overhead`` is (total - that baseline) / 1000 x 8, the dispatcher's cost per task and slot.
- ``idle_cpu``/``idle_rss``: an idle daemon over ``--idle`` seconds (60), from ``/proc/<pid>/stat`` (utime +
  stime) and ``/proc/<pid>/status`` (VmRSS); again with 100 registered agents (fake ``dead`` entries with no
  process, written into ``registry.json``). Ratios against the idle daemon without them (1.0 for the first).

Usage: ``python benchmarks/bench_service.py [--tasks 1000] [--latency 200] [--idle 60]``; standalone, also
run by ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import TICKS, cpu_ticks, emit, rss_kib


class Repo(benchlib.Repo):
    @property
    def graph(self) -> str:
        return os.path.join(self.root, ".wg", "graph.jsonl")

    def daemon_pid(self) -> int:
        with open(os.path.join(self.root, ".wg", "service", "state.json")) as fh:
            return int(json.load(fh)["pid"])

    def stop(self) -> None:
        self.wg("service", "stop", "--kill-agents", "--force", check=False)


def process_start_s(n: int = 50) -> float:
    t = time.perf_counter()
    for _ in range(n):
        subprocess.run(["bash", "-c", "true"], check=True)
    return (time.perf_counter() - t) / n


def wg_done_s(base: str, n: int = 20) -> float:
    repo = Repo(base, "done-baseline")
    for i in range(n):
        repo.wg("add", f"t{i}", "--id", f"t{i}", "--no-place")
        repo.wg("claim", f"t{i}")
    t = time.perf_counter()
    for i in range(n):
        repo.wg("done", f"t{i}")
    return (time.perf_counter() - t) / n


def bench_latency(base: str, count: int, start_s: float) -> None:
    repo = Repo(base, "latency")
    stamps = os.path.join(repo.root, "stamps")
    os.makedirs(stamps)
    repo.wg("service", "start")
    try:
        time.sleep(0.5)
        lat = []
        for i in range(count):
            path = os.path.join(stamps, str(i))
            repo.wg("add", f"l{i}", "--id", f"l{i}", "--no-place", "--exec", f"date +%s%N > {path}")
            t0 = time.time_ns()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    with open(path) as fh:
                        text = fh.read().strip()
                    if text:
                        lat.append((int(text) - t0) / 1e9)
                        break
                except OSError:
                    pass
                time.sleep(0.001)
            else:
                raise SystemExit(f"task l{i} never started")
    finally:
        repo.stop()
    lat.sort()
    p50, p99 = statistics.median(lat), lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    emit("ready_to_spawn_p50", p50 * 1000, "ms", p50 / start_s)
    emit("ready_to_spawn_p99", p99 * 1000, "ms", p99 / start_s)


def _done_count(path: str) -> int:
    with open(path, "rb") as fh:
        return fh.read().count(b'"status":"done"')


def bench_throughput(base: str, count: int, start_s: float, done_s: float) -> None:
    repo = Repo(base, "throughput")
    stamp = "2026-01-01T00:00:00.000000000+00:00"
    with open(repo.graph, "a", encoding="utf-8") as fh:
        for i in range(count):
            row = {"kind": "task", "id": f"t{i:04d}", "title": f"t{i:04d}", "status": "open", "priority": 10,
                   "exec": "true", "created_at": stamp, "last_interaction_at": stamp, "exec_mode": "shell",
                   "unplaced": True}  # fmt: skip
            fh.write(json.dumps(row, separators=(",", ":")) + "\n")
    t = time.perf_counter()
    repo.wg("service", "start", "--max-agents", "8")
    try:
        deadline = time.monotonic() + 600
        while _done_count(repo.graph) < count:
            if time.monotonic() > deadline:
                raise SystemExit(f"only {_done_count(repo.graph)}/{count} done after 600 s")
            time.sleep(0.05)
        total = time.perf_counter() - t
    finally:
        repo.stop()
    baseline = count * (done_s + start_s) / 8
    emit(f"throughput_{count}", total, "s", total / baseline)
    emit("baseline_done_plus_start", done_s + start_s, "s", 1.0)
    overhead = (total - baseline) / count * 8
    emit("per_task_overhead", overhead * 1000, "ms", overhead / (done_s + start_s))


def idle_sample(repo: Repo, seconds: float) -> tuple[float, float]:
    repo.wg("service", "start")
    try:
        pid = repo.daemon_pid()
        time.sleep(1.0)  # past the first tick
        c0, t0 = cpu_ticks(pid), time.monotonic()
        time.sleep(seconds)
        c1, t1 = cpu_ticks(pid), time.monotonic()
        rss = rss_kib(pid)
    finally:
        repo.stop()
    return (c1 - c0) / TICKS / (t1 - t0) * 100, rss / 1024


def bench_idle(base: str, seconds: float) -> None:
    repo = Repo(base, "idle")
    cpu, rss = idle_sample(repo, seconds)
    emit("idle_cpu", cpu, "%", 1.0)
    emit("idle_rss", rss, "MiB", 1.0)
    stamp = "2026-01-01T00:00:00Z"
    agents = {
        f"agent-{i}": {
            "id": f"agent-{i}",
            "pid": 0,
            "task_id": f"gone-{i}",
            "executor": "shell",
            "started_at": stamp,
            "last_heartbeat": stamp,
            "status": "dead",
            "output_file": "",
            "completed_at": stamp,
            "death_reason": "killed",
        }
        for i in range(1, 101)
    }
    with open(os.path.join(repo.root, ".wg", "service", "registry.json"), "w") as fh:
        json.dump({"agents": agents, "next_agent_id": 101}, fh)
    cpu100, rss100 = idle_sample(repo, seconds)
    emit("idle_cpu_100_agents", cpu100, "%", cpu100 / cpu if cpu else 1.0 if not cpu100 else float("inf"))
    emit("idle_rss_100_agents", rss100, "MiB", rss100 / rss if rss else 0.0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tasks", type=int, default=1000)
    ap.add_argument("--latency", type=int, default=200)
    ap.add_argument("--idle", type=float, default=60.0)
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="wg-bench-service-")
    try:
        start_s = process_start_s()
        emit("process_start", start_s * 1000, "ms", 1.0)
        done_s = wg_done_s(base)
        emit("wg_done", done_s * 1000, "ms", 1.0)
        bench_latency(base, args.latency, start_s)
        bench_throughput(base, args.tasks, start_s, done_s)
        bench_idle(base, args.idle)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
