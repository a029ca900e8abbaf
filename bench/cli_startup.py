"""CLI start-up: whole `pit` processes, each against a bare `python -c pass` measured in turn in
the same run (the interpreter's own start-up is the floor no command can go under).

    python -m bench.cli_startup            # 15 runs of each, medians
    python -m bench.cli_startup --quick    # 5 runs

Goals (issue 17): `pit --help` under 0.25 s; `pit artifact get` on a local store under 0.4 s.
Which modules each command imports is asserted by tests/unit/test_cli_imports.py.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._report import report

PIT = [sys.executable, "-m", "pit"]
COMMANDS = {
    "pit --help": ([*PIT, "--help"], 0.25),
    "pit artifact get (local store)": ([*PIT, "artifact", "get", "docs/readme"], 0.4),
    "pit pool simulate --help": ([*PIT, "pool", "simulate", "--help"], None),
}


def seconds(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs of each, not 15")
    runs = 5 if parser.parse_args().quick else 15
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{runs} runs of each, in turn with `python -c pass`; load average {load}")
    with tempfile.TemporaryDirectory(prefix="pit-bench-") as tmp:
        cwd = Path(tmp)
        (cwd / "readme.txt").write_text("hello\n")
        subprocess.run([*PIT, "artifact", "put", "docs/readme", "readme.txt"], cwd=cwd, check=True)
        bare = [sys.executable, "-c", "pass"]
        for name, (command, goal) in COMMANDS.items():
            seconds(command, cwd)  # warm the page cache
            ours, floor = [], []
            for _ in range(runs):
                ours.append(seconds(command, cwd))
                floor.append(seconds(bare, cwd))
            median, base = statistics.median(ours), statistics.median(floor)
            print(
                f"{name:<32} median {median * 1000:6.0f} ms (min {min(ours) * 1000:.0f}, max "
                f"{max(ours) * 1000:.0f}) | python -c pass {base * 1000:4.0f} ms"
            )
            report(
                "cli_startup", name, median * 1000, "ms",
                baseline=base * 1000, baseline_label="python -c pass",
                goal=None if goal is None else f"< {goal * 1000:.0f} ms",
                met=None if goal is None else median < goal,
            )  # fmt: skip


if __name__ == "__main__":
    main()
