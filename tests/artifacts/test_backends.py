"""The behavioural suite of the blob store, run on the local directory and on S3 (moto).

A second, independent view of each backend (the files themselves, or a boto3 client) checks
what actually landed.
"""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from pit.artifacts.hashing import digest_of
from pit.artifacts.store import ArtifactStore
from pit.common.errors import ConflictError, IntegrityError, NotFoundError
from tests.artifacts.conftest import Backend


async def test_put_then_get_returns_the_same_bytes_and_digest(store: ArtifactStore) -> None:
    result = await store.put("reports/q1", b"quarterly numbers", media_type="text/plain")
    found = await store.get("reports/q1")
    assert found.data == b"quarterly numbers"
    assert result.digest == found.manifest.digest == digest_of(b"quarterly numbers")
    assert (result.version, result.size, result.deduplicated) == (1, 17, False)


async def test_blob_and_manifest_land_where_the_layout_says(
    store: ArtifactStore, backend: Backend
) -> None:
    result = await store.put("a/b", b"payload", metadata={"k": 1}, tags=["x"])
    hex_digits = result.digest.removeprefix("sha256:")
    keys = backend.inspector.stored_keys()
    assert any(key.endswith(hex_digits) and key.startswith("blobs/") for key in keys)
    assert backend.inspector.read(next(k for k in keys if k.endswith(hex_digits))) == b"payload"
    manifest = json.loads(backend.inspector.read("manifests/a/b/@v/0000000001.json"))
    assert manifest["digest"] == result.digest
    assert manifest["metadata"] == {"k": 1}
    assert manifest["tags"] == ["x"]


async def test_same_bytes_under_another_name_store_no_new_blob(
    store: ArtifactStore, backend: Backend
) -> None:
    await store.put("one", b"shared content")
    before = [k for k in backend.inspector.stored_keys() if k.startswith("blobs/")]
    second = await store.put("two", b"shared content")
    after = [k for k in backend.inspector.stored_keys() if k.startswith("blobs/")]
    assert second.deduplicated is True
    assert before == after
    assert (await store.get("two")).data == b"shared content"


async def test_versions_are_numbered_in_order_and_link_to_the_previous(
    store: ArtifactStore,
) -> None:
    for text in (b"v1", b"v2", b"v3"):
        await store.put("doc", text)
    manifests = await store.versions("doc")
    assert [m.version for m in manifests] == [3, 2, 1]
    assert [m.previous_version for m in manifests] == [2, 1, None]
    assert (await store.get("doc", 2)).data == b"v2"


async def test_large_content_is_chunked_and_an_edit_stores_only_changed_chunks(
    store: ArtifactStore,
) -> None:
    original = os.urandom(600 * 1024)
    first = await store.put("big", original)
    stored_before = (await store.stats()).stored_bytes
    edited = original[:300_000] + b"EDIT" + original[300_004:]
    second = await store.put("big", edited)
    stats = await store.stats()
    assert first.digest == digest_of(original) and second.digest == digest_of(edited)
    assert (await store.get("big", 1)).data == original
    assert (await store.get("big", 2)).data == edited
    assert stats.stored_bytes - stored_before < 100 * 1024  # a few 4 KiB-average chunks
    assert stats.logical_bytes == 2 * len(original)


async def test_creating_an_existing_manifest_conflicts(store: ArtifactStore) -> None:
    await store.put("doc", b"first")
    manifest = await store.manifest("doc", 1)
    with pytest.raises(ConflictError):
        await store.blobs.create_manifest(manifest.model_copy(update={"digest": digest_of(b"x")}))
    assert (await store.get("doc", 1)).data == b"first"


async def test_concurrent_writers_of_one_name_all_get_distinct_versions(
    store: ArtifactStore,
) -> None:
    payloads = [f"writer {i}".encode() for i in range(8)]
    results = await asyncio.gather(*(store.put("race", data) for data in payloads))
    assert sorted(r.version for r in results) == list(range(1, 9))
    for result, data in zip(results, payloads, strict=True):
        assert (await store.get("race", result.version)).data == data


async def test_a_corrupted_blob_fails_the_read_with_an_integrity_error(
    store: ArtifactStore, backend: Backend
) -> None:
    result = await store.put("doc", b"precious bytes")
    key = next(k for k in backend.inspector.stored_keys() if k.endswith(result.digest[7:]))
    backend.inspector.overwrite(key, b"precious bytez")
    with pytest.raises(IntegrityError):
        await store.get("doc")
    report = await store.verify()
    assert report.corrupt == (result.digest,)
    assert not report.ok


async def test_verify_lists_a_missing_blob_with_the_version_that_needs_it(
    store: ArtifactStore, backend: Backend
) -> None:
    result = await store.put("doc", b"soon gone")
    key = next(k for k in backend.inspector.stored_keys() if k.endswith(result.digest[7:]))
    backend.inspector.remove(key)
    report = await store.verify()
    assert [(m.name, m.version, m.digest) for m in report.missing] == [("doc", 1, result.digest)]
    with pytest.raises(NotFoundError):
        await store.get("doc")


async def test_a_missing_version_is_not_found_and_names_the_latest(store: ArtifactStore) -> None:
    await store.put("doc", b"only one")
    with pytest.raises(NotFoundError, match="latest is v1"):
        await store.get("doc", 5)
    with pytest.raises(NotFoundError):
        await store.get("never-stored")


async def test_stats_count_names_versions_and_savings(store: ArtifactStore) -> None:
    await store.put("a", b"x" * 1000)
    await store.put("b", b"x" * 1000)
    await store.put("a", b"y" * 10)
    stats = await store.stats()
    assert (stats.artifacts, stats.versions, stats.blobs) == (2, 3, 2)
    assert (stats.logical_bytes, stats.stored_bytes, stats.saved_bytes) == (2010, 1010, 1000)


async def test_a_blob_put_with_the_wrong_digest_is_refused_and_not_stored(
    backend: Backend,
) -> None:
    with pytest.raises(IntegrityError):
        await backend.blobs.put_blob(digest_of(b"claimed"), b"actual")
    assert not await backend.blobs.has_blob(digest_of(b"claimed"))
    assert [k for k in backend.inspector.stored_keys() if k.startswith("blobs/")] == []


async def test_names_list_every_artifact_once(store: ArtifactStore) -> None:
    for name in ("a", "a/b", "a/b/c", "z"):
        await store.put(name, name.encode())
        await store.put(name, name.encode() + b"!")
    assert [n async for n in store.blobs.list_names()] == ["a", "a/b", "a/b/c", "z"]
