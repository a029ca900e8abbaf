"""Pre-validation helpers: names, sizes and durations, checked before anything runs.

Each parser raises `InvalidInputError` naming the field, the value and the rule, and each
has a pydantic type (`Duration`, `ByteSize`) so files and settings get the same rules.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated

from pydantic import BeforeValidator, Field, PlainSerializer

from pit.common.errors import InvalidInputError

_DURATION_UNITS: dict[str, float] = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION_RULE = "a duration such as 250ms, 30s, 5m, 1h30m, 7d (units ms s m h d w) or seconds"

MAX_SECONDS = 36_500 * 86_400
"""The longest duration, and the largest time in seconds a file may give (100 years: 36500d).
Longer ones overflow Python's timedelta and datetime, and Temporal's durations (Go's
time.Duration ends at 292 years)."""
_RANGE_RULE = "must be between 0s and 36500d (100 years)"

_SIZE_UNITS: dict[str, int] = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)")
_SIZE_RULE = "a size such as 512, 64KiB, 8GiB or 1.5GB (units B KB MB GB TB KiB MiB GiB TiB)"

MAX_SIZE = 2**63 - 1
"""The largest size (8 EiB less a byte): what a signed 64-bit field on the wire can hold."""

_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
NAME_RULE = "1 to 64 characters from A-Z a-z 0-9 _ -"


def parse_duration(value: object, field: str = "duration") -> timedelta:
    """A non-negative duration from "30s", "5m", "1h30m", "250ms", a number of seconds or a
    timedelta."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, bool):
        raise InvalidInputError.for_field(field, value, _DURATION_RULE)
    elif isinstance(value, int) and abs(value) > MAX_SECONDS:
        raise InvalidInputError.for_field(field, value, _RANGE_RULE)
    elif isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _duration_seconds(value.strip().lower(), field)
    else:
        raise InvalidInputError.for_field(field, value, _DURATION_RULE)
    if not math.isfinite(seconds):
        raise InvalidInputError.for_field(field, value, "must be a finite duration >= 0")
    if not 0 <= seconds <= MAX_SECONDS:
        raise InvalidInputError.for_field(field, value, _RANGE_RULE)
    return timedelta(seconds=seconds)


def _duration_seconds(text: str, field: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        position = match.end()
    if position == 0 or position != len(text):
        raise InvalidInputError.for_field(field, text, _DURATION_RULE)
    return total


def format_duration(value: timedelta) -> str:
    """The shortest of our own notation that parses back to the same value (to the ms)."""
    millis = round(value.total_seconds() * 1000)
    if millis == 0:
        return "0s"
    parts: list[str] = []
    for unit, size in (("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1000)):
        count, millis = divmod(millis, size)
        if count:
            parts.append(f"{count}{unit}")
    if millis:
        parts.append(f"{millis}ms")
    return "".join(parts)


def parse_size(value: object, field: str = "size") -> int:
    """A whole number of bytes from 512, "64KiB", "8GiB" or "1.5GB"."""
    if isinstance(value, bool):
        raise InvalidInputError.for_field(field, value, _SIZE_RULE)
    if isinstance(value, int):
        size = value
    elif isinstance(value, float) and value.is_integer():
        size = int(value)
    elif isinstance(value, str):
        match = _SIZE.fullmatch(value.strip().lower())
        if match is None or match.group(2) not in _SIZE_UNITS:
            raise InvalidInputError.for_field(field, value, _SIZE_RULE)
        amount = float(match.group(1)) * _SIZE_UNITS[match.group(2)]
        if not amount <= MAX_SIZE:  # also inf, from a number too long for a float
            raise InvalidInputError.for_field(field, value, _SIZE_RANGE_RULE)
        size = int(amount)
    else:
        raise InvalidInputError.for_field(field, value, _SIZE_RULE)
    if size < 0:
        raise InvalidInputError.for_field(field, value, "must be >= 0 bytes")
    if size > MAX_SIZE:
        raise InvalidInputError.for_field(field, value, _SIZE_RANGE_RULE)
    return size


_SIZE_RANGE_RULE = f"must be at most {MAX_SIZE} bytes (8 EiB)"


def check_name(value: str, field: str = "name") -> str:
    """An identifier: node ids, model ids, tenant names."""
    if not isinstance(value, str) or _NAME.fullmatch(value) is None:
        raise InvalidInputError.for_field(field, value, NAME_RULE)
    return value


def _pydantic_duration(value: object) -> timedelta:
    try:
        return parse_duration(value)
    except InvalidInputError as error:
        # pydantic adds the field's location; the rule is what it needs from us
        raise ValueError(error.details["rule"]) from None


def _pydantic_size(value: object) -> int:
    try:
        return parse_size(value)
    except InvalidInputError as error:
        raise ValueError(error.details["rule"]) from None


Duration = Annotated[
    timedelta,
    BeforeValidator(_pydantic_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
]
"""A pydantic field type: accepts "30s", "5m", seconds; serialises back to "30s"."""

ByteSize = Annotated[int, BeforeValidator(_pydantic_size)]
"""A pydantic field type: accepts 512, "64KiB", "8GiB"; holds a whole number of bytes."""

Seconds = Annotated[float, Field(ge=0, le=MAX_SECONDS, allow_inf_nan=False)]
"""A pydantic field type: a time or a length of time in seconds, 0 to 100 years."""


EARLIEST_NOW = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_NOW = datetime(3000, 1, 1, tzinfo=UTC)
"""A given "now" must lie in [1970, 3000): far enough from datetime's ends that every window
and grace period (at most 100 years) can be added or taken away."""


def parse_now(text: str | None, field: str = "--now") -> datetime:
    """An ISO 8601 time (no zone: UTC) standing for "now"; None means the current time."""
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
        moment = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
        in_range = EARLIEST_NOW <= moment.astimezone(UTC) < LATEST_NOW
    except (ValueError, OverflowError):
        raise InvalidInputError.for_field(
            field, text, "an ISO 8601 time such as 2026-07-01T00:00:00Z"
        ) from None
    if not in_range:
        raise InvalidInputError.for_field(field, text, "must be from 1970 to 2999")
    return moment
