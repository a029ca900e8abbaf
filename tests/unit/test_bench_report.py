"""`python -m bench`'s table: rows reported by a benchmark in its own process reach the table."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from bench import __main__ as runner
from bench._report import REPORT_ENV, Row, read_rows, report


def test_report_is_a_no_op_outside_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(REPORT_ENV, raising=False)
    report("x", "figure", 1.0, "ms")  # nothing to write to, nothing raised


def test_rows_round_trip_and_render(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "rows.jsonl"
    monkeypatch.setenv(REPORT_ENV, str(target))
    report("store", "put 4 KiB p50", 3.0, "ms", baseline=2.0, baseline_label="plain", met=False)
    report("engine", "fairness", 3.03, "%")
    rows = read_rows(target)
    assert [row.bench for row in rows] == ["store", "engine"]
    assert rows[0].ratio == pytest.approx(1.5)
    assert rows[1].ratio is None
    lines = runner.table(rows).splitlines()
    assert lines[2] == "| store | put 4 KiB p50 | 3 ms | 2 ms (plain) | 1.5x |  | no |"
    assert lines[3].startswith("| engine | fairness | 3.03 % |")


def test_a_failing_benchmark_is_reported_and_fails_the_run(tmp_path: Path) -> None:
    rows, code, _ = runner.run_one(runner.Bench("no_such_bench", ()), False, tmp_path)
    assert rows == [] and code != 0
    assert "No module named bench.no_such_bench" in (tmp_path / "no_such_bench.log").read_text()


def test_the_runner_prints_one_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "stale_policy", "--logs", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| stale_policy | policy evaluation" in done.stdout
    assert all(isinstance(row, Row) for row in read_rows(tmp_path / "stale_policy.rows.jsonl"))


@pytest.mark.parametrize("bench", [b.name for b in runner.BENCHES])
def test_every_benchmark_imports(bench: str) -> None:
    """A refactoring that moves what a benchmark uses breaks it here, not in a bench run."""
    importlib.import_module(f"bench.{bench}")
