"""Claim-checked Temporal payloads in the artifact store: what cleanup may never touch, and when
one may go.

A workflow's history names its large payloads (`temporal/payloads/<ab>/<sha256>`); replaying
the run, or answering a query on it, reads them again for as long as Temporal keeps the
history: until the namespace's retention has passed since the run closed. So cleanup
policies never see these artifacts (`is_payload`), and `sweep` soft-deletes one only when
no run Temporal still keeps names it and it is older than the retention (a run that just
stored it may not be visible yet). Purge then removes it after the grace period like any
soft delete.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pit.artifacts import lifecycle
from pit.artifacts.maintenance import all_manifests
from pit.artifacts.manifest import Manifest

if TYPE_CHECKING:
    from pit.artifacts.store import ArtifactStore

PAYLOADS_PREFIX = "temporal/payloads/"
"""Where claim-checked payloads live (`pit.infra.temporal.claim_check.PAYLOAD_PREFIX`)."""
_REFERENCE = re.compile(rb"temporal/payloads/[0-9a-f]{2}/[0-9a-f]{64}")
SWEEP_REASON = "claim-checked payload no run in the namespace's retention references"


def is_payload(name: str) -> bool:
    """Whether `name` is a claim-checked payload (never a cleanup policy's business)."""
    return name.startswith(PAYLOADS_PREFIX)


def references(data: bytes) -> set[str]:
    """The payload artifacts a serialized workflow history (or any bytes) names: the claim's
    artifact name is read wherever it appears, whatever encoding holds it."""
    return {match.decode() for match in _REFERENCE.findall(data)}


@dataclass
class SweepReport:
    kept_referenced: int = 0
    """Payload versions a run Temporal still keeps names."""
    kept_young: int = 0
    """Unreferenced, but not older than the retention yet."""
    deleted: list[tuple[str, int]] = field(default_factory=list)
    """Soft-deleted now (purged after the grace period, restorable until then)."""


async def payload_manifests(store: ArtifactStore) -> list[Manifest]:
    return [manifest async for manifest in all_manifests(store.blobs) if is_payload(manifest.name)]


async def sweep(
    store: ArtifactStore,
    referenced: Iterable[str],
    *,
    now: datetime,
    retention: timedelta,
    dry_run: bool = False,
) -> SweepReport:
    """Soft-delete every payload version no retained run references (`referenced`: the names
    every history Temporal still keeps holds) that was stored more than `retention` ago."""
    named = set(referenced)
    report = SweepReport()
    doomed: list[Manifest] = []
    for manifest in await payload_manifests(store):
        if manifest.name in named:
            report.kept_referenced += 1
        elif manifest.created_at > now - retention:
            report.kept_young += 1
        else:
            doomed.append(manifest)
    if dry_run:
        report.deleted = [(m.name, m.version) for m in doomed]
        return report
    result = await lifecycle.soft_delete(store, doomed, at=now, reason=SWEEP_REASON)
    report.deleted = sorted(tombstone.key for tombstone in result.deleted)
    return report


async def keep(store: ArtifactStore, swept: Iterable[tuple[str, int]], named: set[str]) -> int:
    """Undo the sweep of payloads a run started since names after all; how many."""
    wanted = {key for key in swept if key[0] in named}
    if not wanted:
        return 0
    mine = await lifecycle.tombstones(store, lambda t: t.key in wanted)
    return await lifecycle.undelete(store, mine)
