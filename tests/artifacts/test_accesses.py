"""Reads counted off the read path: batched, flushed on close, kept while the store is away."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

from pit.artifacts.accesses import ACCESSES_PREFIX, AccessRecorder, parse_batch
from pit.artifacts.records import MemoryRecords
from pit.common.errors import BackendUnavailableError

AT = datetime(2026, 1, 1, tzinfo=UTC)


class Flaky(MemoryRecords):
    """Records that refuse writes while `down`, counting every try."""

    def __init__(self) -> None:
        super().__init__()
        self.down = False
        self.tries = 0

    async def create_record(self, key: str, data: bytes, *, durable: bool = True) -> bool:
        self.tries += 1
        if self.down:
            raise BackendUnavailableError("s3 away")
        return await super().create_record(key, data, durable=durable)


def stored(records: MemoryRecords) -> list[str]:
    return [
        access.name
        for key, data in sorted(records.records.items())
        if key.startswith(ACCESSES_PREFIX)
        for access in parse_batch(data, key)
    ]


async def test_reads_wait_in_memory_and_close_writes_them_in_order() -> None:
    records = MemoryRecords()
    recorder = AccessRecorder(records, interval=3600, max_reads=1000)
    for name in ("a", "b", "c"):
        assert recorder.record(name, 1, AT) is False  # no flush due: nothing written
    assert records.records == {} and recorder.pending == 3
    await recorder.close()
    assert stored(records) == ["a", "b", "c"] and recorder.flushed == 3


async def test_a_full_batch_starts_a_flush_in_the_background() -> None:
    records = MemoryRecords()
    written: list[int] = []

    async def counted(key: str, batch: Sequence[object]) -> None:
        written.append(len(batch))

    recorder = AccessRecorder(records, interval=3600, max_reads=2, written=counted)
    assert recorder.record("a", 1, AT) is False
    assert recorder.record("b", 1, AT) is True  # due: the caller lets the loop run
    for _ in range(10):
        await asyncio.sleep(0)
    assert stored(records) == ["a", "b"] and written == [2]
    await recorder.close()


async def test_a_store_that_is_away_keeps_the_reads_and_is_not_hammered() -> None:
    records = Flaky()
    records.down = True
    recorder = AccessRecorder(records, interval=3600, max_reads=1)
    for name in ("a", "b", "c", "d"):
        recorder.record(name, 1, AT)
        for _ in range(5):
            await asyncio.sleep(0)
    assert records.tries == 1  # one failed try; the next waits an interval
    assert recorder.pending == 4
    records.down = False
    await recorder.close()
    assert stored(records) == ["a", "b", "c", "d"]
