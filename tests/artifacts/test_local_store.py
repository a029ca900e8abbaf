"""What only the local store does: it never follows a link planted below its root, its cold
tier reports corruption like any other, tier copies repair each other, and purge clears
`tmp/`."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from pit.artifacts.hashing import digest_of
from pit.artifacts.lifecycle import purge
from pit.artifacts.store import ArtifactStore
from pit.common.errors import IntegrityError
from pit.infra.blob_local import LocalBlobStore
from tests.artifacts.fakes import FakeIndex


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory a planted link points at: nothing may ever land here."""
    target = tmp_path / "outside"
    target.mkdir()
    return target


@pytest.fixture
def store(root: Path) -> ArtifactStore:
    return ArtifactStore(LocalBlobStore(root), FakeIndex())


def blob_file(root: Path, digest: str, tier: str = "hot") -> Path:
    hex_digits = digest[7:]
    base = root / "blobs" if tier == "hot" else root / "tiers" / tier
    leaf = hex_digits + (".zst" if tier == "cold" else "")
    return base / "sha256" / hex_digits[:2] / hex_digits[2:4] / leaf


async def test_a_link_planted_as_a_manifest_directory_is_refused_for_writes_and_reads(
    store: ArtifactStore, root: Path, outside: Path
) -> None:
    await store.put("seed", b"makes the store")
    (root / "manifests").mkdir(exist_ok=True)
    (root / "manifests" / "evil").symlink_to(outside)
    with pytest.raises(IntegrityError, match=r"manifests/evil: a symbolic link"):
        await store.put("evil", b"must not land outside")
    with pytest.raises(IntegrityError, match="symbolic link"):
        await store.get("evil")
    assert list(outside.iterdir()) == []


async def test_a_link_planted_as_a_blob_shard_is_refused(
    store: ArtifactStore, root: Path, outside: Path
) -> None:
    data = b"content whose digest lands in the planted shard"
    hex_digits = digest_of(data)[7:]
    shard = root / "blobs" / "sha256" / hex_digits[:2]
    shard.parent.mkdir(parents=True)
    shard.symlink_to(outside)
    with pytest.raises(IntegrityError, match=rf"sha256/{hex_digits[:2]}: a symbolic link"):
        await store.put("doc", data)
    assert list(outside.iterdir()) == []
    with pytest.raises(IntegrityError):
        _ = [info async for info in store.blobs.list_blobs()]


async def test_a_link_planted_as_tmp_is_refused(
    store: ArtifactStore, root: Path, outside: Path
) -> None:
    root.mkdir()
    (root / "tmp").symlink_to(outside)
    with pytest.raises(IntegrityError, match=r"tmp: a symbolic link"):
        await store.put("doc", b"would be written to tmp first")
    assert list(outside.iterdir()) == []


async def test_a_blob_file_replaced_by_a_link_is_never_read(
    store: ArtifactStore, root: Path, outside: Path
) -> None:
    data = b"the real bytes"
    result = await store.put("doc", data)
    (outside / "copy").write_bytes(data)  # even identical bytes: the link is refused
    path = blob_file(root, result.digest)
    path.unlink()
    path.symlink_to(outside / "copy")
    with pytest.raises(IntegrityError, match="symbolic link"):
        await store.get("doc")


async def test_a_link_planted_in_the_tombstones_or_tiers_is_refused(
    store: ArtifactStore, root: Path, outside: Path
) -> None:
    result = await store.put("doc", b"to be moved and deleted")
    (root / "tiers").mkdir()
    (root / "tiers" / "cold").symlink_to(outside)
    with pytest.raises(IntegrityError, match="symbolic link"):
        await store.blobs.move_blob(result.digest, "cold")
    (root / "tombstones").symlink_to(outside)
    with pytest.raises(IntegrityError, match="symbolic link"):
        await store.blobs.deleted_versions("doc")
    with pytest.raises(IntegrityError, match="symbolic link"):
        await store.get("doc")  # which versions are deleted cannot be known: refused
    assert list(outside.iterdir()) == []
    (root / "tombstones").unlink()
    assert (await store.get("doc")).data == b"to be moved and deleted"


