"""A worker that hosts models: its pool (with health checks and prewarming), a worker on the
host's own task queue (`pit-pool-<host>`) serving the pool activities and every activity a
DAG node may run there, and the publisher that keeps the registry's view of it fresh."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from pit.activities.pool import PoolActivities
from pit.client.pool import leave_registry, publish_host
from pit.common.config import Settings
from pit.common.logging import get_logger
from pit.infra.model_runtimes import runtime_loaders
from pit.infra.telemetry import PoolSampler
from pit.pool import (
    HealthMonitor,
    HealthOptions,
    ModelLoader,
    ModelPool,
    ModelStatus,
    PoolConfig,
    PrewarmEngine,
    PrewarmOptions,
    UsagePredictor,
)
from pit.pool.placement import HostModel, HostSnapshot, host_queue
from pit.pool.states import ModelState
from pit.pool.trace import read_models
from pit.workers.registry import ActivityFn
from pit.workers.worker import build_worker

log = get_logger("pit.pool.host")

_current: PoolHost | None = None


def current_pool() -> ModelPool:
    """The pool of the host this process serves: for activities that use a model's handle,
    `async with current_pool().acquire("model") as lease: lease.handle ...`."""
    if _current is None:
        raise RuntimeError("this process hosts no model pool (set [pool] models_file)")
    return _current.pool


def host_name(settings: Settings) -> str:
    """`[pool] host`, else the machine's hostname made fit for a task-queue name."""
    if settings.pool.host:
        return settings.pool.host
    return re.sub(r"[^A-Za-z0-9_.-]", "-", socket.gethostname()).strip("-.") or "host"


def pool_config(settings: Settings) -> PoolConfig | None:
    """The pool `[pool]` declares; None when it names no models file."""
    section = settings.pool
    if section.models_file is None:
        return None
    return PoolConfig(
        memory_budget=section.memory_budget,
        host_memory_budget=section.host_memory_budget,
        capacity_wait=section.capacity_wait,
        models=read_models(section.models_file, "pool.models_file"),
        health=HealthOptions(interval=section.health_interval),
        prewarm=PrewarmOptions(enabled=section.prewarm),
    )


class PoolHost:
    """One host's pool on Temporal."""

    def __init__(
        self,
        name: str,
        config: PoolConfig,
        *,
        publish_interval: float,
        loaders: Mapping[str, ModelLoader] | None = None,
    ) -> None:
        self.name = name
        self.queue = host_queue(name)
        self.config = config
        self.publish_interval = publish_interval
        self.pool = ModelPool(
            config.models,
            budget=config.memory_budget,
            loaders=loaders or runtime_loaders(),
            capacity_wait=config.capacity_wait.total_seconds(),
            host_budget=config.host_memory_budget,
        )
        self.health = HealthMonitor(self.pool, config.health)
        self.prewarm: PrewarmEngine | None = None
        if config.prewarm.enabled:
            options = config.prewarm
            predictor = UsagePredictor(
                bin_seconds=options.bin_seconds, bins=options.bins, min_samples=options.min_samples
            )
            self.prewarm = PrewarmEngine(self.pool, predictor, options, self.pool.clock)
        self.worker: Worker | None = None
        """The worker of `queue`, once `pool_host` built it."""
        self._changed = asyncio.Event()
        self.pool.add_transition_listener(lambda *_: self._changed.set())

    def snapshot(self) -> HostSnapshot:
        return HostSnapshot(
            host=self.name,
            queue=self.queue,
            budget_bytes=self.pool.budget,
            reserved_bytes=self.pool.reserved,
            interval=self.publish_interval,
            models=tuple(self._model(status) for status in self.pool.status()),
        )

    def model_view(self, model_id: str) -> dict[str, Any]:
        status = next(s for s in self.pool.status() if s.id == model_id)
        return {"host": self.name, **self._model(status).model_dump(mode="json")}

    def _model(self, status: ModelStatus) -> HostModel:
        """`status` with the time it entered its state on the wall clock."""
        mono = self.pool.clock.monotonic()
        entered = self.pool.record(status.id).entered.get(ModelState(status.state), mono)
        return HostModel(
            id=status.id,
            state=status.state,
            memory_bytes=status.memory_bytes,
            since=round(time.time() - (mono - entered), 3),
            hits=status.hits,
            leases=status.leases,
        )

    async def publish_forever(self, client: Client, registry_queue: str) -> None:
        """Publish every `publish_interval`, and soon after any state change."""
        while True:
            self._changed.clear()
            try:
                await publish_host(client, self.snapshot(), task_queue=registry_queue)
            except Exception as error:  # keep publishing: the registry may come back
                log.warning("host %s: cannot publish its pool: %s", self.name, error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), self.publish_interval)
            await asyncio.sleep(0.02)  # let a burst of transitions settle into one publication

    async def aclose(self) -> None:
        if self.prewarm is not None:
            self.prewarm.close()
        await self.health.aclose()
        await self.pool.aclose()


@contextlib.asynccontextmanager
async def pool_host(
    client: Client,
    settings: Settings,
    *,
    activity_specs: Sequence[str] = (),
    extra_activities: Iterable[ActivityFn] = (),
    use_entry_points: bool = True,
    task_queue: str | None = None,
    config: PoolConfig | None = None,
    name: str | None = None,
    loaders: Mapping[str, ModelLoader] | None = None,
) -> AsyncIterator[PoolHost | None]:
    """The host's pool with the worker of its queue (`host.worker`, for the caller to run),
    publishing while inside to the registry
    of `task_queue` (default: the configured one); None when `[pool]` names no models (and
    no `config` is given). Leaves the registry on the way out."""
    global _current
    config = config or pool_config(settings)
    registry_queue = task_queue or settings.temporal.task_queue
    if config is None:
        yield None
        return
    host = PoolHost(
        name or host_name(settings),
        config,
        publish_interval=settings.pool.publish_interval.total_seconds(),
        loaders=loaders,
    )
    host.worker = build_worker(
        client,
        settings,
        activity_specs=activity_specs,
        extra_activities=[*PoolActivities(host).all(), *extra_activities],
        task_queue=host.queue,
        use_entry_points=use_entry_points,
    )
    tasks = [
        asyncio.create_task(host.health.run()),
        asyncio.create_task(host.publish_forever(client, registry_queue)),
        asyncio.create_task(PoolSampler(host.pool).run()),
    ]
    previous, _current = _current, host
    log.info("host %s: %d models on task queue %s", host.name, len(config.models), host.queue)
    try:
        yield host
    finally:
        _current = previous
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            await leave_registry(client, host.name, task_queue=registry_queue)
        await host.aclose()
