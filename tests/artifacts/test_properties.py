"""Invariants of the store, over arbitrary content and sequences of puts (in-memory ports)."""

from __future__ import annotations

import asyncio
import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.artifacts.chunking import Chunker, ChunkParams, chunk_bytes
from pit.artifacts.store import ArtifactStore
from tests.artifacts.fakes import FakeBlobStore, FakeIndex

TINY_CHUNKS = ChunkParams(min_size=64, avg_size=256, max_size=1024)
NAMES = st.sampled_from(["a", "b", "dir/c"])
CONTENT = st.one_of(st.binary(max_size=3000), st.sampled_from([b"", b"same", b"same" * 500]))
PUTS = st.lists(st.tuples(NAMES, CONTENT), min_size=1, max_size=12)


def fresh_store() -> ArtifactStore:
    return ArtifactStore(
        FakeBlobStore(), FakeIndex(), chunking_threshold=512, chunk_params=TINY_CHUNKS
    )


@settings(max_examples=60, deadline=None)
@given(PUTS)
def test_every_put_reads_back_the_same_bytes_with_its_sha256(puts: list[tuple[str, bytes]]) -> None:
    async def scenario() -> None:
        store = fresh_store()
        written = [(await store.put(name, data), data) for name, data in puts]
        for result, data in written:
            found = await store.get(result.name, result.version)
            assert found.data == data
            assert result.digest == "sha256:" + hashlib.sha256(data).hexdigest()

    asyncio.run(scenario())


@settings(max_examples=60, deadline=None)
@given(PUTS)
def test_dedup_stores_each_distinct_content_once_and_loses_nothing(
    puts: list[tuple[str, bytes]],
) -> None:
    async def scenario() -> None:
        store = fresh_store()
        seen: set[bytes] = set()
        for name, data in puts:
            result = await store.put(name, data)
            if data in seen:
                assert result.deduplicated
            seen.add(data)
        stats = await store.stats()
        assert stats.logical_bytes == sum(len(data) for _, data in puts)
        assert stats.stored_bytes <= sum(len(data) for data in seen)
        assert (await store.verify()).ok
        for name in {name for name, _ in puts}:
            for manifest in await store.versions(name):
                assert (await store.get(name, manifest.version)).data is not None

    asyncio.run(scenario())


@settings(max_examples=40, deadline=None)
@given(PUTS)
def test_version_history_is_append_only(puts: list[tuple[str, bytes]]) -> None:
    async def scenario() -> None:
        store = fresh_store()
        history: dict[str, list[str]] = {}
        for name, data in puts:
            before = [m.model_dump_json() for m in reversed(await _versions(store, name))]
            await store.put(name, data)
            after = [m.model_dump_json() for m in reversed(await _versions(store, name))]
            assert after[: len(before)] == before
            assert len(after) == len(before) + 1
            history[name] = after
        for name, manifests in history.items():
            assert len(manifests) == sum(1 for n, _ in puts if n == name)

    asyncio.run(scenario())


async def _versions(store: ArtifactStore, name: str) -> list:
    return await store.versions(name) if await store.blobs.list_versions(name) else []


@settings(max_examples=80, deadline=None)
@given(st.binary(max_size=6000), st.lists(st.integers(1, 700), min_size=1, max_size=20))
def test_chunks_rebuild_the_content_and_do_not_depend_on_how_it_was_fed(
    data: bytes, cuts: list[int]
) -> None:
    whole = chunk_bytes(data, TINY_CHUNKS)
    chunker, fed, position = Chunker(TINY_CHUNKS), [], 0
    for size in cuts:
        fed += chunker.feed(data[position : position + size])
        position += size
    fed += chunker.feed(data[position:]) + chunker.finish()
    assert b"".join(whole) == data
    assert fed == whole
    assert all(len(chunk) <= TINY_CHUNKS.max_size for chunk in whole)
    assert all(len(chunk) >= TINY_CHUNKS.min_size for chunk in whole[:-1])
