"""The value score of a version: recency, frequency, quality, minus size cost; explainable.

    score = w_recency   * 0.5 ** (idle / half_life)                    (0..1)
          + w_frequency * min(1, log1p(reads) / log1p(saturation))       (0..1)
          + w_quality   * clamp(metadata[quality_key], 0, 1)             (0..1, default if absent)
          - w_size      * min(1, log1p(size) / log1p(size_ceiling))      (0..1)

`idle` is the time since the last read, or since creation for a never-read version. Pure float
arithmetic in a fixed order: the same facts, config and `now` give the same score bit for bit.
Rankings sort by score descending, then name ascending, then version descending.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator

from pit.common.validation import ByteSize, Duration
from pit.stale.facts import VersionFacts


class ScoreWeights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    recency: float = Field(default=0.4, ge=0, allow_inf_nan=False)
    frequency: float = Field(default=0.3, ge=0, allow_inf_nan=False)
    quality: float = Field(default=0.2, ge=0, allow_inf_nan=False)
    size: float = Field(default=0.1, ge=0, allow_inf_nan=False)


class ScoreConfig(BaseModel):
    """How a score is made; the `score:` section of a policy file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    half_life: Duration = timedelta(days=14)
    weights: ScoreWeights = ScoreWeights()
    quality_key: str = "quality"
    quality_default: float = Field(default=0.5, ge=0, le=1)
    frequency_saturation: int = Field(default=1000, ge=1)
    """Reads at which the frequency component reaches 1."""
    size_ceiling: ByteSize = Field(default=100 * 1024**3, ge=1)
    """Size at which the size cost reaches 1."""

    @field_validator("half_life")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be > 0")
        return value


@dataclass(frozen=True)
class Component:
    name: str
    raw: float
    """The input: idle seconds, reads, quality, bytes."""
    value: float
    """The component in 0..1."""
    weight: float
    contribution: float
    """`value * weight`, negative for the size cost."""


@dataclass(frozen=True)
class ScoreExplanation:
    name: str
    version: int
    score: float
    components: tuple[Component, ...]

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "version": self.version,
            "score": self.score,
            "components": [vars(component) for component in self.components],
        }


class Scorer:
    """Scores versions under one `ScoreConfig`; `score_columns` is the fast path."""

    def __init__(self, config: ScoreConfig | None = None) -> None:
        self.config = config if config is not None else ScoreConfig()
        weights = self.config.weights
        self._half_life = self.config.half_life.total_seconds()
        self._w = (weights.recency, weights.frequency, weights.quality, weights.size)
        self._log_saturation = math.log1p(self.config.frequency_saturation)
        self._log_ceiling = math.log1p(self.config.size_ceiling)

    def score(self, facts: VersionFacts, now: datetime) -> float:
        return self.explain(facts, now).score

    def explain(self, facts: VersionFacts, now: datetime) -> ScoreExplanation:
        """Each component, its weight and its contribution to the score."""
        idle = self._idle(facts, now.timestamp())
        quality = self._quality(facts)
        recency, frequency, quality_value, size_cost = self._components(
            idle, facts.access_count, quality, facts.size
        )
        w_recency, w_frequency, w_quality, w_size = self._w
        components = (
            Component("recency", idle, recency, w_recency, w_recency * recency),
            Component(
                "frequency", facts.access_count, frequency, w_frequency, w_frequency * frequency
            ),
            Component("quality", quality, quality_value, w_quality, w_quality * quality_value),
            Component("size", facts.size, size_cost, w_size, -w_size * size_cost),
        )
        total = self._total(recency, frequency, quality_value, size_cost)
        return ScoreExplanation(facts.name, facts.version, total, components)

    def score_many(self, facts: Iterable[VersionFacts], now: datetime) -> list[float]:
        stamp = now.timestamp()
        return [
            self._total(
                *self._components(
                    self._idle(fact, stamp), fact.access_count, self._quality(fact), fact.size
                )
            )
            for fact in facts
        ]

    def score_columns(
        self,
        idle_seconds: list[float],
        reads: list[int],
        quality: list[float],
        sizes: list[int],
    ) -> list[float]:
        """Scores from prepared columns (see `pit.stale.columns`), no per-version objects."""
        total = self._total
        components = self._components
        return [
            total(*components(idle, count, q, size))
            for idle, count, q, size in zip(idle_seconds, reads, quality, sizes, strict=True)
        ]

    def quality_of(self, metadata: dict[str, object]) -> float:
        value = metadata.get(self.config.quality_key)
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            return self.config.quality_default
        return float(value)

    def _quality(self, facts: VersionFacts) -> float:
        return self.quality_of(facts.metadata)  # type: ignore[arg-type]

    @staticmethod
    def _idle(facts: VersionFacts, now: float) -> float:
        seen = facts.last_access if facts.last_access is not None else facts.created_at
        return max(0.0, now - seen.timestamp())

    def _components(
        self, idle: float, reads: int, quality: float, size: int
    ) -> tuple[float, float, float, float]:
        recency = 0.5 ** (max(0.0, idle) / self._half_life)
        frequency = min(1.0, math.log1p(max(0, reads)) / self._log_saturation)
        quality_value = min(1.0, max(0.0, quality))
        size_cost = min(1.0, math.log1p(max(0, size)) / self._log_ceiling)
        return recency, frequency, quality_value, size_cost

    def _total(self, recency: float, frequency: float, quality: float, size_cost: float) -> float:
        w_recency, w_frequency, w_quality, w_size = self._w
        return (
            w_recency * recency + w_frequency * frequency + w_quality * quality - w_size * size_cost
        )


def ranking_key(score: float, name: str, version: int) -> tuple[float, str, int]:
    """Sort key of a ranking: best score first, then name, then newest version first."""
    return (-score, name, -version)
