"""User files (DAGs, scenarios, models, traces, policies, pit.toml): the one reader, with its
limits, and pydantic's complaints turned into one line per problem.

Every limit is checked before the data reaches anything else, and a file that breaks one is
one `InvalidInputError` naming the file, where in it, and the limit:

- size: YAML and TOML at most `MAX_YAML_BYTES` (composing and constructing YAML is Python
  even over libyaml: a MiB takes about two seconds), JSON `MAX_JSON_BYTES`, a trace (JSON
  lines) `MAX_TRACE_BYTES`; checked while reading, so `/dev/zero` or a growing file cannot
  exhaust memory;
- encoding: UTF-8; the first bad byte is named with its offset and line;
- nesting: at most `MAX_DEPTH` levels, checked while YAML is composed (before the recursive
  parts of the parser run) and right after JSON and TOML are parsed;
- YAML aliases: they may add at most `MAX_ALIAS_VALUES` values to a document once expanded,
  and may not refer to themselves ("billion laughs" and cycles are refused before any
  Python object is built);
- integers: at most Python's own limit of `MAX_INT_DIGITS` digits.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path, PurePath
from typing import Any

import yaml
from yaml.composer import Composer, ComposerError
from yaml.constructor import BaseConstructor, ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, SequenceNode
from yaml.resolver import Resolver

from pit.common.errors import InvalidInputError, safe_repr

MAX_YAML_BYTES = 1024**2
"""Largest YAML or TOML file: DAG, scenario, models, policy, pit.toml (1 MiB)."""
MAX_JSON_BYTES = 16 * 1024**2
"""Largest JSON file: a DAG or policy named *.json (16 MiB)."""
MAX_TRACE_BYTES = 64 * 1024**2
"""Largest trace file for `pit pool simulate` (64 MiB of JSON lines)."""
MAX_DEPTH = 100
"""Deepest nesting of lists and mappings in any file (and in a JSON `--input` value)."""
MAX_ALIAS_VALUES = 100_000
"""Values YAML aliases may add to a document once expanded."""
MAX_INT_DIGITS = 4300
"""Longest integer (Python's own limit for converting text to int, `sys.int_info`)."""

# a hook may word a problem itself (a union that pydantic reports branch by branch); None:
# the default wording
ProblemHook = Callable[[str, Any], str | None]


def read_text(path: Path, field: str = "FILE", limit: int = MAX_YAML_BYTES) -> str:
    """The text of `path`: at most `limit` bytes of UTF-8, or one line saying why not."""
    try:
        with path.open("rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        rule = f"cannot be read: {error.strerror or type(error).__name__}"
        raise InvalidInputError.for_field(field, str(path), rule) from None
    if len(data) > limit:
        rule = f"is larger than {_mib(limit)}, the limit for this kind of file"
        raise InvalidInputError.for_field(field, str(path), rule)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        rule = f"not UTF-8: byte 0x{data[error.start]:02x} at offset {error.start} (line {line})"
        raise InvalidInputError.for_field(field, str(path), rule) from None


def read_structured(path: Path, field: str = "FILE") -> Any:
    """The data of a YAML file (JSON when the name ends in .json), within every limit above;
    a file that cannot be read or parsed is one InvalidInputError naming the file and line."""
    if is_json(path):
        return parse_json(read_text(path, field, MAX_JSON_BYTES), str(path))
    return parse_yaml(read_text(path, field), str(path))


def is_json(path: Path) -> bool:
    """A file named *.json is read as JSON, anything else as YAML."""
    return path.suffix.lower() == ".json"


def parse_yaml(text: str, where: str) -> Any:
    """YAML (the safe subset) within the nesting, alias and integer limits."""
    loader: Any = _Loader(text)  # type: ignore[call-arg]
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_aliases(node)
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if "maximum nesting depth" in problem:  # libyaml's own limit (1000), ahead of ours
            problem = _TOO_DEEP
        raise InvalidInputError(f"{where}{line}: not valid YAML: {problem}") from None
    finally:
        loader.dispose()


def parse_json(text: str, where: str) -> Any:
    """JSON within the nesting and integer limits."""
    try:
        data = json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as error:
        line = f":{error.lineno}" if "\n" in text.strip() else ""
        raise InvalidInputError(f"{where}{line}: not valid JSON: {error.msg}") from None
    except _TooLong as error:
        raise InvalidInputError(f"{where}: not valid JSON: {error}") from None
    except RecursionError:
        raise InvalidInputError(f"{where}: not valid JSON: {_TOO_DEEP}") from None
    check_depth(data, where, "not valid JSON: ")
    return data


def check_depth(data: Any, where: str, prefix: str = "") -> None:
    """Refuse `data` (parsed JSON or TOML) nested deeper than `MAX_DEPTH`."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidInputError(f"{where}: {prefix}{_TOO_DEEP}")
        children = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict | list):
            stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))


_TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


class _TooLong(ValueError):
    pass


def _json_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise _TooLong(f"an integer of more than {MAX_INT_DIGITS} digits")
    return int(digits)


class _Limits(Composer, BaseConstructor):
    """Mixed into a safe loader: refuses deep nesting while it composes (before any
    recursion could run away) and values Python cannot hold (over-long integers,
    out-of-range dates) with the line they are on."""

    _depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark  # type: ignore[attr-defined]
                raise ComposerError(None, None, _TOO_DEEP, mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, OverflowError) as error:
            problem = str(error)
            if "integer string conversion" in problem:
                problem = f"an integer of more than {MAX_INT_DIGITS} digits"
            raise ConstructorError(None, None, problem, node.start_mark) from None


class _PythonLoader(_Limits, yaml.SafeLoader):
    """PyYAML's own safe loader, pure Python."""


_Loader: type[_Limits] = _PythonLoader

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class _LibyamlLoader(_Limits, CParser, SafeConstructor, Resolver):
        """libyaml's scanner and parser (C, several times faster than PyYAML's), our
        composer: the same documents and errors as `_PythonLoader`."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    _Loader = _LibyamlLoader


def _check_aliases(root: Node) -> None:
    """Refuse a document whose aliases expand to too many values, nest too deep once
    expanded, or contain themselves: all before a single Python object is built."""
    expanded: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth) once expanded
    on_path: set[int] = set()

    def measure(node: Node, depth: int) -> tuple[int, int]:
        known = expanded.get(id(node))
        if known is not None:
            if depth + known[1] - 1 > MAX_DEPTH:
                raise ComposerError(None, None, f"aliases nest {_TOO_DEEP}", node.start_mark)
            return known
        if id(node) in on_path:
            raise ComposerError(None, None, "an alias refers to itself", node.start_mark)
        if depth > MAX_DEPTH:
            raise ComposerError(None, None, f"aliases nest {_TOO_DEEP}", node.start_mark)
        on_path.add(id(node))
        values, height = 1, 1
        for child in _children(node):
            child_values, child_height = measure(child, depth + 1)
            values += child_values
            height = max(height, child_height + 1)
        on_path.discard(id(node))
        expanded[id(node)] = (values, height)
        return values, height

    total, _ = measure(root, 1)
    if total - len(expanded) > MAX_ALIAS_VALUES:
        raise ComposerError(
            None,
            None,
            f"aliases expand to {total} values, more than the {MAX_ALIAS_VALUES} extra "
            "values a document may gain from them",
            root.start_mark,
        )


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _mib(size: int) -> str:
    return f"{size / 1024**2:g} MiB"


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
    text = safe_repr(str(value) if isinstance(value, PurePath) else value)
    return text if len(text) <= 200 else text[:180] + f"... ({len(text)} characters)"
