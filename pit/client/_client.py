"""`PitClient`: the one way programs, the CLI, activities, bench and tests reach a running Pit."""

from __future__ import annotations

import contextlib
import uuid
from datetime import timedelta
from typing import Any

from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client, WorkflowFailureError
from temporalio.service import RPCError

from pit.client.arbiter import ArbiterClient
from pit.client.artifacts import ArtifactsClient
from pit.client.doctor import DoctorReport, examine
from pit.client.pool import PoolClient
from pit.client.runs import RunsClient
from pit.client.stale import StaleClient
from pit.common.check import CHECK_WORKFLOW, CheckInput, CheckResult
from pit.common.config import Settings, load_settings
from pit.common.errors import BackendUnavailableError, InvalidInputError, WorkFailedError
from pit.infra.stale_plans import open_stale_manager
from pit.infra.temporal.claim_check import LazyStore, settings_store
from pit.infra.temporal.failures import from_failure
from pit.infra.temporal.search_attributes import pit_tags
from pit.infra.temporal.session import TemporalSession, open_temporal
from pit.infra.temporal.task_queues import workflow_pollers


class PitClient:
    """The Pit's public, typed, async API over one Temporal client and one artifact store.

        async with await PitClient.connect() as pit:        # settings as the CLI loads them
            handle = await pit.runs.start("examples/hello.yaml", inputs={"who": "world"})
            print((await handle.result()).status)

    or `PitClient(client)` over a client you connected yourself (give it
    `plugins=[PitPlugin()]` so large payloads are claim-checked as Pit workers expect).
    Sub-clients: `runs`, `artifacts`, `arbiter`, `pool`, `stale`; each returns the pydantic
    models `pit ... --json` prints.
    """

    def __init__(
        self,
        client: Client | None = None,
        settings: Settings | None = None,
        *,
        artifacts: LazyStore | None = None,
    ) -> None:
        self.settings = settings if settings is not None else load_settings()
        self.temporal = client
        """The Temporal client (None for a Pit used only for its artifact store)."""
        self.session: TemporalSession | None = None
        """How `connect` reached Temporal (embedded server or cluster), when it did."""
        self._store = artifacts or settings_store(self.settings)
        self._owns_store = artifacts is None
        self._stack = contextlib.AsyncExitStack()

    @classmethod
    async def connect(cls, settings: Settings | None = None, *, ui: bool = False) -> PitClient:
        """Connect as `pit` does: `temporal.address`, or (none configured) the embedded dev
        server of `state_dir`, attaching to the one `pit dev` runs there. With the embedded
        server nothing executes runs unless a worker serves it: `pit dev`, or
        `pit.workers.local_pit()` for a worker in this process."""
        settings = settings if settings is not None else load_settings()
        stack = contextlib.AsyncExitStack()
        try:
            session = await stack.enter_async_context(open_temporal(settings, ui=ui))
        except BaseException:
            await stack.aclose()
            raise
        pit = cls(session.client, settings, artifacts=session.artifacts)
        pit.session = session
        pit._stack = stack
        return pit

    @classmethod
    async def diagnose(cls, settings: Settings | None = None) -> DoctorReport:
        """Connect as `connect` does and check the deployment (`doctor`). A Temporal that
        cannot be reached is a check that failed (the store and index are still checked),
        not an error."""
        settings = settings if settings is not None else load_settings()
        try:
            pit = await cls.connect(settings)
        except BackendUnavailableError as error:
            reason = error.message.removeprefix("temporal: ")
            async with cls(None, settings) as alone:
                return await examine(settings, None, alone._store.get, unreachable=reason)
        async with pit:
            return await pit.doctor()

    async def doctor(self) -> DoctorReport:
        """Check the deployment this client reaches, as a new operator would: Temporal and
        its namespace, the Pit's search attributes and their types, the artifact store
        (a probe blob written, read back, removed), the search index, the versions. Never
        raises for what it finds: each check says ok, failed, unreachable or skipped."""
        return await examine(self.settings, self.temporal, self._store.get)

    async def close(self) -> None:
        """Close the artifact store (when this client opened it) and the connection."""
        if self._owns_store:
            await self._store.close()
        await self._stack.aclose()

    async def __aenter__(self) -> PitClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    @property
    def task_queue(self) -> str:
        return self.settings.temporal.task_queue

    @property
    def runs(self) -> RunsClient:
        """DAG runs: start, status, result, cancel, resume, list."""
        return RunsClient(self._client("runs"), task_queue=self.task_queue)

    @property
    def artifacts(self) -> ArtifactsClient:
        """The artifact store the settings name (default `<state_dir>/artifacts`)."""
        return ArtifactsClient(self._store.get())

    @property
    def arbiter(self) -> ArbiterClient:
        """Grants from arbiters: `hold`, `status`."""
        return ArbiterClient(self._client("arbiter"), task_queue=self.task_queue)

    @property
    def pool(self) -> PoolClient:
        """The model pools of every host: `status`, `warm`, `cool`."""
        return PoolClient(self._client("pool"), task_queue=self.task_queue)

    @property
    def stale(self) -> StaleClient:
        """Cleanup of the artifact store: plan, apply, restore, purge, schedule."""
        return StaleClient(
            lambda: open_stale_manager(self._store.get(), self.settings),
            client=self.temporal,
            task_queue=self.task_queue,
            half_life=self.settings.stale.half_life,
        )

    async def check(
        self, message: str = "hello from the pit", *, timeout: timedelta = timedelta(seconds=30)
    ) -> CheckResult:
        """Run the `pit.check` workflow through a worker: proof that one serves the queue.
        No worker finishing it within `timeout` is a `WorkFailedError` saying so."""
        client = self._client("check")
        summary = f"pit check of task queue {self.task_queue}"
        tags = await pit_tags(client, "check", summary, {"task_queue": self.task_queue})
        try:
            result: CheckResult = await client.execute_workflow(
                CHECK_WORKFLOW,
                CheckInput(message=message),
                id=f"pit-check-{uuid.uuid4().hex[:12]}",
                task_queue=self.task_queue,
                result_type=CheckResult,
                execution_timeout=timeout,
                memo=tags.memo,
                search_attributes=tags.search_attributes,
                static_summary=tags.summary,
            )
        except WorkflowFailureError as failure:
            error = from_failure(failure)
            if "timed out" in error.message.lower() or "timeout" in error.message.lower():
                raise WorkFailedError(
                    f"no worker finished pit.check on task queue {self.task_queue!r} within "
                    f"{timeout.total_seconds():.0f}s: is `pit worker` running against this "
                    "server?"
                ) from None
            raise error from None
        except RPCError as error:
            raise BackendUnavailableError(f"temporal: {error.message}") from None
        return result

    async def pollers(self, task_queue: str | None = None) -> int:
        """How many workers polled `task_queue` (default: the settings') for workflow tasks
        recently: 0 means nothing would run a workflow started there."""
        return await workflow_pollers(self._client("pollers"), task_queue or self.task_queue)

    async def server_version(self) -> str:
        """The Temporal server's version, as it reports it ("" when it does not)."""
        info = await self._client("ping").workflow_service.get_system_info(GetSystemInfoRequest())
        return str(info.server_version)

    def _client(self, what: str) -> Client:
        if self.temporal is None:
            raise InvalidInputError.for_field(
                "temporal", None, f"{what} needs a Temporal client: use PitClient.connect()"
            )
        return self.temporal

    def __repr__(self) -> str:
        where: Any = self.session.address if self.session else self.temporal
        return f"PitClient({where!r})"
