"""Fixtures of the cleanup tests: an artifact store on each real backend (local and S3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio

from pit.artifacts.chunking import ChunkParams
from pit.artifacts.store import ArtifactStore
from pit.common.clock import ManualClock
from pit.infra.blob_local import LocalBlobStore
from pit.infra.blob_s3 import S3BlobStore
from pit.infra.stale_plans import PlanStore
from pit.stale.manager import StaleManager
from tests.artifacts.conftest import make_bucket
from tests.artifacts.fakes import FakeIndex
from tests.stale.strategies import NOW

CHUNKS = ChunkParams(min_size=8 * 1024, avg_size=16 * 1024, max_size=32 * 1024)
"""A few chunks per large test version: enough to cover chunked versions, few S3 calls."""


@dataclass
class Setup:
    kind: str
    store: ArtifactStore
    manager: StaleManager
    clock: ManualClock
    client: object | None = None
    bucket: str = ""


@pytest_asyncio.fixture(params=["local", "s3"])
async def setup(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Setup]:
    """A store whose clock starts 100 days before `NOW`, with chunking above 64 KiB."""
    clock = ManualClock(NOW.replace(year=NOW.year - 1))
    client: object | None = None
    bucket = ""
    if request.param == "local":
        blobs: LocalBlobStore | S3BlobStore = LocalBlobStore(tmp_path / "store")
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        client, bucket = make_bucket(endpoint)
        blobs = S3BlobStore(bucket, "p", endpoint_url=endpoint, region="us-east-1")
    store = ArtifactStore(
        blobs, FakeIndex(), clock=clock, chunking_threshold=64 * 1024, chunk_params=CHUNKS
    )
    manager = StaleManager(store, PlanStore(tmp_path / "state"))
    try:
        yield Setup(request.param, store, manager, clock, client, bucket)
    finally:
        await store.close()
