"""Claim check: Temporal payloads over 256 KiB live in the artifact store, history keeps a
reference. Built on the SDK's own `ExternalStorage`, so node outputs of any size move
between DAG nodes as they are while workflow history (and its 2 MB payload cap) stays small.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence

from temporalio.api.common.v1 import Payload
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.converter import (
    DataConverter,
    ExternalStorage,
    StorageDriver,
    StorageDriverClaim,
    StorageDriverRetrieveContext,
    StorageDriverStoreContext,
)

from pit.artifacts.store import ArtifactStore
from pit.common.errors import IntegrityError, NotFoundError

CLAIM_THRESHOLD = 256 * 1024
PAYLOAD_PREFIX = "temporal/payloads"


class LazyStore:
    """Opens the artifact store on first use, so commands that never need it create nothing."""

    def __init__(self, factory: Callable[[], ArtifactStore]) -> None:
        self._factory = factory
        self._store: ArtifactStore | None = None

    def get(self) -> ArtifactStore:
        if self._store is None:
            self._store = self._factory()
        return self._store

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None


class ArtifactPayloadDriver(StorageDriver):
    """Stores each payload once, by its SHA-256, as artifact `temporal/payloads/ab/<hex>`."""

    def __init__(self, store: LazyStore) -> None:
        self._store = store

    def name(self) -> str:
        return "pit-artifacts"

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
            found = await store.get(claim.claim_data["artifact"])
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
