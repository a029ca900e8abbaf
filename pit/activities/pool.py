"""Pool activities: `pit.pool.warm` / `cool` / `status` on a host's own task queue, over that
host's pool, and `pit.pool.place` on the default queue, asking the registry where to run."""

from __future__ import annotations

from typing import Any, Protocol

from temporalio import activity

from pit.client.pool import place_model
from pit.pool import ModelPool
from pit.pool.placement import HostSnapshot, Placement
from pit.pool.protocol import ModelRef, PlaceRequest, WarmRequest


class Host(Protocol):
    """The pool host these activities serve (`pit.workers.pool_host.PoolHost`)."""

    @property
    def pool(self) -> ModelPool: ...

    def snapshot(self) -> HostSnapshot: ...

    def model_view(self, model_id: str) -> dict[str, Any]: ...


@activity.defn(name="pit.pool.place")
async def place(request: PlaceRequest) -> Placement:
    """The host a model's work should run on: hot there, warming there, or chosen to warm it."""
    return await place_model(
        activity.client(),
        request.model,
        task_queue=activity.info().task_queue,
        exclude=request.exclude,
    )


class PoolActivities:
    """The activities of one host's pool."""

    def __init__(self, host: Host) -> None:
        self.host = host

    @activity.defn(name="pit.pool.warm")
    async def warm(self, request: WarmRequest) -> dict[str, Any]:
        """Make the model hot here. With a `session` (a DAG run) it counts as a use: the
        predictor learns from it and a hit is counted; without one it is an operator's warm."""
        async with self.host.pool.acquire(request.model, session=request.session):
            pass
        return self.host.model_view(request.model)

    @activity.defn(name="pit.pool.cool")
    async def cool(self, request: ModelRef) -> dict[str, Any]:
        """Unload the model here if it is hot and no lease holds it; `cooled` says whether."""
        cooled = await self.host.pool.cool(request.model)
        return {**self.host.model_view(request.model), "cooled": cooled}

    @activity.defn(name="pit.pool.status")
    async def status(self) -> dict[str, Any]:
        """This host's pool as it would publish it."""
        return self.host.snapshot().model_dump(mode="json")

    def all(self) -> list[Any]:
        return [self.warm, self.cool, self.status]
