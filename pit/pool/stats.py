"""Counters the pool keeps, and what one model looks like in `status`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass
class PoolStats:
    requests: int = 0
    hits: int = 0
    cold_starts: int = 0
    loads: int = 0
    wakes: int = 0
    load_failures: int = 0
    evictions: int = 0
    failures: int = 0
    prewarms: int = 0
    prewarms_used: int = 0
    wasted_prewarm_memory_seconds: float = 0.0
    peak_memory_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelStatus:
    """One model as `pit pool status` shows it; `since_ms` is on the monotonic clock."""

    id: str
    state: str
    memory_bytes: int
    since_ms: int | None
    hits: int
    leases: int
    cold_starts: int = 0
    asleep: bool = False
    """In the cooling tier: `memory_bytes` are then held on the host, not the accelerator."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
