"""The command line's little languages: `--meta k=v` values and `--filter` conditions.

--meta k=v       v is true/false, an integer, a decimal, or else a string;
                 "quoted" is always a string ("42" stays text)
--filter k OP v  OP is = != > >= < <= or ^= (prefix); k is name, media_type, tag,
                 size, version, created_at (ISO-8601 time), or a metadata key
                 (meta.k or plain k)
"""

from __future__ import annotations

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


def parse_scalar(text: str) -> MetaValue:
    """true/false, an int, a float, or a string; "quoted" text is always a string."""
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def parse_meta(item: str, field: str = "--meta") -> tuple[str, MetaValue]:
    key, sep, value = item.partition("=")
    if not sep:
        raise InvalidInputError.for_field(field, item, "metadata is KEY=VALUE")
    return check_meta_key(key.strip(), field), parse_scalar(value.strip())


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
        key, value = f"meta.{key}", parse_scalar(raw)
    try:
        return Filter(field=key, op=op, value=value)
    except pydantic.ValidationError:
        raise InvalidInputError.for_field(field, item, FILTER_RULE) from None


def _fixed_value(key: str, raw: str, item: str, field: str) -> MetaValue | datetime:
    if key in ("size", "version"):
        if not _INT.fullmatch(raw):
            raise InvalidInputError.for_field(field, item, f"{key} is a whole number")
        return int(raw)
    if key == "created_at":
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            rule = "created_at is an ISO-8601 time such as 2026-01-31T12:00:00+00:00"
            raise InvalidInputError.for_field(field, item, rule) from None
    return raw
