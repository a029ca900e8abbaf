"""Headline figures of a benchmark, gathered by `python -m bench` into one table.

Each benchmark prints its own detailed output and also calls `report()` for the figures that
answer a goal. The rows go to the JSON-lines file named by `BENCH_REPORT_FILE` when it is set
(`python -m bench` sets it for each benchmark it runs) and nowhere otherwise, so a benchmark
run by hand behaves as before.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel

REPORT_ENV = "BENCH_REPORT_FILE"
"""Not PIT_*: the Pit reads those as its settings, and benchmarks run `pit`."""


class Row(BaseModel):
    bench: str
    """The benchmark module, e.g. `artifacts_store`."""
    figure: str
    """What was measured, e.g. `put 4 KiB p50`."""
    value: float
    unit: str
    baseline: float | None = None
    """The same figure for the baseline measured in the same run, in the same unit."""
    baseline_label: str | None = None
    """What the baseline is, e.g. `write+fsync+rename`."""
    goal: str | None = None
    """The goal in words, e.g. `<= 1.5x baseline`."""
    met: bool | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline


def report(
    bench: str,
    figure: str,
    value: float,
    unit: str,
    *,
    baseline: float | None = None,
    baseline_label: str | None = None,
    goal: str | None = None,
    met: bool | None = None,
) -> None:
    """Record one headline figure for `python -m bench`'s table (a no-op outside it)."""
    target = os.environ.get(REPORT_ENV)
    if not target:
        return
    row = Row(
        bench=bench,
        figure=figure,
        value=value,
        unit=unit,
        baseline=baseline,
        baseline_label=baseline_label,
        goal=goal,
        met=met,
    )
    with Path(target).open("a", encoding="utf-8") as out:
        out.write(row.model_dump_json() + "\n")


def read_rows(path: Path) -> list[Row]:
    """The rows a benchmark reported (none when it reported nothing)."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Row.model_validate(json.loads(line)) for line in lines if line.strip()]
