"""The command line's little languages: `--meta k=v` values and `--filter` conditions.

--meta k=v       v is true/false, an integer (64-bit), a finite decimal, or else a
                 string; "quoted" is always a string ("42" stays text)
--filter k OP v  OP is = != > >= < <= or ^= (prefix); k is name, media_type, tag,
                 size, version, created_at (ISO-8601 time), or a metadata key
                 (meta.k or plain k)
"""

from __future__ import annotations

import math
import re
from datetime import datetime

import pydantic

from pit.artifacts.index_port import Filter, MetaValue
from pit.artifacts.names import check_meta_key
from pit.common.errors import InvalidInputError

_OPS = {"=": "eq", "!=": "ne", ">": "gt", ">=": "gte", "<": "lt", "<=": "lte", "^=": "prefix"}
_FILTER = re.compile(r"\s*([A-Za-z0-9_.-]+)\s*(!=|>=|<=|\^=|=|>|<)\s*(.*)", re.DOTALL)
FILTER_RULE = "a filter is KEY OP VALUE with OP one of = != > >= < <= ^= (e.g. size>=1000)"
_FIXED = {"name", "media_type", "tag", "size", "version", "created_at"}
_INT = re.compile(r"[-+]?\d+")
_FLOAT = re.compile(r"[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?")
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
"""Integers in metadata and filters are 64-bit, as both indexes store them."""
INT_RULE = 'an integer is between -2**63 and 2**63-1 (quote it, "...", to keep it as text)'
FLOAT_RULE = 'a decimal must be finite (quote it, "...", to keep it as text)'


def parse_scalar(text: str, field: str = "value") -> MetaValue:
    """true/false, an int, a float, or a string; "quoted" text is always a string. An
    integer beyond 64 bits or a decimal that overflows is an InvalidInputError naming
    `field`."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return parse_int(text, field)
    if _FLOAT.fullmatch(text):
        number = float(text)
        if not math.isfinite(number):
            raise InvalidInputError.for_field(field, text, FLOAT_RULE)
        return number
    return text


def parse_int(text: str, field: str) -> int:
    """A 64-bit integer; the digits are counted before `int()` reads them (Python refuses
    more than 4,300 of them, with an error of its own)."""
    if len(text.lstrip("+-").lstrip("0")) > 19:
        raise InvalidInputError.for_field(field, text, INT_RULE)
    number = int(text)
    if not INT_MIN <= number <= INT_MAX:
        raise InvalidInputError.for_field(field, text, INT_RULE)
    return number


def parse_meta(item: str, field: str = "--meta") -> tuple[str, MetaValue]:
    key, sep, value = item.partition("=")
    if not sep:
        raise InvalidInputError.for_field(field, item, "metadata is KEY=VALUE")
    key = check_meta_key(key.strip(), field)
    return key, parse_scalar(value.strip(), f"{field} {key}")


def parse_filter(item: str, field: str = "--filter") -> Filter:
    match = _FILTER.fullmatch(item)
    if match is None:
        raise InvalidInputError.for_field(field, item, FILTER_RULE)
    key, op, raw = match.group(1), _OPS[match.group(2)], match.group(3).strip()
    value: MetaValue | datetime
    if key in _FIXED:
        value = _fixed_value(key, raw, item, field)
    else:
        key = key.removeprefix("meta.")
        check_meta_key(key, field)
        key, value = f"meta.{key}", parse_scalar(raw, field)
    try:
        return Filter(field=key, op=op, value=value)
    except pydantic.ValidationError:
        raise InvalidInputError.for_field(field, item, FILTER_RULE) from None


def _fixed_value(key: str, raw: str, item: str, field: str) -> MetaValue | datetime:
    if key in ("size", "version"):
        if not _INT.fullmatch(raw):
            raise InvalidInputError.for_field(field, item, f"{key} is a whole number")
        return parse_int(raw, field)
    if key == "created_at":
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            rule = "created_at is an ISO-8601 time such as 2026-01-31T12:00:00+00:00"
            raise InvalidInputError.for_field(field, item, rule) from None
    return raw
