"""`pit doctor`: a deployment checked the way a new operator would check it, one result per
check: Temporal reachable, the namespace there, the Pit's search attributes registered with
their types, the artifact store writable, the search index answering, and the versions."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from enum import StrEnum
from typing import Any

import temporalio
from pydantic import BaseModel, ConfigDict, computed_field
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest, GetSystemInfoRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.service import RPCError, RPCStatusCode

from pit.artifacts.hashing import digest_of
from pit.artifacts.index_port import SearchQuery
from pit.artifacts.store import ArtifactStore
from pit.common.config import Settings
from pit.common.errors import BackendUnavailableError, PitError
from pit.common.version import __version__
from pit.infra.index_factory import DEFAULT_INDEX_FILE
from pit.infra.temporal.search_attributes import PIT_SEARCH_ATTRIBUTES, type_name

CHECK_TIMEOUT = timedelta(seconds=30)
"""The longest one store or index check may take: a backend that does not answer by then is
reported unreachable, never waited on."""

_UNREACHABLE_RPC = {RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED}


class CheckStatus(StrEnum):
    OK = "ok"
    FAILED = "failed"
    """The backend answered, and what it said is wrong (exit 1)."""
    UNREACHABLE = "unreachable"
    """The backend did not answer (exit 3)."""
    SKIPPED = "skipped"
    """Not checked: what it needs failed first."""


class DoctorCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    name: str
    status: CheckStatus
    detail: str
    """What was found, or what is wrong and how to fix it."""


class DoctorReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    checks: list[DoctorCheck]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def ok(self) -> bool:
        return all(check.status in (CheckStatus.OK, CheckStatus.SKIPPED) for check in self.checks)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def exit_code(self) -> int:
        """3 when a backend could not be reached, else 1 when a check failed, else 0."""
        statuses = {check.status for check in self.checks}
        if CheckStatus.UNREACHABLE in statuses:
            return 3
        return 1 if CheckStatus.FAILED in statuses else 0


async def examine(
    settings: Settings,
    temporal: Client | None,
    store: Callable[[], ArtifactStore],
    *,
    unreachable: str | None = None,
) -> DoctorReport:
    """Every check, in order. `temporal` None: it could not be connected (`unreachable`
    says why), and the checks that need it are skipped."""
    checks: list[DoctorCheck] = []
    server_version = None
    if temporal is None:
        detail = unreachable or "not connected"
        checks.append(DoctorCheck(name="temporal", status=CheckStatus.UNREACHABLE, detail=detail))
    else:
        timeout = settings.temporal.connect_timeout
        temporal_check, server_version = await _temporal(temporal, timeout)
        checks.append(temporal_check)
    if temporal is not None and checks[-1].status is CheckStatus.OK:
        checks.append(await _namespace(temporal, timeout))
        checks += await _search_attributes(temporal, timeout)
    else:
        skipped = "skipped: Temporal did not answer"
        for name in ("namespace", "search attributes"):
            checks.append(DoctorCheck(name=name, status=CheckStatus.SKIPPED, detail=skipped))
    opened = await _guarded("store", lambda: _open(store))
    if isinstance(opened, DoctorCheck):
        checks.append(opened)
        skipped = "skipped: the store could not be opened"
        checks.append(DoctorCheck(name="index", status=CheckStatus.SKIPPED, detail=skipped))
    else:
        checks.append(await _guarded("store", lambda: _store(opened)))
        checks.append(await _guarded("index", lambda: _index(opened, settings)))
    checks.append(_versions(server_version))
    return DoctorReport(checks=checks)


async def _temporal(client: Client, timeout: timedelta) -> tuple[DoctorCheck, str | None]:
    address = client.service_client.config.target_host
    try:
        info = await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timeout
        )
    except RPCError as error:
        return _rpc_check("temporal", error, f"{address}: "), None
    version = str(info.server_version) or None
    detail = f"{address} answered (server {version or 'version not reported'})"
    return DoctorCheck(name="temporal", status=CheckStatus.OK, detail=detail), version


async def _namespace(client: Client, timeout: timedelta) -> DoctorCheck:
    namespace = client.namespace
    try:
        described = await client.workflow_service.describe_namespace(
            DescribeNamespaceRequest(namespace=namespace), timeout=timeout
        )
    except RPCError as error:
        if error.status is RPCStatusCode.NOT_FOUND:
            return DoctorCheck(
                name="namespace",
                status=CheckStatus.FAILED,
                detail=f"{namespace!r} does not exist: create it with `temporal operator "
                f"namespace create --namespace {namespace}`",
            )
        return _rpc_check("namespace", error, f"{namespace!r}: ")
    retention = described.config.workflow_execution_retention_ttl.ToTimedelta()
    return DoctorCheck(
        name="namespace",
        status=CheckStatus.OK,
        detail=f"{namespace!r} exists (retention {_days(retention)})",
    )


async def _search_attributes(client: Client, timeout: timedelta) -> list[DoctorCheck]:
    try:
        response = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=client.namespace), timeout=timeout
        )
    except RPCError as error:
        return [_rpc_check("search attributes", error, "")]
    registered: dict[str, int] = dict(response.custom_attributes)
    return [
        _attribute(key, registered.get(key.name), client.namespace) for key in PIT_SEARCH_ATTRIBUTES
    ]


def _attribute(key: SearchAttributeKey[Any], found: int | None, namespace: str) -> DoctorCheck:
    name, wanted = f"search attribute {key.name}", type_name(key)
    if found is None:
        return DoctorCheck(
            name=name,
            status=CheckStatus.FAILED,
            detail=f"not registered: `temporal operator search-attribute create --namespace "
            f"{namespace} --name {key.name} --type {wanted}`",
        )
    if found != int(key.indexed_value_type):
        registered_as = _type_label(found)
        return DoctorCheck(
            name=name,
            status=CheckStatus.FAILED,
            detail=f"registered as {registered_as}; the Pit writes {wanted} (remove it and "
            f"create it again as {wanted})",
        )
    return DoctorCheck(name=name, status=CheckStatus.OK, detail=wanted)


def _type_label(value: int) -> str:
    try:
        raw = IndexedValueType.Name(value)  # type: ignore[arg-type]
    except ValueError:
        return f"type {value}"
    return "".join(part.capitalize() for part in raw.removeprefix("INDEXED_VALUE_TYPE_").split("_"))


async def _open(store: Callable[[], ArtifactStore]) -> ArtifactStore:
    return store()


async def _store(store: ArtifactStore) -> DoctorCheck:
    """A probe blob written, read back and removed: reachable and writable, not just there."""
    probe = f"pit doctor probe {uuid.uuid4().hex}\n".encode()
    digest = digest_of(probe)
    await store.blobs.put_blob(digest, probe)
    try:
        read = b"".join([piece async for piece in store.blobs.open_blob(digest)])
    finally:
        await store.blobs.delete_blob(digest)
    if read != probe:
        return DoctorCheck(
            name="store",
            status=CheckStatus.FAILED,
            detail=f"{store.blobs.url}: a probe blob read back different bytes",
        )
    return DoctorCheck(
        name="store",
        status=CheckStatus.OK,
        detail=f"{store.blobs.url}: a probe blob was written, read back and removed",
    )


async def _index(store: ArtifactStore, settings: Settings) -> DoctorCheck:
    await store.index.search(SearchQuery(limit=1))
    where = settings.search.url or f"sqlite {settings.state_dir / DEFAULT_INDEX_FILE}"
    return DoctorCheck(name="index", status=CheckStatus.OK, detail=f"{where} answered a search")


async def _guarded(name: str, check: Callable[[], Awaitable[Any]]) -> Any:
    """`check()`, or the check that failed: a backend that did not answer within
    `CHECK_TIMEOUT` or said it is unavailable is unreachable; any other error failed."""
    try:
        return await asyncio.wait_for(check(), CHECK_TIMEOUT.total_seconds())
    except TimeoutError:
        return DoctorCheck(
            name=name,
            status=CheckStatus.UNREACHABLE,
            detail=f"no answer within {CHECK_TIMEOUT.total_seconds():.0f}s",
        )
    except BackendUnavailableError as error:
        return DoctorCheck(name=name, status=CheckStatus.UNREACHABLE, detail=error.message)
    except PitError as error:
        return DoctorCheck(name=name, status=CheckStatus.FAILED, detail=error.message)
    except OSError as error:
        return DoctorCheck(name=name, status=CheckStatus.FAILED, detail=_os_message(error))


def _os_message(error: OSError) -> str:
    where = f": {error.filename}" if error.filename else ""
    return f"{error.strerror or error}{where}"


def _versions(server: str | None) -> DoctorCheck:
    return DoctorCheck(
        name="versions",
        status=CheckStatus.OK,
        detail=f"pit {__version__}, temporalio SDK {temporalio.__version__}, "
        f"server {server or 'unknown'}",
    )


def _rpc_check(name: str, error: RPCError, prefix: str) -> DoctorCheck:
    status = CheckStatus.UNREACHABLE if error.status in _UNREACHABLE_RPC else CheckStatus.FAILED
    return DoctorCheck(name=name, status=status, detail=f"{prefix}{error.message}")


def _days(retention: timedelta) -> str:
    days = retention.total_seconds() / 86400
    return f"{days:g} days" if days != 1 else "1 day"
