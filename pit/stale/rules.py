"""The retention rule language: one pydantic model per rule, a rule being a one-key mapping.

A rule holds for a version that has reached what the rule names: `max_age: 30d` an age over
30 days, `idle_for: 7d` no read for 7 days, `min_access_count` at least `count` reads in the
window, `min_value` a score of at least the threshold, `max_total_size` a place beyond the quota
in the value ranking; `keep_last`, `keep_tagged` and `match` hold for what they cover. `all`,
`any` and `not` compose them, so "old and read fewer than 3 times" is
`{all: [{max_age: 30d}, {not: {min_access_count: {count: 3, window: 30d}}}]}`.
Models only describe; `pit.stale.compile` turns a tree into fast functions.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from pit.common.validation import ByteSize, Duration, format_duration
from pit.stale.facts import MetaValue


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccessCount(_Strict):
    count: int = Field(ge=1)
    window: Duration


class Quota(_Strict):
    size: ByteSize
    scope: Literal["all", "artifact"] = "all"
    """`all`: one quota over every version evaluated; `artifact`: one quota per artifact."""


class Selector(_Strict):
    name: str | None = None
    """A glob over the artifact name (`models/*`)."""
    media_type: str | None = None
    """A glob over the media type (`image/*`)."""
    metadata: dict[str, MetaValue] | None = None
    """Every key must be present with exactly this value."""

    @model_validator(mode="after")
    def _not_empty(self) -> Selector:
        if self.name is None and self.media_type is None and not self.metadata:
            raise ValueError("give at least one of name, media_type, metadata")
        return self


class MaxAge(_Strict):
    max_age: Duration


class IdleFor(_Strict):
    idle_for: Duration


class MinAccessCount(_Strict):
    min_access_count: AccessCount


class KeepLast(_Strict):
    keep_last: int = Field(ge=1)


class KeepTagged(_Strict):
    keep_tagged: tuple[str, ...] = Field(min_length=1)


class MaxTotalSize(_Strict):
    max_total_size: Quota

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        # `max_total_size: 100GB` is `max_total_size: {size: 100GB}`
        if isinstance(data, dict) and isinstance(data.get("max_total_size"), str | int):
            return {"max_total_size": {"size": data["max_total_size"]}}
        return data


class MinValue(_Strict):
    min_value: float = Field(allow_inf_nan=False)


class Match(_Strict):
    match: Selector


class AllOf(_Strict):
    all: tuple[Rule, ...] = Field(min_length=1)


class AnyOf(_Strict):
    any: tuple[Rule, ...] = Field(min_length=1)


class Not(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    not_: Rule = Field(alias="not")


RULE_TYPES: dict[str, type[_Strict]] = {
    "max_age": MaxAge,
    "idle_for": IdleFor,
    "min_access_count": MinAccessCount,
    "keep_last": KeepLast,
    "keep_tagged": KeepTagged,
    "max_total_size": MaxTotalSize,
    "min_value": MinValue,
    "match": Match,
    "all": AllOf,
    "any": AnyOf,
    "not": Not,
}
_TAG_OF: dict[type[_Strict], str] = {cls: tag for tag, cls in RULE_TYPES.items()}
UNKNOWN_RULE = "unknown_rule"


def _rule_tag(value: Any) -> str | None:
    if isinstance(value, dict):
        return next(iter(value)) if len(value) == 1 else None
    return _TAG_OF.get(type(value))


Rule = Annotated[
    Annotated[MaxAge, Tag("max_age")]
    | Annotated[IdleFor, Tag("idle_for")]
    | Annotated[MinAccessCount, Tag("min_access_count")]
    | Annotated[KeepLast, Tag("keep_last")]
    | Annotated[KeepTagged, Tag("keep_tagged")]
    | Annotated[MaxTotalSize, Tag("max_total_size")]
    | Annotated[MinValue, Tag("min_value")]
    | Annotated[Match, Tag("match")]
    | Annotated[AllOf, Tag("all")]
    | Annotated[AnyOf, Tag("any")]
    | Annotated[Not, Tag("not")],
    Discriminator(
        _rule_tag,
        custom_error_type=UNKNOWN_RULE,
        custom_error_message="not a rule",
    ),
]
"""Any rule: a mapping with exactly one key, the rule's name."""

AllOf.model_rebuild()
AnyOf.model_rebuild()
Not.model_rebuild()


def rule_tag(rule: Rule) -> str:
    """The rule's key in the file (`max_age`, `all`, ...)."""
    return _TAG_OF[type(rule)]


def describe(rule: Rule) -> str:
    """A short, readable form of a rule tree, as reasons show it."""
    match rule:
        case MaxAge(max_age=age):
            return f"max_age {format_duration(age)}"
        case IdleFor(idle_for=idle):
            return f"idle_for {format_duration(idle)}"
        case MinAccessCount(min_access_count=spec):
            return f"min_access_count {spec.count} in {format_duration(spec.window)}"
        case KeepLast(keep_last=count):
            return f"keep_last {count}"
        case KeepTagged(keep_tagged=tags):
            return f"keep_tagged [{', '.join(tags)}]"
        case MaxTotalSize(max_total_size=quota):
            scope = "" if quota.scope == "all" else " per artifact"
            return f"max_total_size {_size(quota.size)}{scope}"
        case MinValue(min_value=threshold):
            return f"min_value {threshold:g}"
        case Match(match=selector):
            parts = [f"name={selector.name}"] if selector.name is not None else []
            if selector.media_type is not None:
                parts.append(f"media_type={selector.media_type}")
            parts += [f"{k}={v}" for k, v in sorted((selector.metadata or {}).items())]
            return f"match {' '.join(parts)}"
        case AllOf(all=children):
            return f"all({', '.join(describe(child) for child in children)})"
        case AnyOf(any=children):
            return f"any({', '.join(describe(child) for child in children)})"
        case Not(not_=child):
            return f"not {describe(child)}"
    raise AssertionError(f"unhandled rule {rule!r}")  # pragma: no cover


def _size(size: int) -> str:
    for unit, scale in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("KB", 1000)):
        if size >= scale:
            return f"{size / scale:g}{unit}"
    return f"{size}B"


def walk(rule: Rule) -> list[Rule]:
    """Every rule of a tree, parents before children."""
    found: list[Rule] = [rule]
    if isinstance(rule, AllOf | AnyOf):
        for child in rule.all if isinstance(rule, AllOf) else rule.any:
            found += walk(child)
    elif isinstance(rule, Not):
        found += walk(rule.not_)
    return found
