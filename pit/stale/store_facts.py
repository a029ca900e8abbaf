"""The Stale Manager's view of an artifact store: `VersionFacts` from manifests, blob tiers
and the index's access statistics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pit.artifacts.blob_port import BlobInfo
from pit.artifacts.maintenance import all_manifests
from pit.artifacts.manifest import Manifest
from pit.artifacts.store import ArtifactStore
from pit.common.errors import BackendUnavailableError
from pit.common.logging import get_logger
from pit.stale.facts import TIERS_BY_DEPTH, Tier, VersionFacts, window_key, with_ranks
from pit.stale.policy import Policy, required_windows

log = get_logger("pit.stale")
_THIRTY_DAYS = timedelta(days=30)
"""The read window the savings model uses for expected retrievals."""


async def blob_infos(store: ArtifactStore) -> dict[str, BlobInfo]:
    """Every stored blob by digest: its tier, stored size and last write."""
    return {info.digest: info async for info in store.blobs.list_blobs()}


async def live_manifests(store: ArtifactStore) -> list[Manifest]:
    return [manifest async for manifest in all_manifests(store.blobs)]


def version_tier(manifest: Manifest, blobs: dict[str, BlobInfo]) -> Tier:
    """A version sits in the warmest tier any of its blobs is in (hot if one is missing)."""
    depths = [Tier(blobs[d].tier).depth if d in blobs else 0 for d in manifest.blob_digests]
    return TIERS_BY_DEPTH[min(depths, default=0)]


async def facts_from_store(
    store: ArtifactStore,
    policy: Policy,
    now: datetime,
    *,
    manifests: Sequence[Manifest] | None = None,
    blobs: dict[str, BlobInfo] | None = None,
) -> list[VersionFacts]:
    """One `VersionFacts` per live version, with the access windows `policy` needs.

    A failing index is logged and read as "never accessed": the plan says so in its facts,
    and the recheck at apply time reads the index again.
    """
    manifests = list(manifests) if manifests is not None else await live_manifests(store)
    blobs = blobs if blobs is not None else await blob_infos(store)
    keys = [(m.name, m.version) for m in manifests]
    windows = sorted(required_windows(policy) | {_THIRTY_DAYS})
    counts: dict[int, dict[tuple[str, int], int]] = {}
    try:
        totals = await store.index.access_stats(keys) if keys else {}
        for window in windows:
            stats = await store.index.access_stats(keys, since=now - window) if keys else {}
            counts[window_key(window)] = {key: stat.count for key, stat in stats.items()}
    except BackendUnavailableError as error:
        log.warning("access statistics unavailable, read as none: %s", error)
        totals = {}
        counts = {window_key(window): {} for window in windows}
    facts = []
    for manifest in manifests:
        key = (manifest.name, manifest.version)
        tier = version_tier(manifest, blobs)
        stat = totals.get(key)
        facts.append(
            VersionFacts(
                name=manifest.name,
                version=manifest.version,
                digest=manifest.digest,
                size=manifest.size,
                media_type=manifest.media_type,
                created_at=manifest.created_at,
                tags=manifest.tags,
                metadata=dict(manifest.metadata),
                tier=tier,
                tier_since=_tier_since(manifest, blobs, tier),
                last_access=stat.last_access if stat is not None else None,
                access_count=stat.count if stat is not None else 0,
                access_counts={w: by_key.get(key, 0) for w, by_key in counts.items()},
                compressed_size=_stored(manifest, blobs) if tier is Tier.COLD else None,
            )
        )
    return with_ranks(facts)


def _tier_since(manifest: Manifest, blobs: dict[str, BlobInfo], tier: Tier) -> datetime | None:
    if tier is Tier.HOT:
        return None
    moments = [blobs[d].modified for d in manifest.blob_digests if d in blobs]
    known = [moment for moment in moments if moment is not None]
    return max(known) if known else None


def _stored(manifest: Manifest, blobs: dict[str, BlobInfo]) -> int:
    return sum(blobs[d].size for d in dict.fromkeys(manifest.blob_digests) if d in blobs)
