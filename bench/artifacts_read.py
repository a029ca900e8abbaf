"""Artifact reads against a plain read of the same bytes (issue 17: get within 2x).

    python -m bench.artifacts_read            # 2,000 gets of a 4 KiB artifact
    python -m bench.artifacts_read --quick    # 300

Three figures, each a p50 over the same artifact on the same disk: `ArtifactStore.get` as it
is (reads counted in memory, written in batches), the same get followed by a synchronous
write of its read to the index (how every get paid before), and a plain `read_bytes()` of a
file holding the same bytes (the baseline). The ratio is get / plain read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from bench._report import report
from pit.artifacts.index_port import Access
from pit.artifacts.store import ArtifactStore
from pit.infra.artifact_factory import open_records
from pit.infra.blob_local import LocalBlobStore
from pit.infra.sqlite_index import SqliteIndex

SIZE = 4 * 1024
GOAL = 2.0


def p50(samples: list[float]) -> float:
    return sorted(samples)[len(samples) // 2]


async def measure(root: Path, rounds: int) -> tuple[float, float, float, int]:
    """(get p50, get + synchronous access write p50, plain read p50, reads in the store)."""
    blobs = LocalBlobStore(root / "store")
    store = ArtifactStore(blobs, SqliteIndex(root / "index.sqlite"), records=open_records(blobs))
    data = random.Random(1).randbytes(SIZE)
    await store.put("bench/read", data)
    plain = root / "plain.bin"
    plain.write_bytes(data)
    gets, synchronous, plains = [], [], []
    for _ in range(rounds):
        started = time.perf_counter()
        assert (await store.get("bench/read")).data == data
        gets.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert (await store.get("bench/read")).data == data
        at = datetime.now(UTC)
        await store.index.add_accesses(uuid.uuid4().hex, [Access("bench/read", 1, at)])
        synchronous.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert plain.read_bytes() == data
        plains.append(time.perf_counter() - started)
    await store.close()
    reopened = ArtifactStore(
        LocalBlobStore(root / "store"),
        SqliteIndex(root / "fresh.sqlite"),
        records=open_records(LocalBlobStore(root / "store")),
    )
    counted = (await reopened.access_stats([("bench/read", 1)]))[("bench/read", 1)].count
    await reopened.close()
    return p50(gets), p50(synchronous), p50(plains), counted


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 rounds instead of 2,000")
    parser.add_argument("--rounds", type=int, help="gets of each kind")
    args = parser.parse_args()
    rounds = args.rounds or (300 if args.quick else 2000)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    with tempfile.TemporaryDirectory(prefix="pit-bench-") as tmp:
        print(f"local store under {tmp} (cpu count {os.cpu_count()}, load average {load})")
        get, synchronous, plain, counted = await measure(Path(tmp), rounds)
    ratio = get / plain
    print(f"get 4 KiB p50 {get * 1e3:.3f} ms | plain read p50 {plain * 1e3:.3f} ms")
    print(f"get + synchronous access write p50 {synchronous * 1e3:.3f} ms (before: every get)")
    verdict = "met" if ratio <= GOAL else "missed"
    print(f"ratio get / plain read: {ratio:.2f}x (goal {GOAL:.0f}x: {verdict})")
    print(f"ratio get + synchronous write / plain read: {synchronous / plain:.2f}x")
    print(f"reads counted in the store after close: {counted} of {2 * rounds}")
    report(
        "artifacts_read",
        "get 4 KiB p50",
        get * 1e3,
        "ms",
        baseline=plain * 1e3,
        baseline_label="plain read_bytes",
        goal=f"get within {GOAL:.0f}x of a plain read",
        met=ratio <= GOAL,
    )


if __name__ == "__main__":
    asyncio.run(main())