async def test_a_corrupt_cold_copy_is_an_integrity_error_for_get_and_verify(
    store: ArtifactStore, root: Path
) -> None:
    data = b"compressible " * 500
    result = await store.put("doc", data)
    await store.blobs.move_blob(result.digest, "cold")
    cold = blob_file(root, result.digest, "cold")
    cold.write_bytes(b"\x28\xb5\x2f\xfd" + os.urandom(64))  # a zstd magic, then garbage
    with pytest.raises(IntegrityError, match="cold-tier copy does not decompress"):
        await store.get("doc")
    assert (await store.verify()).corrupt == (result.digest,)
    again = await store.put("again", data)  # the next put of the bytes heals the cold copy
    assert again.deduplicated is False
    assert (await store.get("doc")).data == data


async def test_repair_rewrites_a_rotted_copy_from_an_intact_copy_in_another_tier(
    store: ArtifactStore, root: Path
) -> None:
    data = b"left in two tiers by an interrupted move"
    result = await store.put("doc", data)
    hot = blob_file(root, result.digest)
    warm = blob_file(root, result.digest, "warm")
    warm.parent.mkdir(parents=True)
    warm.write_bytes(data)
    hot.write_bytes(data.upper())
    report = await store.verify(repair=True)
    assert report.repaired == (result.digest,) and report.ok
    assert hot.read_bytes() == data
    assert (await store.get("doc")).data == data


async def test_purge_removes_day_old_leftovers_in_tmp_and_keeps_fresh_ones(
    store: ArtifactStore, root: Path
) -> None:
    await store.put("doc", b"anything")
    tmp = root / "tmp"
    old = [tmp / "blob.crashed", tmp / ".half-written"]
    for path in old:
        path.write_bytes(b"partial")
        two_days_ago = time.time() - 2 * 86400
        os.utime(path, (two_days_ago, two_days_ago))
    fresh = tmp / "blob.in-progress"
    fresh.write_bytes(b"being written right now")
    report = await purge(store, [], mark=datetime.now(UTC), min_blob_age=timedelta(0))
    assert report.leftovers_removed == 2
    assert sorted(p.name for p in tmp.iterdir()) == ["blob.in-progress"]
    assert (await store.get("doc")).data == b"anything"


async def test_a_dedup_hit_keeps_the_stored_file_and_only_touches_it(
    store: ArtifactStore, root: Path
) -> None:
    result = await store.put("doc", b"same bytes")
    path = blob_file(root, result.digest)
    long_ago = time.time() - 86400
    os.utime(path, (long_ago, long_ago))
    inode = path.stat().st_ino
    assert (await store.put("again", b"same bytes")).deduplicated is True
    assert path.stat().st_ino == inode  # not rewritten
    assert path.stat().st_mtime > long_ago + 3600  # touched: purge's mark protects it


async def test_a_dedup_hit_on_a_fresh_blob_makes_its_name_durable_before_trusting_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another writer may have renamed the blob in and not yet fsynced its directory: a put
    that reuses it syncs the directory first, so its manifest never names a lost blob."""
    blobs = LocalBlobStore(tmp_path / "store")
    synced: list[tuple[str, ...]] = []
    real_sync = blobs._tree.sync
    monkeypatch.setattr(blobs._tree, "sync", lambda parts: (synced.append(parts), real_sync(parts)))
    data = b"shared bytes"
    digest = digest_of(data)
    assert await blobs.put_blob(digest, data) is True
    assert synced == []  # the writer synced its own rename
    assert await blobs.put_blob(digest, data) is False
    assert len(synced) == 1 and synced[0][:2] == ("blobs", "sha256")
    path = next((tmp_path / "store" / "blobs").rglob("*"))
    while path.is_dir():
        path = next(path.iterdir())
    old = time.time() - 3600
    os.utime(path, (old, old))
    assert await blobs.put_blob(digest, data) is False
    assert len(synced) == 1  # an hour-old name is durable: no fsync on that hit
