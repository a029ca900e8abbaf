"""docs/production.md lists the Pit's metrics as `pit.common.metrics` defines them."""

from __future__ import annotations

import re
from pathlib import Path

from pit.common.metrics import PIT_METRICS

ROOT = Path(__file__).resolve().parents[2]


def test_the_documented_metrics_are_the_metrics() -> None:
    text = (ROOT / "docs/production.md").read_text()
    rows = re.findall(r"^\| `(pit_[a-z_]+)` \| (\w+) \| ([^|]*) \| ([^|]+) \|$", text, re.M)
    documented = {
        name: (kind, re.findall(r"`(\w+)`", labels), what.strip())
        for name, kind, labels, what in rows
    }
    assert documented == {
        spec.name: (str(spec.kind), list(spec.labels), spec.help) for spec in PIT_METRICS
    }
