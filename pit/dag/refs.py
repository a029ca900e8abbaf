"""`${nodes.<id>.output...}`, `${inputs.<key>}`, and in a map node `${item...}` and `${index}`:
the references in node inputs, `for_each`, `when` and an approval's prompt."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from pit.common.errors import InvalidInputError

REFERENCE = re.compile(r"(?<!\$)\$\{([^}]*)\}")
_PATH_PART = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class Reference:
    """One `${...}`: `nodes.<id>.output[.key...]`, `inputs.<key>[.key...]`, `item[.key...]`
    or `index`."""

    text: str
    kind: str  # "node", "input", "item" or "index"
    node: str | None
    path: tuple[str, ...]

    @property
    def per_item(self) -> bool:
        """Stands for something of one map item (defined only in a map node)."""
        return self.kind in ("item", "index")


@dataclass(frozen=True)
class ItemScope:
    """The map item a map node's references are resolved for."""

    value: Any
    index: int


def parse_reference(inner: str, field: str) -> Reference:
    parts = inner.strip().split(".")
    if any(_PATH_PART.fullmatch(part) is None for part in parts):
        raise InvalidInputError.for_field(field, f"${{{inner}}}", _RULE)
    if parts[0] == "nodes" and len(parts) >= 3 and parts[2] == "output":
        return Reference(inner, "node", parts[1], tuple(parts[3:]))
    if parts[0] == "inputs" and len(parts) >= 2:
        return Reference(inner, "input", None, tuple(parts[1:]))
    if parts[0] == "item":
        return Reference(inner, "item", None, tuple(parts[1:]))
    if parts == ["index"]:
        return Reference(inner, "index", None, ())
    raise InvalidInputError.for_field(field, f"${{{inner}}}", _RULE)


_RULE = (
    "a reference is ${nodes.<id>.output}, ${nodes.<id>.output.<key>...}, ${inputs.<key>}, "
    "or in a map node ${item}, ${item.<key>...} or ${index}"
)


def find_references(value: Any, field: str) -> Iterator[tuple[str, Reference]]:
    """Every reference in `value` (nested dicts and lists), with the field path it sits at."""
    if isinstance(value, str):
        for match in REFERENCE.finditer(value):
            yield field, parse_reference(match.group(1), field)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from find_references(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            yield from find_references(item, f"{field}[{index}]")


def resolve(
    value: Any,
    outputs: Mapping[str, Any],
    run_inputs: Mapping[str, Any],
    field: str,
    item: ItemScope | None = None,
) -> Any:
    """`value` with every reference replaced. A string that is exactly one reference becomes
    the referenced value itself (any JSON type); references inside longer strings are
    interpolated (non-strings as JSON). `$${` is a literal `${`. `item`: the map item that
    `${item}` and `${index}` stand for."""
    if isinstance(value, str):
        whole = REFERENCE.fullmatch(value)
        if whole is not None:
            return lookup(parse_reference(whole.group(1), field), outputs, run_inputs, field, item)
        replaced = REFERENCE.sub(
            lambda m: _as_text(
                lookup(parse_reference(m.group(1), field), outputs, run_inputs, field, item)
            ),
            value,
        )
        return replaced.replace("$${", "${")
    if isinstance(value, Mapping):
        return {k: resolve(v, outputs, run_inputs, f"{field}.{k}", item) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, outputs, run_inputs, f"{field}[{i}]", item) for i, v in enumerate(value)]
    return value


def lookup(
    reference: Reference,
    outputs: Mapping[str, Any],
    run_inputs: Mapping[str, Any],
    field: str,
    item: ItemScope | None = None,
) -> Any:
    """The value `reference` stands for (the `InvalidInputError` names `field` when there is
    none)."""
    if reference.per_item and item is None:
        raise InvalidInputError.for_field(
            field, f"${{{reference.text}}}", "${item} and ${index} are defined only in a map node"
        )
    if reference.kind == "node":
        assert reference.node is not None
        current: Any = outputs.get(reference.node)
        where = f"nodes.{reference.node}.output"
    elif reference.kind == "input":
        current = run_inputs
        where = "inputs"
    else:
        assert item is not None
        if reference.kind == "index":
            return item.index
        current, where = item.value, "item"
    for key in reference.path:
        if isinstance(current, Mapping) and key in current:
            current = current[key]
        elif isinstance(current, list) and key.isdigit() and int(key) < len(current):
            current = current[int(key)]
        else:
            raise InvalidInputError.for_field(
                field, f"${{{reference.text}}}", f"{where} has no {key!r}"
            )
        where = f"{where}.{key}"
    return current


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)
