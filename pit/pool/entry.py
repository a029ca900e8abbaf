"""One model's place in the pool: its state, handle, leases and what eviction weighs."""

from __future__ import annotations

import asyncio

from pit.pool.loader import ModelLoader, SleepingLoader, sleeping_loader
from pit.pool.spec import ModelSpec
from pit.pool.states import StateRecord


class PoolEntry:
    """Mutable bookkeeping of one declared model; only the pool writes it."""

    __slots__ = (
        "asleep",
        "cold_starts",
        "cooling",
        "credit",
        "handle",
        "hits",
        "leases",
        "loader",
        "loading",
        "memory",
        "prewarmed_at",
        "record",
        "sleeper",
        "spec",
        "uses",
        "waiters",
    )

    def __init__(self, spec: ModelSpec, loader: ModelLoader, now: float) -> None:
        self.spec = spec
        self.loader = loader
        self.sleeper: SleepingLoader | None = sleeping_loader(loader)
        """The loader again when its runtime can put the model to sleep (a cooling tier)."""
        self.record = StateRecord(spec.id, now)
        self.handle: object | None = None
        self.leases = 0
        self.waiters = 0
        self.hits = 0
        self.cold_starts = 0
        """Acquisitions that found the model not hot and waited for it."""
        self.loading: asyncio.Task[None] | None = None
        self.cooling: asyncio.Task[None] | None = None
        self.prewarmed_at: float | None = None
        self.memory = spec.memory_bytes
        """Bytes reserved while resident: the models file's figure until the runtime reports
        its own, then the last one it reported."""
        self.uses = 0
        """Acquisitions since it was last loaded: the F of Greedy-Dual-Size-Frequency."""
        self.credit = 0.0
        """The pool's inflation value at the last acquisition: the L of GDSF."""
        self.asleep = False
        """Cooling tier: the runtime keeps the model in host memory, off the accelerator."""

    @property
    def model_id(self) -> str:
        return self.spec.id

    @property
    def idle(self) -> bool:
        return self.leases == 0 and self.waiters == 0
