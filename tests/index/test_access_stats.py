"""Access statistics: counts, `since`, last access, unknown keys, and surviving `clear`."""

from __future__ import annotations

from datetime import timedelta

from pit.artifacts.index_port import Access, AccessStats, SearchIndex
from tests.index.conftest import EPOCH, doc
from tests.reads import count_read


async def test_counts_every_access_and_keeps_the_latest_time(index: SearchIndex):
    for hours in (1, 5, 3):
        await count_read(index, "a", 1, EPOCH + timedelta(hours=hours))
    await count_read(index, "a", 2, EPOCH)
    stats = await index.access_stats([("a", 1), ("a", 2)])
    assert stats[("a", 1)] == AccessStats(count=3, last_access=EPOCH + timedelta(hours=5))
    assert stats[("a", 2)] == AccessStats(count=1, last_access=EPOCH)


async def test_since_counts_only_accesses_at_or_after_it(index: SearchIndex):
    for hours in (1, 2, 3, 4):
        await count_read(index, "a", 1, EPOCH + timedelta(hours=hours))
    stats = await index.access_stats([("a", 1)], since=EPOCH + timedelta(hours=3))
    assert stats[("a", 1)].count == 2
    assert stats[("a", 1)].last_access == EPOCH + timedelta(hours=4)


async def test_since_after_every_access_counts_zero_but_knows_the_last(index: SearchIndex):
    await count_read(index, "a", 1, EPOCH)
    stats = await index.access_stats([("a", 1)], since=EPOCH + timedelta(days=1))
    assert stats[("a", 1)] == AccessStats(count=0, last_access=EPOCH)


async def test_unknown_keys_get_zero_counts(index: SearchIndex):
    await count_read(index, "a", 1, EPOCH)
    stats = await index.access_stats([("never", 1), ("a", 9)])
    assert stats == {("never", 1): AccessStats(), ("a", 9): AccessStats()}
    assert await index.access_stats([]) == {}


async def test_clear_keeps_access_records(index: SearchIndex):
    await index.index(doc("a", text="x"))
    await count_read(index, "a", 1, EPOCH)
    await index.clear()
    assert (await index.access_stats([("a", 1)]))[("a", 1)].count == 1


async def test_naive_access_times_count_as_utc(index: SearchIndex):
    await count_read(index, "a", 1, EPOCH.replace(tzinfo=None))
    assert (await index.access_stats([("a", 1)]))[("a", 1)].last_access == EPOCH


async def test_a_batch_counted_twice_counts_once(index: SearchIndex):
    reads = [Access("a", 1, EPOCH), Access("a", 1, EPOCH + timedelta(hours=1))]
    await index.add_accesses("accesses/one.json", reads)
    await index.add_accesses("accesses/one.json", reads)
    await index.add_accesses("accesses/two.json", reads[:1])
    assert (await index.access_stats([("a", 1)]))[("a", 1)].count == 3


async def test_followed_keeps_recent_keys_and_always_the_greatest(index: SearchIndex):
    assert await index.followed("s") == frozenset()
    await index.mark_followed("s", ["k1", "k2", "k5"], forget_before="k0")
    await index.mark_followed("other", ["k9"], forget_before="k0")
    await index.mark_followed("s", ["k3"], forget_before="k3")
    assert await index.followed("s") == {"k3", "k5"}
    await index.mark_followed("s", [], forget_before="k9")
    assert await index.followed("s") == {"k5"}
