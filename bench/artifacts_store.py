"""Artifact store benchmarks: each write-side goal of issue 17 against a baseline measured in
the same run, on the same disk.

    python -m bench.artifacts_store            # the full run (a 1 GiB ingest, 50 versions)
    python -m bench.artifacts_store --quick    # smaller sizes, for a smoke run

| goal | figure | baseline |
| --- | --- | --- |
| put 4 KiB within 1.5x | store put p50 | write + fsync + rename + fsync dir (`atomic_write`) |
| put 1 MiB under 5 ms | store put p50 | the same plain write, for scale |
| ingest of a 1 GiB file at 300 MiB/s or more | `put(name, Path)` | copying the file with fsync |
| dedup no worse than before | stored/logical, 50 versions | the old hand-written chunker |

Gets are printed too (their goal belongs to the read path). Timings are noisy on a shared
machine: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import random
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench import legacy_chunking
from bench._report import report
from pit.artifacts.chunking import DEFAULT_PARAMS, ChunkParams
from pit.artifacts.store import ArtifactStore
from pit.common.fs import atomic_write
from pit.infra.blob_local import LocalBlobStore
from pit.infra.sqlite_index import SqliteIndex

MiB = 2**20
_COPY_BLOCK = 8 * MiB


@dataclass(frozen=True)
class Row:
    goal: str
    figure: str
    baseline: str
    ratio: float
    met: bool


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:.3f} ms"


PARAMS = DEFAULT_PARAMS
"""Chunk parameters of the stores (`--avg-kib` and `--normalization` set others, to compare)."""


def open_store(root: Path, name: str) -> ArtifactStore:
    blobs, index = LocalBlobStore(root / name), SqliteIndex(root / f"{name}.sqlite")
    return ArtifactStore(blobs, index, chunk_params=PARAMS)


async def latency(root: Path, size: int, rounds: int) -> tuple[float, float]:
    """(store put p50, plain write p50); prints puts and gets with p99."""
    store = open_store(root, f"latency-{size}")
    rng = random.Random(size)
    payloads = [rng.randbytes(size) for _ in range(rounds)]
    put_s, get_s, base_put, base_get = [], [], [], []
    (root / "plain").mkdir(exist_ok=True)
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
            f"{what} {label:>8}: store p50 {fmt(p50):>9} p99 {fmt(p99):>9} | "
            f"plain p50 {fmt(b50):>9} p99 {fmt(b99):>9} | ratio p50 {p50 / b50:4.1f}x "
            f"p99 {p99 / b99:4.1f}x"
        )
    return percentile(put_s, 0.5), percentile(base_put, 0.5)


def write_random_file(path: Path, size: int) -> None:
    with path.open("wb") as out:
        for index in range(0, size, 16 * MiB):
            out.write(random.Random(index).randbytes(min(16 * MiB, size - index)))


def plain_copy(source: Path, target: Path) -> None:
    """The baseline of an ingest: the file's bytes written once more, durably."""
    with source.open("rb") as src, target.open("wb") as out:
        while block := src.read(_COPY_BLOCK):
            out.write(block)
        out.flush()
        os.fsync(out.fileno())


async def ingest(root: Path, size: int) -> tuple[float, float]:
    """(store MiB/s, plain copy MiB/s) for a put of a `size`-byte file of random bytes."""
    source = root / "ingest-source.bin"
    write_random_file(source, size)
    plain_copy(source, root / "warm-cache.bin")  # both runs read a file in the page cache
    (root / "warm-cache.bin").unlink()
    started = time.perf_counter()
    plain_copy(source, root / "ingest-copy.bin")
    plain = size / MiB / (time.perf_counter() - started)
    (root / "ingest-copy.bin").unlink()
    store = open_store(root, "ingest")
    started = time.perf_counter()
    result = await store.put("corpus/huge.bin", source)
    ours = size / MiB / (time.perf_counter() - started)
    manifest = await store.manifest("corpus/huge.bin")
    await store.close()
    chunks = len(manifest.chunks or ())
    print(
        f"ingest {size / MiB:.0f} MiB file: store {ours:6.0f} MiB/s ({chunks} chunks) | "
        f"plain copy + fsync {plain:6.0f} MiB/s | ratio {ours / plain:4.2f}x"
    )
    assert result.size == size
    source.unlink()
    return ours, plain


def edited_versions(versions: int, size: int) -> Iterator[bytes]:
    """The same file, `versions` times, each after five small edits."""
    rng = random.Random(7)
    content = bytearray(rng.randbytes(size))
    for _ in range(versions):
        for _edit in range(3):  # three small edits per version: an overwrite, an insert, a cut
            at = rng.randrange(len(content) - 100)
            content[at : at + 16] = rng.randbytes(16)
        at = rng.randrange(len(content))
        content[at:at] = b"inserted line\n"
        at = rng.randrange(len(content) - 100)
        del content[at : at + 10]
        yield bytes(content)


