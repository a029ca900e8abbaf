"""`PitPlugin`: the Pit inside any Temporal program, as a `temporalio.plugin.SimplePlugin`.

    client = await Client.connect(address, plugins=[PitPlugin()])
    async with Worker(client, task_queue="mine", activities=[shout]):
        ...  # pit.dag runs on "mine" can call `mine.shout` next to `pit.echo`

On the client it sets the Pit's data converter (pydantic models as they are, payloads over
256 KiB claim-checked into the artifact store). On every worker built from that client it
registers the Pit's workflows, its built-in and component activities (over adapters built
from the settings: the artifact store, the stale manager), the activities of installed
packages (`pit.activities` entry points) and `activity_specs`, and the interceptors that give
activities the Pit's error codes and DAG nodes their output envelope. `pit worker` and
`pit dev` are built on it: one path, not two.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence

from temporalio.client import ClientConfig
from temporalio.plugin import SimplePlugin
from temporalio.worker import Worker, WorkerConfig, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from pit.activities import BUILTIN_ACTIVITIES
from pit.activities.artifacts import ArtifactActivities
from pit.activities.cache import CacheActivities
from pit.activities.shell import ShellActivities
from pit.activities.stale import StaleActivities
from pit.common.config import Settings, load_settings
from pit.infra.stale_plans import open_stale_manager
from pit.infra.telemetry import (
    NodeTelemetryInterceptor,
    pit_metrics_bound,
    runtime_meter,
    tracing_interceptors,
)
from pit.infra.temporal.claim_check import (
    LazyStore,
    claim_check_converter,
    claim_store_location,
    settings_store,
    worker_identity,
)
from pit.infra.temporal.envelope import DagEnvelopeInterceptor
from pit.infra.temporal.failures import PitErrorInterceptor
from pit.infra.temporal.model_use import ModelUseHeader
from pit.workers.registry import ActivityFn, activity_name, collect_activities
from pit.workflows import PIT_WORKFLOWS

PLUGIN_NAME = "pit"


class PitPlugin(SimplePlugin):
    """The Pit's converter, workflows, activities and interceptors for a client and its
    workers. `settings` default to what the CLI loads (`PIT_*` environment, `pit.toml`)."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        activity_specs: Sequence[str] = (),
        extra_activities: Iterable[ActivityFn] = (),
        use_entry_points: bool = True,
        store: LazyStore | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.store = store or settings_store(self.settings)
        """The artifact store the artifact activities and the claim check use (opened on
        first use; closed when a worker built with this plugin stops)."""
        self._owns_store = store is None
        artifacts = ArtifactActivities(self.store.get)
        stale = StaleActivities(lambda: open_stale_manager(self.store.get(), self.settings))
        self.activities_served: list[ActivityFn] = collect_activities(
            [
                *BUILTIN_ACTIVITIES,
                ShellActivities(self.store.get).shell,
                *artifacts.all(),
                *CacheActivities(self.store.get).all(),
                *stale.all(),
                *extra_activities,
            ],
            activity_specs,
            use_entry_points=use_entry_points,
        )
        super().__init__(
            PLUGIN_NAME,
            data_converter=claim_check_converter(self.store),
            # outermost first: the trace (with [telemetry] otlp_endpoint), a node attempt's
            # duration and span, then PitError becomes ApplicationError, then DAG nodes get
            # the attempt envelope around whatever the activity returned or raised; a model
            # node's activity carries its model use in a header
            interceptors=[
                *tracing_interceptors(self.settings.telemetry),
                NodeTelemetryInterceptor(),
                DagEnvelopeInterceptor(),
                PitErrorInterceptor(),
                ModelUseHeader(),
            ],
            activities=self.activities_served,
            workflows=list(PIT_WORKFLOWS),
            workflow_runner=passing_pit_through,
            run_context=self._running,
        )

    def configure_worker(self, config: WorkerConfig) -> WorkerConfig:
        """The SimplePlugin's configuration, and an identity saying which store the worker's
        claim check uses: a client writing to another store is refused before it starts a
        run this worker could not read (`pit.client.runs`)."""
        config = super().configure_worker(config)
        client = config["client"]
        location = claim_store_location(client.data_converter)
        config["identity"] = worker_identity(config.get("identity") or client.identity, location)
        return config

    def configure_client(self, config: ClientConfig) -> ClientConfig:
        config = super().configure_client(config)
        # one tracing interceptor however many ways it came (`open_temporal` adds it too)
        config["interceptors"] = list({id(i): i for i in config.get("interceptors", [])}.values())
        return config

    async def run_worker(self, worker: Worker, next: Callable[[Worker], Awaitable[None]]) -> None:
        """Run the worker with the Pit's metrics recorded through its client's runtime (when
        that runtime exports metrics: `pit worker --metrics-port`)."""
        runtime = worker.client.service_client.config.runtime
        with pit_metrics_bound(runtime_meter(runtime)):
            await super().run_worker(worker, next)

    def activity_names(self) -> set[str]:
        """The names of the activities every worker built with this plugin serves (besides
        the worker's own)."""
        return {str(activity_name(fn)) for fn in self.activities_served}

    @contextlib.asynccontextmanager
    async def _running(self) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if self._owns_store:
                await self.store.close()  # opened again if anything still needs it


PASSED_THROUGH = (
    *(
        f"pit.{package}"
        for package in (
            "common", "dag", "artifacts", "pool", "arbitration", "stale",
            "infra", "client", "activities",
        )
    ),
    "cel_expr_python",
)  # fmt: skip
"""The Pit's modules that workflow code uses as they are, never re-imported in the sandbox:
pure domain code and message types (and what activity references import); not the workflow
modules themselves, which the sandbox must load afresh. And CEL (`when:` conditions), a C
extension that cannot be loaded twice in one process."""


def passing_pit_through(runner: WorkflowRunner | None) -> WorkflowRunner:
    """The worker's sandbox with the Pit's non-workflow modules passed through: one copy of
    each (a class, an exception type) inside and outside the sandbox, and no re-import cost
    per workflow run. An unsandboxed runner is left as it is."""
    if runner is None:
        runner = SandboxedWorkflowRunner()
    if not isinstance(runner, SandboxedWorkflowRunner):
        return runner
    restrictions = runner.restrictions.with_passthrough_modules(*PASSED_THROUGH)
    return SandboxedWorkflowRunner(restrictions=restrictions, runner_class=runner.runner_class)


def has_pit_plugin(plugins: Iterable[object]) -> bool:
    return any(isinstance(plugin, PitPlugin) for plugin in plugins)
