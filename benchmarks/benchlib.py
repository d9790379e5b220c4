"""What the daemon benchmarks share: the ``wg`` to run, the result line, a fresh repo, /proc sampling."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

PY = sys.executable
WG = shutil.which("wg", path=os.path.dirname(PY)) or shutil.which("wg") or "wg"
TICKS = os.sysconf("SC_CLK_TCK")


def emit(name: str, value: float, unit: str, ratio: float) -> None:
    print(f"{name} {value:.3f} {unit} {ratio:.2f}", flush=True)


class Repo:
    """A fresh git repository ``base/name`` with ``wg init --no-agency`` run in it (HOME is ``base``)."""

    def __init__(self, base: str, name: str) -> None:
        self.root = os.path.join(base, name)
        os.makedirs(self.root)
        subprocess.run(["git", "init", "-q", self.root], check=True)
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("WG_")}
        self.env["HOME"] = base
        self.wg("init", "--no-agency")

    def wg(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [WG, *args], cwd=self.root, env=self.env, capture_output=True, text=True, check=check
        )


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
