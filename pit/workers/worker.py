"""The worker: serves every Pit workflow and activity (and the user's) on a task queue."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

from temporalio.client import Client
from temporalio.worker import Worker

from pit.activities import BUILTIN_ACTIVITIES
from pit.activities.artifacts import ArtifactActivities
from pit.activities.stale import StaleActivities
from pit.common.config import Settings
from pit.common.logging import get_logger
from pit.infra.artifact_factory import open_artifact_store
from pit.infra.stale_manager import open_stale_manager
from pit.infra.temporal.claim_check import LazyStore
from pit.infra.temporal.envelope import DagEnvelopeInterceptor
from pit.infra.temporal.failures import PitErrorInterceptor
from pit.workers.registry import ActivityFn, activity_name, collect_activities
from pit.workflows import PIT_WORKFLOWS

log = get_logger("pit.worker")


def build_worker(
    client: Client,
    settings: Settings,
    *,
    activity_specs: Sequence[str] = (),
    extra_activities: Iterable[ActivityFn] = (),
    task_queue: str | None = None,
    use_entry_points: bool = True,
    workflows: bool = True,
) -> Worker:
    """A worker for every Pit workflow (unless `workflows` is false) and activity, plus the
    user's."""
    activities = collect_activities(
        [*BUILTIN_ACTIVITIES, *extra_activities], activity_specs, use_entry_points=use_entry_points
    )
    limit = settings.temporal.max_concurrent_activities
    queue = task_queue or settings.temporal.task_queue
    log.info(
        "serving %d workflows and %d activities on task queue %r: %s",
        len(PIT_WORKFLOWS) if workflows else 0,
        len(activities),
        queue,
        ", ".join(sorted(str(activity_name(fn)) for fn in activities)),
    )
    return Worker(
        client,
        task_queue=queue,
        workflows=list(PIT_WORKFLOWS) if workflows else [],
        activities=activities,
        # synchronous user activities run on threads; async ones on the event loop
        activity_executor=ThreadPoolExecutor(max_workers=limit, thread_name_prefix="pit-activity"),
        max_concurrent_activities=limit,
        # outermost first: PitError becomes ApplicationError, then DAG runs get the attempt
        interceptors=[DagEnvelopeInterceptor(), PitErrorInterceptor()],
        graceful_shutdown_timeout=settings.temporal.graceful_shutdown,
    )


def served_activity_names(activity_specs: Sequence[str] = ()) -> set[str]:
    """The activity names a `pit_worker` with these `--activities` would serve."""
    own = (ArtifactActivities.put, ArtifactActivities.get, ArtifactActivities.search)
    names = {str(activity_name(fn)) for fn in (*own, ArtifactActivities.index)}
    names |= {str(activity_name(fn)) for fn in (StaleActivities.plan, StaleActivities.apply)}
    return names | {
        str(activity_name(fn)) for fn in collect_activities(BUILTIN_ACTIVITIES, activity_specs)
    }


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
    """The composition root: builds the adapters from `settings` (artifact store and its
    index; or the session's, when given), the activities over them, and the worker; closes
    what it opened afterwards."""
    owned = artifacts is None
    store = artifacts or LazyStore(lambda: open_artifact_store(settings))
    try:
        artifact_store = store.get()
        artifact_activities = ArtifactActivities(artifact_store)
        stale = StaleActivities(lambda: open_stale_manager(artifact_store, settings))
        yield build_worker(
            client,
            settings,
            activity_specs=activity_specs,
            extra_activities=[*artifact_activities.all(), *stale.all(), *extra_activities],
            task_queue=task_queue,
            use_entry_points=use_entry_points,
        )
    finally:
        if owned:
            await store.close()


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
