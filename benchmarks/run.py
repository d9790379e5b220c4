"""``make bench``: wall times of core commands on generated 1k/10k/100k-task graphs.

Each figure is printed as ``name value unit ratio``; the ratio is against the start-up of the interpreter
``wg`` runs on (``<venv python> -c pass``), measured in the same run. Then the top import-time entries of
``workgraph.cli``. Usage: ``python benchmarks/run.py [--sizes 1000,10000,100000] [--repeat N]``.
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

PY = sys.executable  # the venv's python (make bench runs .venv/bin/python)
WG = shutil.which("wg", path=os.path.dirname(PY)) or "wg"
GOALS = {  # (size, command) -> (max ratio to interpreter start, or max seconds)
    (1000, "ready"): ("ratio", 3.0),
    (1000, "add"): ("ratio", 3.0),
    (100000, "add"): ("seconds", 0.4),
}


def wall(argv: list[str], cwd: str, env: dict[str, str]) -> float:
    t = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - t


def median(argvs: list[list[str]], cwd: str, env: dict[str, str]) -> float:
    return statistics.median(wall(a, cwd, env) for a in argvs)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,10000,100000")
    ap.add_argument("--repeat", type=int, default=0, help="runs per figure (default: by size)")
    opts = ap.parse_args()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WG_")}
    env["NO_COLOR"] = "1"
    missed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="wg-bench-") as tmp:
        # Measure what an installed wg costs: with cached bytecode (kept out of the source tree).
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tmp, "pycache")
        wall([PY, "-c", "import workgraph.cli.views, workgraph.cli.tasks, workgraph.store.jsonl"], HERE, env)
        base_runs = [[PY, "-c", "pass"]] * 21
        base = median(base_runs, HERE, env)
        print(f"python_startup {base * 1000:.1f} ms 1.00")
        for n in (int(x) for x in opts.sizes.split(",")):
            root = os.path.join(tmp, f"g{n}")
            gen_graph.write(n, root)
            show_id = gen_graph.generate(min(n, 50))[-1]["id"]
            reps = opts.repeat or (11 if n <= 10_000 else 5)
            figures = {
                "ready": [[WG, "ready"]] * reps,
                "add": [[WG, "add", f"Bench task {i}", "--no-place"] for i in range(reps)],
                "show": [[WG, "show", str(show_id)]] * reps,
                "list_json": [[WG, "list", "--json"]] * reps,
            }
            for name, argvs in figures.items():
                wall(argvs[0] if name != "add" else [WG, "add", "Warm up", "--no-place"], root, env)
                value = median(argvs, root, env)
                ratio = value / base
                print(f"wg_{name}_{n} {value * 1000:.1f} ms {ratio:.2f}", flush=True)
                goal = GOALS.get((n, name))
                if goal and (ratio if goal[0] == "ratio" else value) > goal[1]:
                    missed.append(f"wg_{name}_{n} (goal: {goal[0]} <= {goal[1]})")
    print("# python -X importtime -c 'import workgraph.cli' (top self+cumulative, us)")
    proc = subprocess.run(
        [PY, "-X", "importtime", "-c", "import workgraph.cli"], capture_output=True, text=True, env=env
    )
    rows = []
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), int(parts[0].split(":")[1]), parts[2].rstrip()))
    for cumulative, self_us, mod in sorted(rows, reverse=True)[:10]:
        print(f"import {cumulative} us self {self_us} us {mod.strip()}")
    for m in missed:
        print(f"# goal missed: {m}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
