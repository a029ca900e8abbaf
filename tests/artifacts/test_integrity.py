"""Nothing on disk or in the bucket is trusted without a check: rotted blobs, edited
manifests, legacy manifests, and what `verify --repair` can and cannot bring back. Run on the
local directory and on S3 (moto), with a second view of each checking what is stored."""

from __future__ import annotations

import json
import os

import pytest

from pit.artifacts.hashing import digest_of
from pit.artifacts.store import ArtifactStore
from pit.common.errors import IntegrityError, NotFoundError
from tests.artifacts.conftest import SMALL_CHUNKS, Backend
from tests.artifacts.fakes import FakeIndex

MANIFEST = "manifests/doc/@v/0000000001.json"


def blob_key(backend: Backend, digest: str) -> str:
    return next(k for k in backend.inspector.stored_keys() if digest[7:] in k)


def edit_manifest(backend: Backend, key: str, **changes: object) -> None:
    """Change fields of a stored manifest, keeping its (now stale) checksum."""
    body = json.loads(backend.inspector.read(key))
    body.update(changes)
    backend.inspector.overwrite(key, json.dumps(body, indent=2).encode())


def rot(data: bytes) -> bytes:
    """The same length, one byte different."""
    return data[:-1] + bytes([data[-1] ^ 0x01])


async def test_a_rotted_blob_is_rewritten_by_the_next_put_of_its_bytes(
    store: ArtifactStore, backend: Backend
) -> None:
    data = b"precious bytes that must survive"
    first = await store.put("doc", data)
    key = blob_key(backend, first.digest)
    backend.inspector.overwrite(key, rot(data))
    second = await store.put("copy", data)
    assert second.deduplicated is False  # the rotted blob was not trusted
    assert backend.inspector.read(key) == data  # a second view sees the bytes healed
    assert (await store.get("copy")).data == data
    assert (await store.get("doc")).data == data
    assert (await store.verify()).ok


async def test_a_dedup_hit_on_an_intact_blob_writes_nothing(
    store: ArtifactStore, backend: Backend
) -> None:
    await store.put("doc", b"stable content")
    again = await store.put("other", b"stable content")
    assert again.deduplicated is True
    assert [k for k in backend.inspector.stored_keys() if k.startswith("blobs/")] == [
        blob_key(backend, again.digest)
    ]


async def test_a_put_of_wrong_bytes_for_a_stored_digest_is_refused_and_keeps_the_blob(
    backend: Backend,
) -> None:
    good = b"the real content"
    await backend.blobs.put_blob(digest_of(good), good)
    with pytest.raises(IntegrityError):
        await backend.blobs.put_blob(digest_of(good), b"the fake content")
    assert b"".join([p async for p in backend.blobs.open_blob(digest_of(good))]) == good


@pytest.mark.parametrize("field", ["digest", "size"])
async def test_an_edited_manifest_is_refused_by_get_and_reported_by_verify(
    store: ArtifactStore, backend: Backend, field: str
) -> None:
    await store.put("doc", b"the document")
    other = await store.put("other", b"another document, longer")
    change = {"digest": other.digest, "size": other.size}[field]
    edit_manifest(backend, MANIFEST, **{field: change})
    with pytest.raises(IntegrityError, match="altered"):
        await store.get("doc")
    report = await store.verify()
    assert [(m.name, m.version) for m in report.bad_manifests] == [("doc", 1)]
    assert "checksum" in report.bad_manifests[0].problem
    assert not report.ok


async def test_a_manifest_without_checksum_is_still_read_and_counted_by_verify(
    store: ArtifactStore, backend: Backend
) -> None:
    await store.put("doc", b"written before checksums")
    body = json.loads(backend.inspector.read(MANIFEST))
    del body["checksum"]
    backend.inspector.overwrite(MANIFEST, json.dumps(body).encode())
    assert (await store.get("doc")).data == b"written before checksums"
    report = await store.verify()
    assert report.ok and report.unsealed_manifests == 1


