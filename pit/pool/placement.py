"""Where model-bound work runs across hosts: each host publishes its pool, placement picks one.

Pure and deterministic: the registry workflow calls `place` with `workflow.now()`; the same
hosts, assignments and time always give the same answer. Preference, best first:

1. a live host where the model is hot (fewest leases, then least load, then name);
2. a live host where it is warming;
3. the host an earlier placement chose to warm it (so concurrent asks load it once);
4. the host with the most memory for it: free, else free plus what it could evict
   (hot models no lease holds), then least load, then name.

A host is live while its last publication is younger than `MISSED_PUBLICATIONS` intervals;
one that stops publishing (or left) stops receiving work.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from pit.common.errors import CapacityError, NotFoundError

MISSED_PUBLICATIONS = 3
"""A host that missed this many publications in a row is considered gone."""

HOST_QUEUE_PREFIX = "pit-pool-"

Reason = Literal["hot", "warming", "assigned", "room", "evict", "busy"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HostModel(_Model):
    """One model on one host, as the host published it."""

    id: str
    state: str
    memory_bytes: int = Field(ge=0)
    since: float
    """Unix time (seconds) at which the model entered its state."""
    hits: int = Field(default=0, ge=0)
    leases: int = Field(default=0, ge=0)


class HostSnapshot(_Model):
    """A host's pool as published to the registry."""

    host: str
    queue: str
    budget_bytes: int = Field(ge=0)
    reserved_bytes: int = Field(ge=0)
    """Memory of its warming, hot and cooling models."""
    interval: float = Field(gt=0)
    """Seconds between its publications."""
    published_at: float = 0.0
    """Unix time of the publication (the registry's clock)."""
    models: tuple[HostModel, ...] = ()

    @property
    def expires_at(self) -> float:
        return self.published_at + MISSED_PUBLICATIONS * self.interval

    def alive(self, now: float) -> bool:
        return now < self.expires_at

    @property
    def load(self) -> int:
        """Leases held plus models loading: the work in progress on this host."""
        return sum(model.leases + (model.state == "warming") for model in self.models)

    @property
    def free_bytes(self) -> int:
        return max(0, self.budget_bytes - self.reserved_bytes)

    @property
    def evictable_bytes(self) -> int:
        return sum(m.memory_bytes for m in self.models if m.state == "hot" and m.leases == 0)

    def model(self, model_id: str) -> HostModel | None:
        return next((model for model in self.models if model.id == model_id), None)


class Assignment(_Model):
    """A placement that chose a host to warm a model, remembered until `until`."""

    host: str
    until: float


class Placement(_Model):
    model: str
    host: str
    queue: str
    reason: Reason


def host_queue(host: str) -> str:
    """The task queue a host's pool serves."""
    return f"{HOST_QUEUE_PREFIX}{host}"


def place(
    model_id: str,
    hosts: Iterable[HostSnapshot],
    now: float,
    assigned: Mapping[str, Assignment] | None = None,
    *,
    exclude: Iterable[str] = (),
) -> Placement:
    """The host `model_id`'s work should run on. Raises `NotFoundError` when no live host
    declares the model, `CapacityError` when it is larger than every such host's budget."""
    skip = set(exclude)
    candidates = [
        (host, model)
        for host in sorted(hosts, key=lambda h: h.host)
        if host.host not in skip and host.alive(now)
        for model in (host.model(model_id),)
        if model is not None
    ]
    if not candidates:
        raise NotFoundError(f"no live pool host serves model {model_id!r}", model=model_id)

    def chosen(host: HostSnapshot, reason: Reason) -> Placement:
        return Placement(model=model_id, host=host.host, queue=host.queue, reason=reason)

    for state in ("hot", "warming"):
        ready = [(h, m) for h, m in candidates if m.state == state]
        if ready:
            host, _ = min(ready, key=lambda hm: (hm[1].leases, hm[0].load, hm[0].host))
            return chosen(host, "hot" if state == "hot" else "warming")
    assignment = (assigned or {}).get(model_id)
    if assignment is not None and assignment.until > now:
        for host, _ in candidates:
            if host.host == assignment.host:
                return chosen(host, "assigned")
    fitting = [(h, m) for h, m in candidates if m.memory_bytes <= h.budget_bytes]
    if not fitting:
        largest = max(h.budget_bytes for h, _ in candidates)
        need = candidates[0][1].memory_bytes
        raise CapacityError(
            f"model {model_id!r} needs {need} bytes; the largest budget of a host serving it "
            f"is {largest} bytes",
            model=model_id,
        )
    roomy = [(h, m) for h, m in fitting if m.memory_bytes <= h.free_bytes]
    if roomy:
        host, _ = min(roomy, key=lambda hm: (-hm[0].free_bytes, hm[0].load, hm[0].host))
        return chosen(host, "room")
    evicting = [(h, m) for h, m in fitting if m.memory_bytes <= h.free_bytes + h.evictable_bytes]
    pool = evicting or fitting
    host, _ = min(
        pool, key=lambda hm: (-(hm[0].free_bytes + hm[0].evictable_bytes), hm[0].load, hm[0].host)
    )
    return chosen(host, "evict" if evicting else "busy")
