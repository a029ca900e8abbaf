"""Fixtures of the artifact tests: fake-backed stores, and one store per real backend."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import boto3
import pytest
import pytest_asyncio

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.chunking import ChunkParams
from pit.artifacts.store import ArtifactStore
from pit.cli import run
from pit.infra.blob_local import LocalBlobStore
from pit.infra.blob_s3 import S3BlobStore
from tests.artifacts.fakes import FakeBlobStore, FakeIndex

SMALL_CHUNKS = ChunkParams(min_size=1024, avg_size=4096, max_size=16384)
"""Chunk sizes small enough that a test's few hundred KiB are split into many chunks."""


@pytest.fixture
def fake_store() -> ArtifactStore:
    return ArtifactStore(FakeBlobStore(), FakeIndex())


class Inspector(Protocol):
    """A second, independent view of what a backend stored (files, or a boto3 client)."""

    def stored_keys(self) -> list[str]: ...
    def read(self, key: str) -> bytes: ...
    def overwrite(self, key: str, data: bytes) -> None: ...
    def remove(self, key: str) -> None: ...


@dataclass
class FileInspector:
    root: Path

    def stored_keys(self) -> list[str]:
        return sorted(
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and "tmp" not in p.relative_to(self.root).parts[:1]
        )

    def read(self, key: str) -> bytes:
        return (self.root / key).read_bytes()

    def overwrite(self, key: str, data: bytes) -> None:
        (self.root / key).write_bytes(data)

    def remove(self, key: str) -> None:
        (self.root / key).unlink()


@dataclass
class BucketInspector:
    client: object
    bucket: str
    prefix: str

    def stored_keys(self) -> list[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(  # type: ignore[attr-defined]
            Bucket=self.bucket, Prefix=self.prefix
        )
        return sorted(
            item["Key"][len(self.prefix) :] for page in pages for item in page.get("Contents", [])
        )

    def read(self, key: str) -> bytes:
        body = self.client.get_object(Bucket=self.bucket, Key=self.prefix + key)["Body"]  # type: ignore[attr-defined]
        return bytes(body.read())

    def overwrite(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + key, Body=data)  # type: ignore[attr-defined]

    def remove(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self.prefix + key)  # type: ignore[attr-defined]


@dataclass
class Backend:
    name: str
    blobs: BlobStore
    inspector: Inspector


def make_bucket(endpoint: str) -> tuple[object, str]:
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    bucket = f"pit-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return client, bucket


@pytest_asyncio.fixture(params=["local", "s3"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "local":
        root = tmp_path / "store"
        yield Backend("local", LocalBlobStore(root), FileInspector(root))
        return
    endpoint = request.getfixturevalue("s3_endpoint")
    client, bucket = make_bucket(endpoint)
    blobs = S3BlobStore(bucket, "team/a", endpoint_url=endpoint, region="us-east-1")
    try:
        yield Backend("s3", blobs, BucketInspector(client, bucket, "team/a/"))
    finally:
        await blobs.close()


@pytest_asyncio.fixture
async def store(backend: Backend) -> AsyncIterator[ArtifactStore]:
    """A facade over each real backend, with a fake index and small chunks."""
    facade = ArtifactStore(
        backend.blobs, FakeIndex(), chunking_threshold=64 * 1024, chunk_params=SMALL_CHUNKS
    )
    yield facade


@pytest.fixture
def stalled_endpoint() -> Iterator[str]:
    """A loopback HTTP endpoint that accepts every connection and never answers."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.1)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for connection in held:
            connection.close()
        server.close()


@pytest.fixture
def pit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """`pit --state-dir <tmp>/state artifact ...` in-process, from `tmp_path`; its exit code."""
    monkeypatch.chdir(tmp_path)
    for name in ("PIT_STORAGE__URL", "PIT_SEARCH__URL", "PIT_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str) -> int:
        return run(["--state-dir", str(tmp_path / "state"), "artifact", *args])

    return invoke
