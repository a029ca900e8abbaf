"""`verify`: every blob re-hashed, every manifest read and checked against its blobs; with
`repair`, what an intact copy can restore is restored first (`pit.artifacts.repair`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pit.artifacts.blob_port import BlobStore
from pit.artifacts.hashing import StreamHasher
from pit.artifacts.ingest import concatenated
from pit.artifacts.manifest import Manifest
from pit.artifacts.repair import repair_blobs
from pit.artifacts.results import BadManifest, MissingBlob, VerifyReport
from pit.common.errors import IntegrityError, NotFoundError


@dataclass
class _Blobs:
    sizes: dict[str, int] = field(default_factory=dict)
    """Intact blobs and how many plain bytes each holds."""
    corrupt: set[str] = field(default_factory=set)


async def verify(blobs: BlobStore, *, repair: bool = False) -> VerifyReport:
    """The state of the whole store. Reads every byte once (and, for chunked versions whose
    manifests predate checksums, their content once more, to check its digest)."""
    found = _Blobs()
    checked_blobs = 0
    async for info in blobs.list_blobs():
        checked_blobs += 1
        await _check_blob(blobs, info.digest, found)
    manifests, bad, checked_versions = await _read_manifests(blobs)
    repaired: list[str] = []
    if repair:
        needed = {d for m in manifests for d in m.blob_digests if d not in found.sizes}
        repaired = await repair_blobs(blobs, needed | found.corrupt, manifests, set(found.sizes))
        for digest in repaired:
            found.corrupt.discard(digest)
            await _check_blob(blobs, digest, found)
    missing: list[MissingBlob] = []
    for manifest in manifests:
        missing += (
            MissingBlob(name=manifest.name, version=manifest.version, digest=digest)
            for digest in dict.fromkeys(manifest.blob_digests)
            if digest not in found.sizes and digest not in found.corrupt
        )
        problem = await _disagreement(blobs, manifest, found.sizes)
        if problem is not None:
            bad.append(BadManifest(name=manifest.name, version=manifest.version, problem=problem))
    return VerifyReport(
        checked_blobs=checked_blobs,
        checked_versions=checked_versions,
        corrupt=tuple(sorted(found.corrupt)),
        missing=tuple(missing),
        bad_manifests=tuple(bad),
        unsealed_manifests=sum(1 for manifest in manifests if manifest.checksum is None),
        repaired=tuple(sorted(repaired)),
    )


async def _check_blob(blobs: BlobStore, digest: str, found: _Blobs) -> None:
    size = 0
    try:
        async for piece in blobs.open_blob(digest):
            size += len(piece)
    except (IntegrityError, NotFoundError):
        found.corrupt.add(digest)
        found.sizes.pop(digest, None)
        return
    found.sizes[digest] = size


async def _read_manifests(blobs: BlobStore) -> tuple[list[Manifest], list[BadManifest], int]:
    """Every manifest that reads back intact (soft-deleted ones too: their blobs are kept),
    the ones that do not, and how many there are."""
    manifests: list[Manifest] = []
    bad: list[BadManifest] = []
    count = 0
    async for name in blobs.list_names():
        for version in await blobs.list_versions(name):
            count += 1
            try:
                manifests.append(await blobs.get_manifest(name, version))
            except IntegrityError as error:
                problem = str(error.details.get("problem", error.message))
                bad.append(BadManifest(name=name, version=version, problem=problem))
            except NotFoundError:
                count -= 1  # purged while listed
    return manifests, bad, count


async def _disagreement(blobs: BlobStore, manifest: Manifest, sizes: dict[str, int]) -> str | None:
    """Why `manifest` does not describe the intact blobs it names; None when it does (or
    when a blob it needs is missing or corrupt: that is reported as such)."""
    if manifest.chunks is None:
        stored = sizes.get(manifest.digest)
        if stored is not None and stored != manifest.size:
            return f"records {manifest.size} bytes, its blob holds {stored}"
        return None
    for number, chunk in enumerate(manifest.chunks, 1):
        stored = sizes.get(chunk.digest)
        if stored is not None and stored != chunk.size:
            return f"chunk {number} records {chunk.size} bytes, its blob holds {stored}"
    total = sum(chunk.size for chunk in manifest.chunks)
    if total != manifest.size:
        return f"records {manifest.size} bytes, its chunks add up to {total}"
    if manifest.checksum is not None or not all(d in sizes for d in manifest.blob_digests):
        return None  # a sealed manifest's digest was computed over these very chunks
    hasher = StreamHasher()
    try:
        async for piece in concatenated([blobs.open_blob(d) for d in manifest.blob_digests]):
            hasher.update(piece)
    except (IntegrityError, NotFoundError):
        return None  # changed while verified: the blob pass reports it next time
    if hasher.digest != manifest.digest:
        return f"its chunks hash to {hasher.digest}, not to its digest {manifest.digest}"
    return None
