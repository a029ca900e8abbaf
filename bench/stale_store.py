"""Stale Manager on a real local store: bytes and cost before/after a cleanup, with real zstd.

    python -m bench.stale_store                   # 40 artifacts x 12 versions (about 20 s)
    python -m bench.stale_store --artifacts 10

The corpus: each artifact gets versions published every 15 days over 180 days; the content is
JSON-lines records (metrics-like, repetitive, as training logs and evaluation outputs are),
32..160 KiB a version; a version is read 3 times in the week after it is published, and the
newest of every third artifact once in the last week; every tenth artifact's first version is
tagged `release`. Tiers are local directories; cold blobs are zstd-compressed (level 10).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from pit.artifacts.store import ArtifactStore
from pit.common.clock import ManualClock
from pit.infra.blob_local import LocalBlobStore
from pit.infra.sqlite_index import SqliteIndex
from pit.infra.stale_plans import PlanStore
from pit.stale import parse_policy
from pit.stale.manager import StaleManager

NOW = datetime(2026, 7, 1, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "stale"


def content(rng: random.Random, artifact: int, version: int) -> bytes:
    rows = rng.randint(400, 2000)
    lines = [
        json.dumps(
            {
                "run": f"a{artifact}-v{version}",
                "step": step,
                "loss": round(rng.uniform(0.1, 3.0), 5),
                "accuracy": round(rng.random(), 5),
                "lr": 0.0003,
                "tag": rng.choice(["train", "eval", "test"]),
            }
        )
        for step in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


async def build(root: Path, artifacts: int, versions: int) -> ArtifactStore:
    clock = ManualClock(NOW)
    store = ArtifactStore(
        LocalBlobStore(root / "store"), SqliteIndex(root / "index.sqlite"), clock=clock
    )
    rng = random.Random(7)
    for a in range(artifacts):
        for v in range(versions):
            published = NOW - timedelta(days=180 - v * 15)
            clock._now = published
            tags = ["release"] if a % 10 == 0 and v == 0 else []
            put = await store.put(
                f"runs/a{a}", content(rng, a, v), tags=tags, media_type="application/x-ndjson"
            )
            for read in range(3):
                await store.index.record_access(
                    put.name, put.version, published + timedelta(days=read * 2)
                )
            if v == versions - 1 and a % 3 == 0:
                await store.index.record_access(put.name, put.version, NOW - timedelta(days=2))
    clock._now = NOW
    return store


async def measure(policy_file: Path, artifacts: int, versions: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        store = await build(root, artifacts, versions)
        built = time.perf_counter() - started
        text = policy_file.read_text()
        manager = StaleManager(store, PlanStore(root / "state"))
        before = await store.stats()
        plan, _ = await manager.plan(parse_policy(yaml.safe_load(text)), text, NOW)
        started = time.perf_counter()
        report = await manager.apply(plan.plan_id, NOW)
        applied = time.perf_counter() - started
        await manager.purge(NOW + timedelta(days=8), min_blob_age=timedelta(0))
        after = await store.stats()
        savings = report.savings
        await store.close()
        return {
            "policy": policy_file.name,
            "versions": before.versions,
            "deleted": len(report.deleted),
            "moved": len(report.moved),
            "stored_before": before.stored_bytes,
            "stored_after_purge": after.stored_bytes,
            "bytes_saved": 1 - after.stored_bytes / before.stored_bytes,
            "cost_before": savings["cost_before"],
            "cost_after": savings["cost_after"],
            "cost_saved": savings["cost_saved_ratio"],
            "build_s": round(built, 1),
            "apply_s": round(applied, 2),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--artifacts", type=int, default=40)
    parser.add_argument("--versions", type=int, default=12)
    args = parser.parse_args()
    for name in ("tiers-only.yaml", "default.yaml"):
        row = asyncio.run(measure(EXAMPLES / name, args.artifacts, args.versions))
        print(
            f"{row['policy']:<16} {row['versions']} versions: {row['deleted']} deleted, "
            f"{row['moved']} moved; stored {row['stored_before']:,} -> "
            f"{row['stored_after_purge']:,} B ({row['bytes_saved']:.1%} saved); "
            f"cost/90d ${row['cost_before']:.6f} -> ${row['cost_after']:.6f} "
            f"({row['cost_saved']:.1%} saved); apply {row['apply_s']} s"
        )


if __name__ == "__main__":
    main()
