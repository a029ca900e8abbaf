"""The worker: serves every Pit workflow and activity (and the user's) on a task queue,
through the same `PitPlugin` any Temporal program can use."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from pit.common.config import Settings
from pit.common.logging import get_logger
from pit.infra.temporal.claim_check import LazyStore
from pit.workers.plugin import PitPlugin, has_pit_plugin
from pit.workers.registry import ActivityFn, activity_name

log = get_logger("pit.worker")


def build_worker(
    client: Client,
    settings: Settings,
    *,
    activity_specs: Sequence[str] = (),
    extra_activities: Iterable[ActivityFn] = (),
    task_queue: str | None = None,
    use_entry_points: bool = True,
    plugin: PitPlugin | None = None,
) -> Worker:
    """A worker of `task_queue` (default: the configured one) for every Pit workflow and
    activity, plus `extra_activities`. The Pit comes from the client's `PitPlugin` when it
    was connected with one (then `activity_specs` belong to that plugin), else from `plugin`
    or a new one built from `settings`."""
    plugins: list[PitPlugin] = []
    if not has_pit_plugin(client.config().get("plugins", [])):
        plugins.append(
            plugin
            or PitPlugin(settings, activity_specs=activity_specs, use_entry_points=use_entry_points)
        )
    limit = settings.temporal.max_concurrent_activities
    queue = task_queue or settings.temporal.task_queue
    own = list(extra_activities)
    log.info(
        "serving task queue %r: the Pit's workflows and activities%s",
        queue,
        f", and {', '.join(sorted(str(activity_name(fn)) for fn in own))}" if own else "",
    )
    return Worker(
        client,
        task_queue=queue,
        activities=own,
        plugins=plugins,
        # synchronous user activities run on threads; async ones on the event loop
        activity_executor=ThreadPoolExecutor(max_workers=limit, thread_name_prefix="pit-activity"),
        max_concurrent_activities=limit,
        graceful_shutdown_timeout=settings.temporal.graceful_shutdown,
    )


@contextlib.asynccontextmanager
async def pit_worker(
    client: Client,
    settings: Settings,
    *,
    activity_specs: Sequence[str] = (),
    extra_activities: Iterable[ActivityFn] = (),
    task_queue: str | None = None,
    use_entry_points: bool = True,
    artifacts: LazyStore | None = None,
) -> AsyncIterator[Worker]:
    """A worker as `build_worker` makes it, its plugin sharing `artifacts` (the session's
    store, which the client's claim check uses too) when given."""
    plugin = None
    if not has_pit_plugin(client.config().get("plugins", [])):
        plugin = PitPlugin(
            settings,
            activity_specs=activity_specs,
            use_entry_points=use_entry_points,
            store=artifacts,
        )
    yield build_worker(
        client,
        settings,
        extra_activities=extra_activities,
        task_queue=task_queue,
        plugin=plugin,
    )


async def run_until_signalled(
    worker: Worker, stop: asyncio.Event | None = None, *, also: Sequence[Worker] = ()
) -> None:
    """Run `worker` (and the workers in `also`) until SIGTERM / SIGINT (or `stop`), then
    drain: stop polling, let in-flight activities finish within the graceful-shutdown time,
    and return."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signum, stop.set)
            installed.append(signum)
    workers = [worker, *also]
    running = [asyncio.create_task(each.run()) for each in workers]
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({*running, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not all(task.done() for task in running):
            log.info("draining: waiting for in-flight activities to finish")
            await asyncio.gather(
                *(
                    each.shutdown()
                    for each, task in zip(workers, running, strict=True)
                    if not task.done()
                )
            )
        await asyncio.gather(*running)
    finally:
        stopped.cancel()
        for signum in installed:
            loop.remove_signal_handler(signum)
    log.info("worker stopped")
