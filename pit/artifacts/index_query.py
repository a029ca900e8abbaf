"""Query semantics both index adapters share: user text to terms, filters checked and typed.

Both the SQLite and the OpenSearch adapter translate the same `ParsedQuery`, so a query
means the same thing on either backend:

- text: words and "quoted phrases"; every term must match (AND). Operators such as
  `OR`, `NOT`, `*` or stray quotes are not syntax: they are searched for as plain words.
  A query with no letter or digit at all is an `InvalidInputError` naming `query`.
- filters: each field accepts only the ops listed in `FIELD_OPS`; `ne` means "not eq", so it
  also holds for documents that lack the field (a metadata key they do not have).
- times are compared as UTC instants; a naive datetime is taken as UTC.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pit.artifacts.index_port import Filter, MetaValue, SearchQuery
from pit.common.errors import InvalidInputError

Op = Literal["eq", "ne", "gt", "gte", "lt", "lte", "prefix"]
RANGE_OPS: frozenset[str] = frozenset({"gt", "gte", "lt", "lte"})
_ORDERED = frozenset({"eq", "ne", "gt", "gte", "lt", "lte"})

FIELD_OPS: dict[str, frozenset[str]] = {
    "name": frozenset({"eq", "ne", "prefix"}),
    "media_type": frozenset({"eq", "ne", "prefix"}),
    "tag": frozenset({"eq", "ne"}),
    "size": _ORDERED,
    "version": _ORDERED,
    "created_at": _ORDERED,
}
"""Ops each fixed field accepts; `meta.<key>` accepts every op its value type allows."""

_TERM = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)
SNIPPET_TOKENS = 16
"""About how many words a snippet shows around the match."""


@dataclass(frozen=True, slots=True)
class TextTerm:
    """One term of the text query: a single word or a phrase of several, in order."""

    words: tuple[str, ...]

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1


@dataclass(frozen=True, slots=True)
class FieldFilter:
    """A fixed-field filter with its value in the backend-neutral typed form."""

    field: str
    op: Op
    value: str | int | float
    """Strings for name/media_type/tag, ints for size/version, epoch microseconds for times."""


@dataclass(frozen=True, slots=True)
class MetaFilter:
    """A filter on `meta.<key>`; `column` says which typed slot of the value it compares."""

    key: str
    op: Op
    column: Literal["s", "n", "b", "t"]
    """s: string, n: number, b: boolean, t: time (epoch microseconds)."""
    value: str | int | float | bool


@dataclass(frozen=True, slots=True)
class ParsedQuery:
    terms: tuple[TextTerm, ...]
    filters: tuple[FieldFilter | MetaFilter, ...]
    limit: int
    latest_only: bool


def parse_query(query: SearchQuery) -> ParsedQuery:
    """Check and normalise a query once, for any backend; raise InvalidInputError on misuse."""
    return ParsedQuery(
        terms=parse_text(query.text),
        filters=tuple(parse_filter(item) for item in query.filters),
        limit=query.limit,
        latest_only=query.latest_only,
    )


def parse_text(text: str) -> tuple[TextTerm, ...]:
    """Split user text into words and phrases; punctuation never acts as syntax."""
    if not text.strip():
        return ()
    terms: list[TextTerm] = []
    for match in _TERM.finditer(text):
        raw = match.group(1) if match.group(1) is not None else match.group(2)
        words = tuple(word.lower() for word in _WORD.findall(raw))
        if words and TextTerm(words) not in terms:
            terms.append(TextTerm(words))
    if not terms:
        raise InvalidInputError.for_field("query", text, "needs at least one word or number")
    return tuple(terms)


def parse_filter(item: Filter) -> FieldFilter | MetaFilter:
    """Type one filter for its field, or raise InvalidInputError naming the filter."""
    label = f"filter {item.field}"
    if item.field.startswith("meta."):
        key = item.field[len("meta.") :]
        if not key:
            raise InvalidInputError.for_field(label, item.field, "needs a key after 'meta.'")
        return _meta_filter(label, key, item.op, item.value)
    allowed = FIELD_OPS.get(item.field)
    if allowed is None:
        rule = "field must be one of " + ", ".join([*FIELD_OPS, "meta.<key>"])
        raise InvalidInputError.for_field("filter", item.field, rule)
    if item.op not in allowed:
        rule = f"op must be one of {', '.join(sorted(allowed))}"
        raise InvalidInputError.for_field(label, item.op, rule)
    value = item.value
    if item.field == "created_at":
        return FieldFilter(item.field, item.op, _time_value(label, value))
    if item.field in ("size", "version"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInputError.for_field(label, value, "must be a number")
        return FieldFilter(item.field, item.op, _finite(label, value))
    if not isinstance(value, str):
        raise InvalidInputError.for_field(label, value, "must be a string")
    return FieldFilter(item.field, item.op, value)


def _meta_filter(label: str, key: str, op: Op, value: MetaValue | datetime) -> MetaFilter:
    if isinstance(value, bool):
        if op not in ("eq", "ne"):
            raise InvalidInputError.for_field(label, op, "a boolean takes only eq or ne")
        return MetaFilter(key, op, "b", value)
    if isinstance(value, int | float):
        if op == "prefix":
            raise InvalidInputError.for_field(label, op, "prefix needs a string value")
        return MetaFilter(key, op, "n", _finite(label, value))
    if isinstance(value, datetime):
        if op == "prefix":
            raise InvalidInputError.for_field(label, op, "prefix needs a string value")
        return MetaFilter(key, op, "t", to_micros(value))
    if op in RANGE_OPS:
        moment = parse_iso_time(value)
        if moment is not None:
            return MetaFilter(key, op, "t", to_micros(moment))
    return MetaFilter(key, op, "s", value)


def _time_value(label: str, value: MetaValue | datetime) -> int:
    if isinstance(value, datetime):
        return to_micros(value)
    moment = parse_iso_time(value) if isinstance(value, str) else None
    if moment is None:
        raise InvalidInputError.for_field(label, value, "must be an ISO-8601 time")
    return to_micros(moment)


def _finite(label: str, value: int | float) -> int | float:
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidInputError.for_field(label, value, "must be a finite number")
    return value


def parse_iso_time(text: str) -> datetime | None:
    """The instant an ISO-8601 string names, or None when it is not one."""
    if len(text) < 10 or not text[:4].isdigit():
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch, UTC; a naive datetime counts as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(micros: int) -> datetime:
    """The UTC datetime for `micros` since the epoch."""
    return datetime.fromtimestamp(micros // 1_000_000, tz=UTC).replace(
        microsecond=micros % 1_000_000
    )


def meta_slots(value: MetaValue) -> tuple[str | None, float | None, bool | None, int | None]:
    """How one metadata value is stored: (string, number, boolean, time) slots."""
    if isinstance(value, bool):
        return None, None, value, None
    if isinstance(value, int | float):
        return None, float(value), None, None
    moment = parse_iso_time(value)
    return value, None, None, None if moment is None else to_micros(moment)
