"""User files (DAGs, scenarios, policies): read YAML or JSON, and turn pydantic's complaints
into one line per problem that names the path to the bad field, the value and the rule."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from pit.common.errors import InvalidInputError

# a hook may word a problem itself (a union that pydantic reports branch by branch); None:
# the default wording
ProblemHook = Callable[[str, Any], str | None]


def read_structured(path: Path, field: str = "FILE") -> Any:
    """The data of a YAML file (JSON when the name ends in .json); a file that cannot be read
    or parsed is one InvalidInputError naming the file and line."""
    try:
        text = path.read_text()
    except OSError as error:
        rule = f"cannot be read: {error.strerror}"
        raise InvalidInputError.for_field(field, str(path), rule) from None
    try:
        if path.suffix.lower() == ".json":
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as error:
        raise InvalidInputError(f"{path}:{error.lineno}: not valid JSON: {error.msg}") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise InvalidInputError(f"{path}{line}: not valid YAML: {problem}") from None


def field_path(location: Sequence[int | str]) -> str:
    """`("nodes", 2, "retry", "max_attempts")` -> `nodes[2].retry.max_attempts`."""
    path = ""
    for part in location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif not str(part).startswith("function-"):
            path += f".{part}" if path else str(part)
    return path


def problem_lines(errors: list[Any], root: str, hook: ProblemHook | None = None) -> list[str]:
    """One line per pydantic error: `path: value: rule`, without the container complaints
    that only repeat their items' problems, and without duplicates."""
    locations = [tuple(error["loc"]) for error in errors]
    lines: list[str] = []
    for error in errors:
        here = tuple(error["loc"])
        if any(len(other) > len(here) and other[: len(here)] == here for other in locations):
            continue
        line = _problem(error, root, hook)
        if line not in lines:
            lines.append(line)
    return lines


def _problem(error: Any, root: str, hook: ProblemHook | None) -> str:
    location = field_path(error["loc"]) or root
    if hook is not None:
        worded = hook(location, error)
        if worded is not None:
            return worded
    rule = "unknown key" if error["type"] == "extra_forbidden" else error["msg"]
    return f"{location}: {shown(error.get('input'))}: {rule.removeprefix('Value error, ')}"


def shown(value: Any) -> str:
    """A value as an error line shows it: containers elided, long text shortened."""
    if isinstance(value, dict):
        return "{...}"
    if isinstance(value, list):
        return "[...]"
    text = repr(value)
    return text if len(text) <= 200 else text[:180] + f"... ({len(text)} characters)"
