"""``wg tui`` start-up on a generated graph: time until the first screen is mounted (headless).

Runs ``WgApp`` under ``App.run_test`` (no terminal) and reports, for each size, the median wall time from
creating the app to the end of its ``on_mount`` (graph loaded, rows listed, task page drawn), the time to
the first idle screen, and a reload after another process changed ``graph.jsonl``. Each figure is printed as
``name value unit``. Usage: ``python benchmarks/bench_tui.py [--sizes 1000,10000] [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_graph  # noqa: E402

GOAL_SECONDS = {10000: 1.0}  # first screen of a 10k-task graph on this 2-core machine


async def one_run(wg_dir: str) -> tuple[float, float, float]:
    from workgraph.tui.app import WgApp

    class Timed(WgApp):
        mounted_at = 0.0

        def on_mount(self) -> None:
            super().on_mount()
            self.mounted_at = time.perf_counter()

    t0 = time.perf_counter()
    app = Timed(wg_dir, interval=0.05)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        idle = time.perf_counter()
        loads = app.reloads
        graph = os.path.join(wg_dir, "graph.jsonl")
        with open(graph, "rb") as fh:
            data = fh.read()
        tmp = graph + ".bench"
        with open(tmp, "wb") as fh:
            fh.write(data)
        t1 = time.perf_counter()
        os.replace(tmp, graph)
        while app.reloads == loads:
            await pilot.pause(0.01)
        reload = time.perf_counter() - t1
    return app.mounted_at - t0, idle - t0, reload


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            out = os.path.join(tmp, str(n))
            gen_graph.write(n, out)
            wg_dir = os.path.join(out, ".wg")
            asyncio.run(one_run(wg_dir))  # warm the imports and the page cache
            runs = [asyncio.run(one_run(wg_dir)) for _ in range(args.repeat)]
            mounted = statistics.median(r[0] for r in runs)
            idle = statistics.median(r[1] for r in runs)
            reload = statistics.median(r[2] for r in runs)
            goal = GOAL_SECONDS.get(n)
            verdict = ""
            if goal is not None:
                ok = mounted <= goal
                failed |= not ok
                verdict = f"  (goal <= {goal:.1f} s: {'ok' if ok else 'MISSED'})"
            print(f"tui-mounted-{n} {mounted:.3f} s{verdict}")
            print(f"tui-first-idle-{n} {idle:.3f} s")
            print(f"tui-reload-{n} {reload:.3f} s (includes up to 0.05 s of the poll interval)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
