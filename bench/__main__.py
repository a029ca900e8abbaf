"""Every benchmark's quick version, one after another, and one table of their headline figures
against the baselines measured in the same runs.

    python -m bench                       # every benchmark, quick sizes (a few minutes)
    python -m bench --only artifacts_store --only dag_bench
    python -m bench --full                # the full sizes (much longer)
    python -m bench --json                # the rows as JSON, for scripts

Each benchmark runs in its own process (a fresh interpreter, its own embedded server where it
needs one); its whole output goes to a log file named in the table's footer. A benchmark that
fails is listed with its exit code and the command exits 1; goals missed are shown, not
failed on: the machine is noisy and the figures are for reading.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench._report import REPORT_ENV, Row, read_rows


@dataclass(frozen=True)
class Bench:
    name: str
    quick: tuple[str, ...]
    full: tuple[str, ...] = ()


BENCHES = (
    Bench("cli_startup", ("--quick",)),
    Bench("file_reader", ("--quick",)),
    Bench("search_index", ("--quick",)),
    Bench("arbitration_engine", ()),
    Bench("stale_policy", ("--versions", "100000")),
    Bench("pool_bench", ()),
    Bench("pool_policies", ()),
    Bench("artifacts_store", ("--quick",)),
    Bench("artifacts_read", ("--quick",)),
    Bench("dag_bench", ("--quick",)),
    Bench("dag_load_bench", ("--quick",)),
    Bench("pool_hosts_bench", ("--quick",)),
    Bench("arbiter_contention", ("--quick",)),
)
TIMEOUT_SECONDS = 900


def _number(value: float | None) -> str:
    if value is None:
        return ""
    if value != 0 and (abs(value) >= 10_000 or abs(value) < 0.01):
        return f"{value:.3g}"
    return f"{value:.3f}".rstrip("0").rstrip(".")


def _cell(row: Row) -> tuple[str, ...]:
    value = f"{_number(row.value)} {row.unit}".strip()
    baseline = ""
    if row.baseline is not None:
        baseline = f"{_number(row.baseline)} {row.unit}".strip()
        if row.baseline_label:
            baseline += f" ({row.baseline_label})"
    ratio = f"{row.ratio:.3g}x" if row.ratio is not None else ""
    met = {True: "yes", False: "no", None: ""}[row.met]
    return (row.bench, row.figure, value, baseline, ratio, row.goal or "", met)


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (what docs/performance.md holds)."""
    header = ("bench", "figure", "value", "baseline (same run)", "ratio", "goal", "met")
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(_cell(row)) + " |" for row in rows]
    return "\n".join(lines)


def run_one(bench: Bench, full: bool, logs: Path) -> tuple[list[Row], int, float]:
    """Run one benchmark in its own interpreter; its rows, exit code and seconds."""
    rows_file = logs / f"{bench.name}.rows.jsonl"
    log_file = logs / f"{bench.name}.log"
    args = bench.full if full else bench.quick
    command = [sys.executable, "-m", f"bench.{bench.name}", *args]
    env = {**os.environ, REPORT_ENV: str(rows_file)}
    started = time.perf_counter()
    with log_file.open("wb") as log:
        try:
            code = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, timeout=TIMEOUT_SECONDS
            ).returncode
        except subprocess.TimeoutExpired:
            code = 124
    return read_rows(rows_file), code, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=[b.name for b in BENCHES])
    parser.add_argument("--full", action="store_true", help="the full sizes, not the quick ones")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON")
    parser.add_argument("--logs", type=Path, help="where each benchmark's output goes [a temp dir]")
    args = parser.parse_args()
    chosen = [b for b in BENCHES if not args.only or b.name in args.only]
    logs = args.logs or Path(tempfile.mkdtemp(prefix="pit-bench-"))
    logs.mkdir(parents=True, exist_ok=True)
    load_before = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    rows: list[Row] = []
    failed: list[str] = []
    for bench in chosen:
        print(f"running {bench.name} ...", file=sys.stderr, flush=True)
        got, code, seconds = run_one(bench, args.full, logs)
        print(f"  {bench.name}: exit {code} in {seconds:.0f} s", file=sys.stderr, flush=True)
        rows += got
        if code != 0:
            failed.append(f"{bench.name} (exit {code}, see {logs / (bench.name + '.log')})")
    load_after = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    if args.json:
        print(json.dumps([row.model_dump(mode="json") | {"ratio": row.ratio} for row in rows]))
    else:
        print(table(rows))
        print(
            f"\ncpu count {os.cpu_count()}; load average {load_before} before, {load_after} after"
        )
        print(f"logs: {logs}")
    for name in failed:
        print(f"failed: {name}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