def legacy_stored_ratio(versions: int, size: int) -> tuple[float, int]:
    """What the old chunker stored of the same versions: distinct chunk bytes / logical."""
    seen: dict[bytes, int] = {}
    logical = 0
    for content in edited_versions(versions, size):
        logical += len(content)
        for chunk in legacy_chunking.chunk_bytes(content):
            seen.setdefault(hashlib.sha256(chunk).digest(), len(chunk))
    return sum(seen.values()) / logical, len(seen)


async def dedup(root: Path, versions: int, size: int) -> tuple[float, float]:
    """(stored/logical of the store, stored/logical of the old chunker) for `versions` edited
    versions of a `size`-byte file."""
    store = open_store(root, "dedup")
    elapsed = 0.0
    for content in edited_versions(versions, size):
        started = time.perf_counter()
        await store.put("corpus/big.bin", content)
        elapsed += time.perf_counter() - started
    stats = await store.stats()
    await store.close()
    ours = stats.stored_bytes / stats.logical_bytes
    legacy, legacy_blobs = legacy_stored_ratio(versions, size)
    print(
        f"dedup: {versions} versions of a {size / MiB:.0f} MiB file with small edits: "
        f"stored/logical {ours:.3f} ({stats.blobs} blobs, {versions * size / MiB / elapsed:.0f}"
        f" MiB/s put) | old chunker {legacy:.3f} ({legacy_blobs} blobs)"
    )
    return ours, legacy


def table(rows: list[Row]) -> None:
    print()
    print("| goal | figure | baseline (same run) | ratio | met |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        met = "yes" if row.met else "no"
        print(f"| {row.goal} | {row.figure} | {row.baseline} | {row.ratio:.2f}x | {met} |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--rounds", type=int, help="puts of each size (200; quick 50)")
    parser.add_argument("--ingest-mib", type=int, help="size of the ingested file (1024; 128)")
    parser.add_argument("--versions", type=int, help="versions in the dedup run (50; 10)")
    parser.add_argument("--size-mib", type=int, help="file size in the dedup run (20; 8)")
    parser.add_argument("--avg-kib", type=int, help="expected chunk size (the default's)")
    parser.add_argument("--normalization", type=int, choices=range(4), help="FastCDC level")
    args = parser.parse_args()
    global PARAMS
    if args.avg_kib or args.normalization is not None:
        avg = (args.avg_kib or DEFAULT_PARAMS.avg_size // 1024) * 1024
        level = DEFAULT_PARAMS.normalization if args.normalization is None else args.normalization
        PARAMS = ChunkParams(avg // 4, avg, avg * 4, level)
    rounds = args.rounds or (50 if args.quick else 200)
    ingest_mib = args.ingest_mib or (128 if args.quick else 1024)
    versions = args.versions or (10 if args.quick else 50)
    size_mib = args.size_mib or (8 if args.quick else 20)
    with tempfile.TemporaryDirectory(prefix="pit-bench-") as tmp:
        root = Path(tmp)
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"local store under {root} (cpu count {os.cpu_count()}, load average {load})")
        print(f"chunks: {PARAMS}")
        small, small_plain = await latency(root, 4 * 1024, rounds)
        large, large_plain = await latency(root, MiB, max(rounds // 2, 10))
        rate, rate_plain = await ingest(root, ingest_mib * MiB)
        stored, stored_legacy = await dedup(root, versions, size_mib * MiB)
    rows = [
        Row(
            "put 4 KiB within 1.5x of a plain write",
            f"p50 {fmt(small)}",
            f"plain write+fsync+rename p50 {fmt(small_plain)}",
            small / small_plain,
            small / small_plain <= 1.5,
        ),
        Row(
            "put 1 MiB under 5 ms",
            f"p50 {fmt(large)}",
            f"plain write+fsync+rename p50 {fmt(large_plain)}",
            large / large_plain,
            large < 0.005,
        ),
        Row(
            f"ingest of a {ingest_mib} MiB file at 300 MiB/s or more",
            f"{rate:.0f} MiB/s",
            f"plain copy + fsync {rate_plain:.0f} MiB/s",
            rate / rate_plain,
            rate >= 300,
        ),
        Row(
            f"dedup ({versions} versions) no worse than the old chunker",
            f"stored/logical {stored:.3f}",
            f"old chunker {stored_legacy:.3f}",
            stored / stored_legacy,
            stored <= stored_legacy,
        ),
    ]
    table(rows)
    plain = "write+fsync+rename"
    headline = (
        ("put 4 KiB p50", small * 1e3, small_plain * 1e3, "ms", plain),
        ("put 1 MiB p50", large * 1e3, large_plain * 1e3, "ms", plain),
        (f"ingest {ingest_mib} MiB", rate, rate_plain, "MiB/s", "copy + fsync"),
        (f"dedup stored/logical, {versions} versions", stored, stored_legacy, "", "old chunker"),
    )
    for (figure, value, base, unit, label), row in zip(headline, rows, strict=True):
        report(
            "artifacts_store",
            figure,
            value,
            unit,
            baseline=base,
            baseline_label=label,
            goal=row.goal,
            met=row.met,
        )
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"\nload average after the run: {load}")


if __name__ == "__main__":
    asyncio.run(main())
