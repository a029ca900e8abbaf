"""Read a DAG file (YAML or JSON) into a checked graph."""

from __future__ import annotations

import json
from collections.abc import Collection
from pathlib import Path
from typing import Any

import yaml

from pit.common.errors import InvalidInputError
from pit.dag.graph import DagInvalidError, Graph, parse_dag


def read_dag_file(path: Path) -> Any:
    """The raw data of a DAG file; YAML unless the name ends in .json."""
    try:
        text = path.read_text()
    except OSError as error:
        rule = f"cannot be read: {error.strerror}"
        raise InvalidInputError.for_field("FILE", str(path), rule) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise DagInvalidError([f"{path}:{error.lineno}: not valid JSON: {error.msg}"]) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise DagInvalidError([f"{path}{line}: not valid YAML: {problem}"]) from None


def load_dag(path: Path, known_activities: Collection[str] | None = None) -> Graph:
    """Parse and check `path`; every problem is reported, one line each."""
    data = read_dag_file(path)
    if not isinstance(data, dict):
        raise DagInvalidError([f"{path}: a DAG file is a mapping with name and nodes"])
    return parse_dag(data, known_activities)
