"""A node's optional sections: its trigger rule, its cross-run cache and its approval gate."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pit.common.validation import Duration
from pit.dag.limits import MAX_CACHE_TTL_DAYS, MAX_PROMPT_CHARS

DEFAULT_APPROVAL_TIMEOUT = timedelta(days=7)


class Trigger(StrEnum):
    """When a node runs, from its parents' final states (docs/dag.md#triggers).

    A parent *passed* when it succeeded (also from the cache, by a fallback, or skipped after
    its own failure by `on_failure: skip`); it *was skipped* when its `when` was false or its
    own trigger skipped it; it *failed* when it failed or an upstream failure reached it.
    """

    ALL_SUCCEEDED = "all_succeeded"
    """Default. Runs when every parent passed. A failed parent makes it `upstream_failed`
    (at once); otherwise a skipped parent makes it `skipped` (once all parents finished)."""
    ANY_SUCCEEDED = "any_succeeded"
    """Runs once every parent finished, if at least one passed; else `upstream_failed` if one
    failed, else `skipped`."""
    ALL_DONE = "all_done"
    """Runs once every parent finished, whatever their states (cleanup, reports)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CacheSpec(_Strict):
    """`cache:` reuse this node's output across runs while its fingerprint is unchanged."""

    ttl: Duration
    """How long a stored output may be reused, counted from when it was stored, by the ttl
    the reading run's file gives."""
    key: tuple[str, ...] | None = None
    """Which of the node's inputs (top-level keys) count; None: all of them."""
    version: str = Field(default="", max_length=100)
    """Part of the fingerprint: change it to drop what is cached (new activity code)."""

    @field_validator("ttl")
    @classmethod
    def _ttl_range(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= timedelta(days=MAX_CACHE_TTL_DAYS):
            raise ValueError(f"must be more than 0s and at most {MAX_CACHE_TTL_DAYS}d")
        return value

    @field_validator("key")
    @classmethod
    def _keys_unique(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("names each input at most once")
        return value


class ApprovalSpec(_Strict):
    """`approval:` the node waits for a person's answer (`pit dag approve RUN NODE`)."""

    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    """Shown to the approver; `${...}` references are resolved when the node starts."""
    timeout: Duration = DEFAULT_APPROVAL_TIMEOUT
    """No answer by then: the node fails with `timeout`, and its `on_failure` applies."""

    @field_validator("timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be more than 0s")
        return value
