"""The ingest pipeline: one stored form whatever the content's kind, each byte hashed once on the
way in, and a failed chunk write is the put's own error with nothing committed."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from pit.artifacts import ingest as ingest_module
from pit.artifacts.blob_port import BlobSource
from pit.artifacts.chunking import ChunkParams, chunk_bytes
from pit.artifacts.hashing import HashedBytes, StreamHasher, digest_of
from pit.artifacts.store import ArtifactStore
from pit.common.errors import CapacityError, IntegrityError, InvalidInputError
from pit.infra import blob_local
from pit.infra.blob_local import LocalBlobStore
from tests.artifacts.fakes import FakeBlobStore, FakeIndex

TINY = ChunkParams(min_size=64, avg_size=256, max_size=1024)
THRESHOLD = 2048


async def pieces(data: bytes, sizes: list[int]) -> AsyncIterator[bytes]:
    position = 0
    for size in sizes:
        yield data[position : position + size]
        position += size
    yield data[position:]


def tiny_store() -> ArtifactStore:
    return ArtifactStore(
        FakeBlobStore(), FakeIndex(), chunking_threshold=THRESHOLD, chunk_params=TINY
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.binary(max_size=9000),
    st.lists(st.integers(1, 3000), max_size=8),
    st.integers(1, 6000),
)
@example(data=random.Random(5).randbytes(7000), sizes=[5, 700], block=3)  # blocks < chunks
def test_bytes_a_file_and_a_stream_of_any_pieces_store_the_same_version(
    tmp_path: Path, data: bytes, sizes: list[int], block: int
) -> None:
    """Whatever the content's kind and however a stream or a file is cut into blocks, a put
    stores the same digest and the same chunks (those of the whole content)."""
    source = tmp_path / f"content-{len(data)}-{block}.bin"
    source.write_bytes(data)

    async def scenario() -> None:
        store = tiny_store()
        kinds = [data, source, pieces(data, sizes)]
        manifests = []
        for number, content in enumerate(kinds):
            await store.put(f"kind/{number}", content)
            manifests.append(await store.manifest(f"kind/{number}"))
        expected = None
        if len(data) >= THRESHOLD:
            expected = tuple(digest_of(chunk) for chunk in chunk_bytes(data, TINY))
        for manifest in manifests:
            assert manifest.digest == digest_of(data)
            assert manifest.size == len(data)
            chunks = None if manifest.chunks is None else tuple(c.digest for c in manifest.chunks)
            assert chunks == expected
        for number in range(len(kinds)):
            assert (await store.get(f"kind/{number}")).data == data

    original = ingest_module.BLOCK_SIZE
    ingest_module.BLOCK_SIZE = block  # files and gathered streams handed on in these blocks
    try:
        asyncio.run(scenario())
    finally:
        ingest_module.BLOCK_SIZE = original


class CountingHasher(StreamHasher):
    updates = 0

    def update(self, piece: bytes | bytearray | memoryview) -> None:
        CountingHasher.updates += 1
        super().update(piece)


async def test_the_local_store_does_not_hash_hashed_bytes_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(blob_local, "StreamHasher", CountingHasher)
    blobs = LocalBlobStore(tmp_path / "store")
    hashed = HashedBytes(b"chunk of content")
    assert await blobs.put_blob(hashed.digest, hashed)
    assert CountingHasher.updates == 0
    plain = b"other content"
    assert await blobs.put_blob(digest_of(plain), plain)
    assert CountingHasher.updates == 1  # plain bytes are hashed by the store, as before
    stored = b"".join([piece async for piece in blobs.open_blob(hashed.digest)])
    assert stored == hashed


async def test_hashed_bytes_under_another_digest_are_refused_and_nothing_is_stored(
    tmp_path: Path,
) -> None:
    blobs = LocalBlobStore(tmp_path / "store")
    hashed = HashedBytes(b"the real bytes")
    claimed = digest_of(b"something else")
    with pytest.raises(IntegrityError, match="blob not stored"):
        await blobs.put_blob(claimed, hashed)
    assert not await blobs.has_blob(claimed)
    assert not await blobs.has_blob(hashed.digest)


class FailingBlobStore(FakeBlobStore):
    """Fails the `fail_at`-th blob write with a full disk."""

    def __init__(self, fail_at: int) -> None:
        super().__init__()
        self.fail_at = fail_at
        self.writes = 0

    async def put_blob(
        self, digest: str, content: BlobSource, *, storage_class: str | None = None
    ) -> bool:
        self.writes += 1
        if self.writes == self.fail_at:
            await asyncio.sleep(0)  # other chunk writes are in flight meanwhile
            raise CapacityError("no space left on device")
        return await super().put_blob(digest, content, storage_class=storage_class)


@pytest.mark.parametrize("fail_at", [1, 3, 40])
async def test_a_failed_chunk_write_is_the_puts_error_and_no_version_is_committed(
    fail_at: int,
) -> None:
    blobs = FailingBlobStore(fail_at)
    store = ArtifactStore(blobs, FakeIndex(), chunking_threshold=THRESHOLD, chunk_params=TINY)
    data = random.Random(fail_at).randbytes(60_000)
    with pytest.raises(CapacityError, match="no space left"):
        await store.put("fails/here", data)
    assert await blobs.list_versions("fails/here") == []
    assert len(chunk_bytes(data, TINY)) > 40
    assert blobs.writes <= fail_at + ingest_module.CHUNK_WRITES  # none started once it was known
    # the store is usable afterwards, and the same content goes in whole
    blobs.fail_at = 0
    result = await store.put("fails/here", data)
    assert (await store.get("fails/here", result.version)).data == data


async def test_content_of_more_chunks_than_a_manifest_can_list_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ingest_module, "MAX_CHUNKS", 8)
    store = tiny_store()
    data = random.Random(8).randbytes(20_000)
    with pytest.raises(InvalidInputError, match=r"content.*at most 8 chunks"):
        await store.put("too/many", data)
    assert await store.blobs.list_versions("too/many") == []
    small = data[:THRESHOLD]
    assert len(chunk_bytes(small, TINY)) <= 8
    assert (await store.get("too/many", (await store.put("too/many", small)).version)).data == small
