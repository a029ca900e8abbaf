"""Search over 100,000 indexed text artifacts on the SQLite index, with a filter, against
two baselines measured on the same file in the same run.

    python -m bench.search_index            # 100,000 documents, 300 queries
    python -m bench.search_index --quick    # 10,000 documents, for a smoke run

Baselines: `bare FTS5` is the same MATCH ranked by bm25 straight through sqlite3 (no query
parsing, filters, snippets, thread hop or models: what our layer costs); `LIKE scan` is the
same words and filter as substring tests, unranked (what FTS5 saves).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._report import report
from pit.artifacts.index_port import Filter, IndexDocument, SearchQuery
from pit.infra.sqlite_index import SqliteIndex

MEDIA_TYPES = ("text/plain", "text/markdown", "application/json")
TARGET_MS = 100.0
SEED = 20260101


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 9))))
    return sorted(words)


def corpus(count: int, rng: random.Random) -> tuple[list[IndexDocument], list[str]]:
    words = vocabulary(5000, rng)
    weights = [1 / (rank + 1) for rank in range(len(words))]  # Zipf-like word frequencies
    cumulative = []
    total = 0.0
    for weight in weights:
        total += weight
        cumulative.append(total)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    documents = []
    for number in range(count):
        text = " ".join(rng.choices(words, cum_weights=cumulative, k=rng.randint(30, 120)))
        documents.append(
            IndexDocument(
                name=f"corpus/{number % 20000:05d}",
                version=number // 20000 + 1,
                digest=f"sha256:{number:064x}",
                size=len(text),
                media_type=MEDIA_TYPES[number % 3],
                created_at=start + timedelta(minutes=number),
                metadata={"team": f"team-{number % 7}", "score": number % 100},
                tags=("bench", f"shard-{number % 10}"),
                text=text,
            )
        )
    return documents, words


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def timed_async(queries: list[tuple[str, str]], run: Callable) -> list[float]:
    latencies = []
    for words, media_type in queries:
        began = time.perf_counter()
        await run(words, media_type)
        latencies.append((time.perf_counter() - began) * 1000)
    return latencies


async def main(count: int, query_count: int) -> None:
    rng = random.Random(SEED)
    began = time.perf_counter()
    documents, words = corpus(count, rng)
    print(f"generated {count:,} documents in {time.perf_counter() - began:.1f}s")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index.sqlite"
        index = SqliteIndex(path)
        began = time.perf_counter()
        for start in range(0, count, 5000):
            await index.index_many(documents[start : start + 5000])
        elapsed = time.perf_counter() - began
        print(f"indexed in {elapsed:.1f}s ({count / elapsed:,.0f} documents/s)")

        # two words from the frequent-to-middling band, and one media type (a third of all)
        band = words[20:600]
        queries = [
            (f"{rng.choice(band)} {rng.choice(band)}", rng.choice(MEDIA_TYPES))
            for _ in range(query_count)
        ]

        async def ours(text: str, media_type: str) -> None:
            await index.search(
                SearchQuery(text=text, filters=(Filter(field="media_type", value=media_type),))
            )

        raw = sqlite3.connect(path)

        async def bare_fts(text: str, media_type: str) -> None:
            raw.execute(
                "SELECT d.name, d.version FROM documents_fts JOIN documents d"
                " ON d.id = documents_fts.rowid WHERE documents_fts MATCH ?"
                " AND d.media_type = ? ORDER BY bm25(documents_fts) LIMIT 20",
                (text, media_type),
            ).fetchall()

        async def like_scan(text: str, media_type: str) -> None:
            first, second = text.split()
            raw.execute(
                "SELECT name, version FROM documents WHERE body LIKE ? AND body LIKE ?"
                " AND media_type = ? LIMIT 20",
                (f"%{first}%", f"%{second}%", media_type),
            ).fetchall()

        await timed_async(queries[:20], ours)  # warm the page cache
        results = {
            "SqliteIndex.search": await timed_async(queries, ours),
            "bare FTS5": await timed_async(queries, bare_fts),
            "LIKE scan": await timed_async(queries[: max(20, query_count // 10)], like_scan),
        }
        raw.close()
        await index.close()

    ours_p50 = percentile(results["SqliteIndex.search"], 50)
    ours_p99 = percentile(results["SqliteIndex.search"], 99)
    print(f"\nsearch, 2 words + media_type filter, {count:,} documents, limit 20")
    for label, latencies in results.items():
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        print(
            f"  {label:<20} p50 {p50:8.2f} ms  p99 {p99:8.2f} ms"
            f"  (ours/this: p50 {ours_p50 / p50:5.2f}x, p99 {ours_p99 / p99:5.2f}x;"
            f" n={len(latencies)})"
        )
    verdict = "meets" if ours_p99 < TARGET_MS else "misses"
    print(f"\ntarget p99 < {TARGET_MS:.0f} ms: {verdict} ({ours_p99:.2f} ms)")
    fts_p99 = percentile(results["bare FTS5"], 99)
    report(
        "search_index",
        f"search p99, {count:,} documents",
        ours_p99,
        "ms",
        baseline=fts_p99,
        baseline_label="bare FTS5",
        goal=f"< {TARGET_MS:.0f} ms",
        met=ours_p99 < TARGET_MS,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 documents")
    args = parser.parse_args()
    asyncio.run(main(10_000 if args.quick else 100_000, 100 if args.quick else 300))
