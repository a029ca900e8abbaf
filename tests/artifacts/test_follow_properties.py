"""Property: however puts, reads, deletes, flushes and catch-ups of several processes
interleave on one shared store, every process's index ends up with the same documents and
the same read counts, each read counted once."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.artifacts import lifecycle
from pit.artifacts.records import MemoryRecords
from pit.artifacts.store import ArtifactStore
from pit.common.clock import SystemClock
from tests.artifacts.fakes import FakeBlobStore, FakeIndex

PROCESSES = 3
NAMES = ("a/one", "a/two", "b/three")
step = st.tuples(
    st.integers(0, PROCESSES - 1),
    st.sampled_from(["put", "read", "delete", "flush", "catch_up"]),
    st.sampled_from(NAMES),
)


@settings(max_examples=40, deadline=None)
@given(steps=st.lists(step, max_size=40))
def test_every_index_converges_on_the_same_documents_and_counts(steps) -> None:
    asyncio.run(_run(steps))


async def _run(steps: list[tuple[int, str, str]]) -> None:
    blobs, records = FakeBlobStore(), MemoryRecords()
    stores = [
        ArtifactStore(blobs, FakeIndex(), records=records, access_interval=3600)
        for _ in range(PROCESSES)
    ]
    reads: dict[tuple[str, int], int] = {}
    for process, action, name in steps:
        store = stores[process]
        live = await store.live_versions(name)
        if action == "put":
            await store.put(name, f"text of {name} {len(live)}".encode(), media_type="text/plain")
        elif action == "read" and live:
            await store.get(name)
            reads[(name, live[-1])] = reads.get((name, live[-1]), 0) + 1
        elif action == "delete" and live:
            manifest = await store.manifest(name)
            await lifecycle.soft_delete(store, [manifest], at=SystemClock().now())
        elif action == "flush":
            await store.accesses.flush()
        elif action == "catch_up":
            await store.sync.catch_up(force=True)
    for store in stores:
        await store.accesses.flush()
    keys = sorted(set(reads) | {(n, v) for n in NAMES for v in range(1, 41)})
    seen = []
    for store in stores:
        await store.sync.catch_up(force=True)
        hits = await store.search("text", limit=1000)
        counts = await store.access_stats(keys)
        seen.append(
            (
                sorted((hit.name, hit.version) for hit in hits),
                {key: stat.count for key, stat in counts.items() if stat.count},
            )
        )
    live = [(name, v) for name in sorted(NAMES) for v in await stores[0].live_versions(name)]
    assert all(view == seen[0] for view in seen)
    assert seen[0][0] == live
    assert seen[0][1] == reads
    for store in stores:
        await store.close()


class CountingBlobs(FakeBlobStore):
    def __init__(self) -> None:
        super().__init__()
        self.manifest_reads = 0

    async def get_manifest(self, name: str, version: int):  # type: ignore[no-untyped-def]
        self.manifest_reads += 1
        return await super().get_manifest(name, version)


async def test_catching_up_reads_only_what_changed_not_the_whole_store() -> None:
    blobs, records = CountingBlobs(), MemoryRecords()
    a = ArtifactStore(blobs, FakeIndex(), records=records)
    b = ArtifactStore(blobs, FakeIndex(), records=records)
    for number in range(20):
        await a.put(f"many/{number}", f"text {number}".encode(), media_type="text/plain")
    await b.sync.catch_up(force=True)  # a new index: built from the manifests, once
    # (and the change records of the last SETTLE applied on top: each reads its version)
    assert 20 <= blobs.manifest_reads <= 40
    await a.put("many/new", b"text new", media_type="text/plain")
    blobs.manifest_reads = 0
    assert await b.sync.catch_up(force=True) == 1  # one change record
    assert blobs.manifest_reads == 1  # the one version it names
    assert await b.sync.catch_up(force=True) == 0 and blobs.manifest_reads == 1
    assert [hit.name for hit in await b.search("new")] == ["many/new"]