async def test_a_legacy_manifest_with_a_wrong_size_is_caught_by_get_and_verify(
    store: ArtifactStore, backend: Backend
) -> None:
    await store.put("doc", b"twelve bytes")
    body = json.loads(backend.inspector.read(MANIFEST))
    del body["checksum"]
    body["size"] = 11
    backend.inspector.overwrite(MANIFEST, json.dumps(body).encode())
    with pytest.raises(IntegrityError, match="11 bytes its manifest records"):
        await store.get("doc")
    problems = [m.problem for m in (await store.verify()).bad_manifests]
    assert problems == ["records 11 bytes, its blob holds 12"]


async def test_a_legacy_chunked_manifest_whose_chunks_were_swapped_fails_verify(
    store: ArtifactStore, backend: Backend
) -> None:
    data = os.urandom(200 * 1024)
    await store.put("doc", data)
    body = json.loads(backend.inspector.read(MANIFEST))
    del body["checksum"]
    body["chunks"] = [body["chunks"][1], body["chunks"][0], *body["chunks"][2:]]
    backend.inspector.overwrite(MANIFEST, json.dumps(body).encode())
    with pytest.raises(IntegrityError):
        await store.get("doc")
    problems = [m.problem for m in (await store.verify()).bad_manifests]
    assert len(problems) == 1 and "chunks hash to" in problems[0]


async def test_a_manifest_copied_to_another_version_is_refused(
    store: ArtifactStore, backend: Backend
) -> None:
    await store.put("doc", b"one")
    await store.put("doc", b"two")
    backend.inspector.overwrite(
        "manifests/doc/@v/0000000002.json", backend.inspector.read(MANIFEST)
    )
    with pytest.raises(IntegrityError, match="describes doc v1"):
        await store.get("doc", 2)


async def same_content_twice(backend: Backend) -> tuple[ArtifactStore, ArtifactStore, bytes]:
    """Two views of one blob store: one keeps content whole, one chunks it (as after a change
    of the chunking threshold); and content for both."""
    whole = ArtifactStore(backend.blobs, FakeIndex(), chunking_threshold=1 << 30)
    chunked = ArtifactStore(
        backend.blobs, FakeIndex(), chunking_threshold=64 * 1024, chunk_params=SMALL_CHUNKS
    )
    return whole, chunked, os.urandom(150 * 1024)


async def test_repair_rebuilds_a_whole_blob_from_another_versions_chunks(
    backend: Backend,
) -> None:
    whole, chunked, data = await same_content_twice(backend)
    first = await whole.put("whole", data)
    await chunked.put("chunked", data)
    key = blob_key(backend, first.digest)
    backend.inspector.overwrite(key, rot(backend.inspector.read(key)))
    assert (await whole.verify()).corrupt == (first.digest,)
    report = await whole.verify(repair=True)
    assert report.repaired == (first.digest,) and report.ok
    assert backend.inspector.read(key) == data
    assert (await whole.get("whole")).data == data


async def test_repair_rebuilds_a_missing_chunk_from_the_whole_content_elsewhere(
    backend: Backend,
) -> None:
    whole, chunked, data = await same_content_twice(backend)
    await whole.put("whole", data)
    await chunked.put("chunked", data)
    lost = (await chunked.manifest("chunked")).chunks[2]  # type: ignore[index]
    backend.inspector.remove(blob_key(backend, lost.digest))
    report = await chunked.verify()
    assert [m.digest for m in report.missing] == [lost.digest]
    repaired = await chunked.verify(repair=True)
    assert repaired.repaired == (lost.digest,) and repaired.ok
    assert (await chunked.get("chunked")).data == data


async def test_repair_says_what_it_could_not_restore(
    store: ArtifactStore, backend: Backend
) -> None:
    result = await store.put("doc", b"the only copy")
    key = blob_key(backend, result.digest)
    backend.inspector.overwrite(key, b"the only cop!")
    report = await store.verify(repair=True)
    assert report.repaired == ()
    assert report.corrupt == (result.digest,)
    assert not report.ok
    with pytest.raises(IntegrityError):
        await store.get("doc")


async def test_verify_of_a_store_that_does_not_exist_is_not_found(backend: Backend) -> None:
    if backend.name == "s3":
        pytest.skip("an S3 prefix exists as soon as its bucket does")
    store = ArtifactStore(backend.blobs, FakeIndex())
    with pytest.raises(NotFoundError, match="no artifact store"):
        await store.verify()
    with pytest.raises(NotFoundError, match="no artifact store"):
        await store.stats()
