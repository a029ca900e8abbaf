"""A store written by the old hand-written chunker stays readable after the switch to FastCDC:
manifests list their chunks, and reading never cuts anything again."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

from bench import legacy_chunking
from pit.artifacts.chunking import chunk_bytes
from pit.artifacts.hashing import digest_of
from pit.artifacts.manifest import ChunkRef, Manifest
from pit.artifacts.store import ArtifactStore
from pit.infra.blob_local import LocalBlobStore
from tests.artifacts.fakes import FakeIndex

SIZE = 9 * 1024 * 1024


async def write_as_the_old_chunker_did(blobs: LocalBlobStore, name: str, data: bytes) -> Manifest:
    """What a put of `data` stored before the switch: one blob per legacy chunk, then the
    manifest that lists them."""
    chunks = legacy_chunking.chunk_bytes(data)
    for chunk in chunks:
        await blobs.put_blob(digest_of(chunk), chunk)
    manifest = Manifest(
        name=name,
        version=1,
        digest=digest_of(data),
        size=len(data),
        created_at=datetime(2026, 1, 1, tzinfo=UTC),
        chunks=tuple(ChunkRef(digest=digest_of(chunk), size=len(chunk)) for chunk in chunks),
    )
    await blobs.create_manifest(manifest)
    return manifest


async def test_a_version_chunked_by_the_old_chunker_reads_back_and_verifies(tmp_path: Path) -> None:
    data = random.Random(11).randbytes(SIZE)
    old = legacy_chunking.chunk_bytes(data)
    assert [len(c) for c in old] != [len(c) for c in chunk_bytes(data)]  # other boundaries
    blobs = LocalBlobStore(tmp_path / "store")
    written = await write_as_the_old_chunker_did(blobs, "legacy/model.bin", data)

    store = ArtifactStore(LocalBlobStore(tmp_path / "store"), FakeIndex())
    found = await store.get("legacy/model.bin", 1)
    assert found.data == data
    assert found.manifest.chunks == written.chunks
    pieces = [piece async for piece in await store.open("legacy/model.bin", 1)]
    assert b"".join(pieces) == data
    assert (await store.verify()).ok


async def test_the_same_content_put_after_the_switch_is_chunked_anew_and_both_read_back(
    tmp_path: Path,
) -> None:
    """Dedup between old and new chunking is lost: the same bytes put again are stored in new
    chunks (the whole-content digest is the same), and both versions read back."""
    data = random.Random(12).randbytes(SIZE)
    blobs = LocalBlobStore(tmp_path / "store")
    old = await write_as_the_old_chunker_did(blobs, "legacy/data.bin", data)
    store = ArtifactStore(blobs, FakeIndex())
    before = await store.stats()

    result = await store.put("legacy/data.bin", data)
    assert (result.version, result.digest) == (2, old.digest)
    assert not result.deduplicated
    new = await store.manifest("legacy/data.bin", 2)
    assert new.chunks is not None and old.chunks is not None
    assert not {c.digest for c in new.chunks} & {c.digest for c in old.chunks}
    assert [c.size for c in new.chunks] == [len(c) for c in chunk_bytes(data)]
    assert (await store.stats()).stored_bytes == before.stored_bytes + SIZE
    for version in (1, 2):
        assert (await store.get("legacy/data.bin", version)).data == data
    assert (await store.verify()).ok
