"""Chat benchmarks: the daemon's cost with 100 supervised idle chats, and ``purge-chats`` on 100 chats.

Prints ``name value unit ratio`` lines; each ratio is against a baseline measured in the same run:

- ``chats100_idle_cpu``/``chats100_idle_rss``: a daemon supervising 100 chats whose handlers sit idle (a
  handler that blocks until SIGTERM), over ``--seconds`` (60), from ``/proc/<pid>/stat`` (utime + stime) and
  ``/proc/<pid>/status`` (VmRSS). Ratio against the same daemon with no chats over the same window (its CPU
  floored at one clock tick).
- ``purge100_ipc``: ``wg service purge-chats --include-active`` with the daemon up and 100 live handlers
  (archive + stop all handlers + move 100 history directories). ``purge100_offline``: the same with the
  daemon down (direct graph change). Ratios against the same command on a project without chats.

Usage: ``python benchmarks/bench_chats.py [--chats 100] [--seconds 60]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import benchlib
from benchlib import TICKS, cpu_ticks, emit, rss_kib


class Repo(benchlib.Repo):
    def __init__(self, base: str, name: str, handler: str) -> None:
        super().__init__(base, name)
        with open(os.path.join(self.root, ".wg", "config.toml"), "a") as fh:
            fh.write(f'\n[chat]\nhandler = "{handler}"\n\n[dispatcher]\nmax_coordinators = 100000\n')

    def daemon_pid(self) -> int:
        with open(os.path.join(self.root, ".wg", "service", "daemon.lock")) as fh:
            return int(fh.read().strip())

    def timed(self, *args: str) -> float:
        t = time.perf_counter()
        self.wg(*args)
        return time.perf_counter() - t


def cpu_seconds(pid: int) -> float:
    return cpu_ticks(pid) / TICKS


def idle_cost(repo: Repo, seconds: float) -> tuple[float, int]:
    pid = repo.daemon_pid()
    time.sleep(2)  # let boot settle
    c0 = cpu_seconds(pid)
    time.sleep(seconds)
    return cpu_seconds(pid) - c0, rss_kib(pid)


def handlers_alive(handler: str) -> int:
    out = subprocess.run(["pgrep", "-f", f"{handler} --chat"], capture_output=True, text=True, check=False)
    return len(out.stdout.split())


def wait_handlers(handler: str, want: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while handlers_alive(handler) != want:
        if time.monotonic() > deadline:
            raise SystemExit(f"expected {want} handlers, found {handlers_alive(handler)}")
        time.sleep(0.2)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--chats", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60.0)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="wg-bench-chats-") as tmp:
        handler = os.path.join(tmp, "bench-chat-handler")
        with open(handler, "w") as fh:  # blocks until SIGTERM, like an idle handler between turns
            fh.write('#!/bin/sh\ntrap "exit 143" TERM\nwhile :; do sleep 3600 & wait $!; done\n')
        os.chmod(handler, 0o755)
        empty = Repo(tmp, "empty", handler)
        full = Repo(tmp, "full", handler)
        for _ in range(opts.chats):
            full.wg("chat", "new")
        try:
            empty.wg("service", "start", "--max-agents", "0")
            base_cpu, base_rss = idle_cost(empty, opts.seconds)
            base_purge_ipc = empty.timed("service", "purge-chats", "--include-active")
            empty.wg("service", "stop")
            base_purge_off = empty.timed("service", "purge-chats", "--include-active")

            full.wg("service", "start", "--max-agents", "0")
            wait_handlers(handler, opts.chats)
            cpu, rss = idle_cost(full, opts.seconds)
            emit(f"chats{opts.chats}_idle_cpu", cpu, "s", cpu / max(base_cpu, 1 / TICKS))
            emit(f"chats{opts.chats}_idle_rss", rss / 1024, "MiB", rss / max(base_rss, 1))
            purge = full.timed("service", "purge-chats", "--include-active")
            wait_handlers(handler, 0, 10)
            emit(f"purge{opts.chats}_ipc", purge, "s", purge / base_purge_ipc)
            full.wg("service", "stop")
        finally:
            for repo in (empty, full):
                repo.wg("service", "stop", check=False)
        offline = Repo(tmp, "offline", handler)
        for _ in range(opts.chats):
            offline.wg("chat", "new")
        t = offline.timed("service", "purge-chats", "--include-active")
        emit(f"purge{opts.chats}_offline", t, "s", t / base_purge_off)
    return 0


if __name__ == "__main__":
    sys.exit(main())
