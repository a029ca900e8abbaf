"""The simulator's inputs: a models file (YAML) and a trace (JSON lines), checked line by line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pydantic
from pydantic import BaseModel, ConfigDict, Field

from pit.common.errors import InvalidInputError
from pit.common.files import MAX_TRACE_BYTES, parse_json, read_structured, read_text
from pit.common.validation import Seconds
from pit.pool.spec import ModelSpec


class TraceEvent(BaseModel):
    """One acquisition: at `t` seconds, `model` is used for `hold` seconds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    t: Seconds
    model: str
    session: str | None = None
    hold: Seconds = 0.0


class _ModelsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    models: list[ModelSpec] = Field(min_length=1)


def _first_error(where: str, error: pydantic.ValidationError) -> InvalidInputError:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"])
    field = f"{where}: {location}" if location else where
    rule = "unknown field" if first["type"] == "extra_forbidden" else first["msg"]
    rule = rule.removeprefix("Value error, ")
    return InvalidInputError.for_field(field, first.get("input"), rule)


def parse_models(data: Any, where: str = "models") -> tuple[ModelSpec, ...]:
    """A list of models, or a mapping with a `models` list."""
    document = {"models": data} if isinstance(data, list) else data
    if not isinstance(document, dict):
        raise InvalidInputError.for_field(where, data, "must be a list of models")
    try:
        models = _ModelsFile.model_validate(document).models
    except pydantic.ValidationError as error:
        raise _first_error(where, error) from None
    seen: set[str] = set()
    for index, model in enumerate(models):
        if model.id in seen:
            raise InvalidInputError.for_field(f"{where}: models.{index}.id", model.id, "duplicate")
        seen.add(model.id)
    return tuple(models)


def read_models(path: Path, field: str = "--models") -> tuple[ModelSpec, ...]:
    return parse_models(read_structured(path, field), str(path))


def parse_trace(lines: list[str], known: set[str], where: str = "trace") -> list[TraceEvent]:
    """Events in order; each line a JSON object, `t` never decreasing, `model` declared."""
    events: list[TraceEvent] = []
    previous = 0.0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        at = f"{where}:{number}"
        try:
            event = TraceEvent.model_validate(parse_json(line, at))
        except pydantic.ValidationError as error:
            raise _first_error(at, error) from None
        if event.model not in known:
            raise InvalidInputError.for_field(f"{at}: model", event.model, "not in the models file")
        if event.t < previous:
            raise InvalidInputError.for_field(f"{at}: t", event.t, f"must be >= {previous}")
        previous = event.t
        events.append(event)
    if not events:
        raise InvalidInputError.for_field(where, "", "must hold at least one event")
    return events


def read_trace(path: Path, known: set[str]) -> list[TraceEvent]:
    text = read_text(path, "--trace", MAX_TRACE_BYTES)
    return parse_trace(text.splitlines(), known, str(path))
