"""Read a DAG file (YAML or JSON) into a checked graph."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from pit.common.files import read_structured
from pit.dag.graph import DagInvalidError, Graph, parse_dag


def load_dag(path: Path, known_activities: Collection[str] | None = None) -> Graph:
    """Parse and check `path`; every problem is reported, one line each."""
    data = read_structured(path)
    if not isinstance(data, dict):
        raise DagInvalidError([f"{path}: a DAG file is a mapping with name and nodes"])
    return parse_dag(data, known_activities)
