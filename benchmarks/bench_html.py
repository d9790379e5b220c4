"""``wg html`` on a generated graph: total wall time and task pages per second.

Usage: ``python benchmarks/bench_html.py [--size 10000] [--repeat 1]`` (uses the ``wg`` next to this
interpreter; the graph comes from ``gen_graph.py``, deterministic for a given size).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import gen_graph  # noqa: E402

WG = shutil.which("wg", path=os.path.dirname(sys.executable)) or "wg"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--repeat", type=int, default=1)
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "proj")
        gen_graph.write(opts.size, root)
        env = {**os.environ, "HOME": tmp, "NO_COLOR": "1"}
        env.pop("WG_DIR", None)
        times = []
        pages = 0
        for n in range(opts.repeat):
            out = os.path.join(tmp, f"site{n}")
            t = time.perf_counter()
            proc = subprocess.run(
                [WG, "html", "--out", out], cwd=root, env=env, capture_output=True, text=True, check=False
            )
            times.append(time.perf_counter() - t)
            if proc.returncode != 0:
                sys.stderr.write(proc.stderr)
                return 1
            pages = len(os.listdir(os.path.join(out, "tasks")))
        total = statistics.median(times)
        print(f"html_{opts.size}_total {total:.3f} s")
        print(f"html_{opts.size}_pages {pages} pages")
        print(f"html_{opts.size}_rate {pages / total:.0f} pages/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
