"""The user files a client reads: DAG files and retention policy files (YAML or JSON),
through the one reader and its limits (`pit.common.files`)."""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from pit.common.errors import InvalidInputError
from pit.common.files import (
    MAX_JSON_BYTES,
    is_json,
    parse_json,
    parse_yaml,
    read_structured,
    read_text,
)
from pit.dag.graph import DagInvalidError, Graph, parse_dag
from pit.stale.policy import Policy, PolicyInvalidError, parse_policy


def load_dag(path: Path, known_activities: Collection[str] | None = None) -> Graph:
    """Parse and check the DAG file `path`; every problem is reported, one line each."""
    data = read_structured(path)
    if not isinstance(data, dict):
        raise DagInvalidError([f"{path}: a DAG file is a mapping with name and nodes"])
    return parse_dag(data, known_activities)


def read_policy_file(path: Path, field: str = "--policy") -> tuple[Policy, str]:
    """The policy in `path` and its text (what a saved plan keeps), read once."""
    if is_json(path):
        text, parse = read_text(path, field, MAX_JSON_BYTES), parse_json
    else:
        text, parse = read_text(path, field), parse_yaml
    try:
        data = parse(text, str(path))
    except InvalidInputError as error:
        raise PolicyInvalidError([error.message]) from None
    return parse_policy(data), text
