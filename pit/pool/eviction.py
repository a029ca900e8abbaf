"""Which idle model to unload when memory is needed: LRU, or Greedy-Dual-Size-Frequency.

GDSF (Cherkasova 1998; FaaSCache, ASPLOS 2021, for warm functions) keeps the models whose
reload is expensive per byte and that are used often. A model's priority is

    H = L + F * C / S

with F its acquisitions since it was loaded, C what a reload costs (its `load_seconds`, plus
one second every cold start pays whatever the model), S its size in GiB, and L the pool's
inflation value when it was last acquired. The lowest H goes first and L rises to the H of
each evicted model, so a model nobody acquires any more ages out however often it was used.

`PredictiveGDSF` adds what the predictor knows (see `Forecaster`): a model whose next use is
confidently far away goes first (the furthest first, as Belady would), one expected soon goes
last, and the rest are ranked by GDSF.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from pit.pool.entry import PoolEntry
from pit.pool.spec import ModelSpec


class Inflating(Protocol):
    """What GDSF ages on an eviction: the pool's running inflation value L."""

    inflation: float


GIB = float(1024**3)
COLD_START_SECONDS = 1.0
"""What every cold start costs beyond loading: the request's own round trips."""


def reload_cost(spec: ModelSpec) -> float:
    return spec.load_seconds + COLD_START_SECONDS


def gdsf_priority(entry: PoolEntry) -> float:
    return entry.credit + entry.uses * reload_cost(entry.spec) / max(entry.memory / GIB, 1e-9)


class EvictionPolicy(Protocol):
    name: str

    def rank(self, candidates: Sequence[PoolEntry], now: float) -> list[PoolEntry]:
        """`candidates` (idle hot models, least recently used first), least worth keeping
        first."""
        ...

    def evicted(self, pool: Inflating, entry: PoolEntry) -> None:
        """`entry` is being unloaded to make room."""
        ...


class LRU:
    name = "lru"

    def rank(self, candidates: Sequence[PoolEntry], now: float) -> list[PoolEntry]:
        return list(candidates)

    def evicted(self, pool: Inflating, entry: PoolEntry) -> None:
        return None


class GDSF:
    name = "gdsf"

    def rank(self, candidates: Sequence[PoolEntry], now: float) -> list[PoolEntry]:
        # sorted() is stable: among equal priorities the least recently used goes first
        return sorted(candidates, key=gdsf_priority)

    def evicted(self, pool: Inflating, entry: PoolEntry) -> None:
        pool.inflation = max(pool.inflation, gdsf_priority(entry))


class Forecaster(Protocol):
    def next_use(self, model_id: str, now: float) -> float | None:
        """Seconds until the model's next use when the predictor is confident of it (may be
        `inf`: not before it would be warmed again), None when it does not know."""
        ...

    def soon(self, model_id: str) -> float:
        """A next use closer than this many seconds is too close to unload the model."""
        ...


class PredictiveGDSF(GDSF):
    name = "predictive"

    def __init__(self, forecaster: Forecaster) -> None:
        self.forecaster = forecaster

    def rank(self, candidates: Sequence[PoolEntry], now: float) -> list[PoolEntry]:
        far: list[tuple[float, PoolEntry]] = []
        unknown: list[PoolEntry] = []
        soon: list[tuple[float, PoolEntry]] = []
        for entry in candidates:
            next_use = self.forecaster.next_use(entry.model_id, now)
            if next_use is None:
                unknown.append(entry)
            elif next_use > self.forecaster.soon(entry.model_id):
                far.append((next_use, entry))
            else:
                soon.append((next_use, entry))
        far.sort(key=lambda item: -item[0])
        soon.sort(key=lambda item: -item[0])
        ranked = [entry for _, entry in far]
        ranked += sorted(unknown, key=gdsf_priority)
        ranked += [entry for _, entry in soon]
        return ranked


POLICIES: dict[str, type[LRU] | type[GDSF]] = {"lru": LRU, "gdsf": GDSF}
