"""Claim check: Temporal payloads over 256 KiB live in the artifact store, history keeps a
reference. Built on the SDK's own `ExternalStorage`, so node outputs of any size move
between DAG nodes as they are while workflow history (and its 2 MB payload cap) stays small.

A reference is only as good as the store behind it: every client and worker of a deployment
must share one (the configured S3 store; on the embedded server, the state dir they share).
Each store has a `location` (`pit.infra.artifact_factory.store_location`); Pit workers put
theirs in their Temporal identity (`worker_identity`), so a client can see up front whether
the workers of a queue read the store it writes (`pit.client.runs`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Callable, Sequence
from urllib.parse import quote, unquote

from temporalio.api.common.v1 import Payload
from temporalio.api.sdk.v1.external_storage_pb2 import ExternalStorageReference
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    ExternalStorage,
    JSONProtoPayloadConverter,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)

from pit.artifacts.store import ArtifactStore
from pit.common.config import Settings
from pit.common.errors import IntegrityError, NotFoundError
from pit.infra.artifact_factory import open_artifact_store, store_location

CLAIM_THRESHOLD = 256 * 1024
PAYLOAD_PREFIX = "temporal/payloads"
DRIVER_NAME = "pit-artifacts"
_IDENTITY_MARK = " pit-store="


class LazyStore:
    """Opens the artifact store on first use, so commands that never need it create nothing."""

    def __init__(self, factory: Callable[[], ArtifactStore], location: str | None = None) -> None:
        self._factory = factory
        self._store: ArtifactStore | None = None
        self.location = location
        """Where the store is (`store_location`), None when the opener did not say."""

    def get(self) -> ArtifactStore:
        if self._store is None:
            self._store = self._factory()
        return self._store

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None


def settings_store(settings: Settings) -> LazyStore:
    """The store the settings name (`storage.url`, else `<state_dir>/artifacts`), lazily."""
    return LazyStore(lambda: open_artifact_store(settings), store_location(settings))


class ArtifactPayloadDriver(StorageDriver):
    """Stores each payload once, by its SHA-256, as artifact `temporal/payloads/ab/<hex>`."""

    def __init__(self, store: LazyStore) -> None:
        self._store = store

    @property
    def location(self) -> str | None:
        return self._store.location

    def name(self) -> str:
        return DRIVER_NAME

    async def store(
        self, context: StorageDriverStoreContext, payloads: Sequence[Payload]
    ) -> list[StorageDriverClaim]:
        store = self._store.get()
        claims: list[StorageDriverClaim] = []
        for payload in payloads:
            data = payload.SerializeToString()
            hexdigest = hashlib.sha256(data).hexdigest()
            name = f"{PAYLOAD_PREFIX}/{hexdigest[:2]}/{hexdigest}"
            try:
                await store.manifest(name)  # stored before: the same bytes, by name
            except NotFoundError:
                await store.put(
                    name, data, media_type="application/x-protobuf", tags=["temporal-payload"]
                )
            claims.append(StorageDriverClaim({"artifact": name, "digest": f"sha256:{hexdigest}"}))
        return claims

    async def retrieve(
        self, context: StorageDriverRetrieveContext, claims: Sequence[StorageDriverClaim]
    ) -> list[Payload]:
        store = self._store.get()
        payloads: list[Payload] = []
        for claim in claims:
            try:
                found = await store.get(claim.claim_data["artifact"])
            except NotFoundError:
                where = self._store.location or "this store"
                raise NotFoundError(
                    f"payload {claim.claim_data['artifact']} is not in {where}: it was written "
                    "to another store (every client and worker needs the same one: one s3:// "
                    "URL, or the same state dir), or removed from this one",
                    name=claim.claim_data["artifact"],
                ) from None
            if found.manifest.digest != claim.claim_data["digest"]:
                raise IntegrityError(
                    f"payload {claim.claim_data['artifact']} has digest "
                    f"{found.manifest.digest}, the claim says {claim.claim_data['digest']}"
                )
            payloads.append(Payload.FromString(found.data))
        return payloads


def claim_check_converter(store: LazyStore) -> DataConverter:
    """The Pit's data converter (pydantic) with large payloads kept in the artifact store."""
    return dataclasses.replace(
        pydantic_data_converter,
        external_storage=ExternalStorage(
            drivers=[ArtifactPayloadDriver(store)], payload_size_threshold=CLAIM_THRESHOLD
        ),
    )


def claim_store_location(converter: DataConverter) -> str | None:
    """Where `converter` claim-checks payloads into, when it is the Pit's and knows."""
    storage = converter.external_storage
    if storage is None:
        return None
    for driver in storage.drivers:
        if isinstance(driver, ArtifactPayloadDriver):
            return driver.location
    return None


def claim_checked(converter: DataConverter, value: object) -> bool:
    """Whether `converter` would keep `value` in its store rather than in history."""
    storage = converter.external_storage
    if storage is None:
        return False
    [payload] = converter.payload_converter.to_payloads([value])
    return payload.ByteSize() >= storage.payload_size_threshold


def worker_identity(identity: str, location: str | None) -> str:
    """A worker's Temporal identity saying which store its claim check uses (pollers of a
    task queue show it: `DescribeTaskQueue`)."""
    if location is None or _IDENTITY_MARK in identity:
        return identity
    return f"{identity}{_IDENTITY_MARK}{quote(location, safe=':/@')}"


def identity_location(identity: str) -> str | None:
    """The store location a Pit worker's identity names (None: not a Pit worker, or an old
    one that does not say)."""
    _, mark, location = identity.partition(_IDENTITY_MARK)
    return unquote(location) if mark and location else None


_REFERENCES = JSONProtoPayloadConverter()
_REFERENCE_TYPE = ExternalStorageReference.DESCRIPTOR.full_name.encode()
_PAYLOAD_NAME = re.compile(PAYLOAD_PREFIX + r"/(?P<fan>[0-9a-f]{2})/(?P<hex>[0-9a-f]{64})")


def payload_claim(payload: Payload) -> StorageDriverClaim | None:
    """The Pit claim a payload in history stands for, None when it is not one (an inline
    payload, or another driver's reference)."""
    if (
        payload.metadata.get("messageType")
        != ExternalStorageReference.DESCRIPTOR.full_name.encode()
    ):
        return None
    try:
        reference = _REFERENCES.from_payload(payload, ExternalStorageReference)
    except Exception:  # not a reference after all: shown as it is
        return None
    if not isinstance(reference, ExternalStorageReference) or reference.driver_name != DRIVER_NAME:
        return None
    data = dict(reference.claim_data)
    named = _PAYLOAD_NAME.fullmatch(data.get("artifact", ""))
    # only this driver's names, and the digest the name itself carries: a reference cannot
    # reach any other artifact in the store
    if named is None or set(data) != {"artifact", "digest"}:
        return None
    if named["hex"][:2] != named["fan"] or data["digest"] != f"sha256:{named['hex']}":
        return None
    return StorageDriverClaim(data)
