"""Artifact store benchmarks: local put/get latency against plain files, and dedup savings.

Run: python -m bench.artifacts_store [--versions 50] [--size-mib 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import time
from pathlib import Path

from pit.artifacts.store import ArtifactStore
from pit.common.fs import atomic_write
from pit.infra.blob_local import LocalBlobStore
from pit.infra.sqlite_index import SqliteIndex


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:7.3f} ms"


async def latency(root: Path, size: int, rounds: int) -> None:
    store = ArtifactStore(LocalBlobStore(root / "store"), SqliteIndex(root / "index.sqlite"))
    rng = random.Random(size)
    payloads = [rng.randbytes(size) for _ in range(rounds)]
    put_s, get_s, base_put, base_get = [], [], [], []
    for i, data in enumerate(payloads):
        started = time.perf_counter()
        await store.put(f"bench/{size}/{i}", data)
        put_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert (await store.get(f"bench/{size}/{i}")).data == data
        get_s.append(time.perf_counter() - started)
        plain = root / "plain" / f"{size}-{i}"
        started = time.perf_counter()
        atomic_write(plain, data)
        base_put.append(time.perf_counter() - started)
        started = time.perf_counter()
        assert plain.read_bytes() == data
        base_get.append(time.perf_counter() - started)
    await store.close()
    label = f"{size // 1024} KiB"
    for what, ours, base in (("put", put_s, base_put), ("get", get_s, base_get)):
        p50, p99 = percentile(ours, 0.5), percentile(ours, 0.99)
        b50, b99 = percentile(base, 0.5), percentile(base, 0.99)
        print(
            f"{what} {label:>8}: store p50 {fmt(p50)} p99 {fmt(p99)} | "
            f"plain p50 {fmt(b50)} p99 {fmt(b99)} | ratio p50 {p50 / b50:5.1f}x "
            f"p99 {p99 / b99:5.1f}x"
        )


async def dedup(root: Path, versions: int, size: int) -> None:
    store = ArtifactStore(LocalBlobStore(root / "dedup"), SqliteIndex(root / "dedup.sqlite"))
    rng = random.Random(7)
    content = bytearray(rng.randbytes(size))
    started = time.perf_counter()
    for _ in range(versions):
        for _edit in range(3):  # three small edits per version: an overwrite, an insert, a cut
            at = rng.randrange(len(content) - 100)
            content[at : at + 16] = rng.randbytes(16)
        at = rng.randrange(len(content))
        content[at:at] = b"inserted line\n"
        at = rng.randrange(len(content) - 100)
        del content[at : at + 10]
        await store.put("corpus/big.bin", bytes(content))
    elapsed = time.perf_counter() - started
    stats = await store.stats()
    await store.close()
    print(
        f"dedup: {versions} versions of a {size / 2**20:.0f} MiB file with small edits: "
        f"logical {stats.logical_bytes / 2**20:.1f} MiB, stored {stats.stored_bytes / 2**20:.1f}"
        f" MiB, stored/logical {stats.stored_bytes / stats.logical_bytes:.3f} "
        f"({stats.blobs} blobs; {versions * size / 2**20 / elapsed:.0f} MiB/s ingested)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--versions", type=int, default=50)
    parser.add_argument("--size-mib", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pit-bench-") as tmp:
        root = Path(tmp)
        print(f"local store under {root} (cpu count {os.cpu_count()})")
        await latency(root, 4 * 1024, args.rounds)
        await latency(root, 1024 * 1024, args.rounds // 2)
        await dedup(root, args.versions, args.size_mib * 2**20)


if __name__ == "__main__":
    asyncio.run(main())
