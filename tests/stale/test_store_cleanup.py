"""Cleanup on the real backends (local directory, moto S3): tiers, soft delete, restore, purge."""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
import zstandard

from pit.artifacts.lifecycle import move_blobs, soft_delete
from pit.cli import run
from pit.common.errors import ConflictError, IntegrityError, InvalidInputError, NotFoundError
from pit.stale import parse_policy
from tests.stale.conftest import Setup
from tests.stale.strategies import NOW

DAY = 86400
POLICY_TEXT = json.dumps(
    {
        "keep": {"any": [{"keep_tagged": ["release"]}, {"keep_last": 1}]},
        "delete": {"max_age": "30d"},
        "demote": {"warm": {"idle_for": "7d"}, "cold": {"idle_for": "20d"}},
    }
)
POLICY = parse_policy(json.loads(POLICY_TEXT))


def text(seed: int, size: int = 3000) -> bytes:
    line = f"line {seed} of compressible text for the cold tier\n".encode()
    return (line * (size // len(line) + 1))[:size]


async def snapshot(setup: Setup) -> tuple[object, dict[str, bytes], dict[str, str]]:
    """Stats, every blob's bytes and every blob's tier: the store's whole observable state."""
    blobs = setup.store.blobs
    infos = [info async for info in blobs.list_blobs()]
    data = {}
    for info in infos:
        data[info.digest] = b"".join([piece async for piece in blobs.open_blob(info.digest)])
    return await setup.store.stats(), data, {info.digest: info.tier for info in infos}


async def aging_store(setup: Setup) -> None:
    """a: v1 120 days old, v2 60 days, v3 (newest) 25 days; r: v1 120 days, tagged release;
    big: one chunked version 60 days old that shares nothing."""
    clock = setup.clock
    clock._now = NOW - timedelta(days=120)
    await setup.store.put("a", text(1))
    await setup.store.put("r", text(9), tags=["release"])
    clock._now = NOW - timedelta(days=60)
    await setup.store.put("a", text(2))
    await setup.store.put("big", os.urandom(80 * 1024))
    clock._now = NOW - timedelta(days=25)
    await setup.store.put("a", text(3))
    clock._now = NOW


async def test_migration_moves_blobs_between_tiers_and_every_tier_reads_back(
    setup: Setup,
) -> None:
    await aging_store(setup)
    expected = {name: (await setup.store.get(name)).data for name in ("a", "r", "big")}
    infos = {info.digest: info async for info in setup.store.blobs.list_blobs()}
    for tier in ("warm", "hot", "cold"):
        await move_blobs(setup.store, [(info, tier) for info in infos.values()])
        infos = {info.digest: info async for info in setup.store.blobs.list_blobs()}
        assert {info.tier for info in infos.values()} == {tier}
        for name, data in expected.items():
            assert (await setup.store.get(name)).data == data
    assert (await setup.store.verify()).ok
    manifest = await setup.store.manifest("a", 3)
    if setup.kind == "s3":
        head = setup.client.head_object(  # type: ignore[attr-defined]
            Bucket=setup.bucket, Key="p/blobs/sha256/" + manifest.digest.split(":")[1]
        )
        assert head["StorageClass"] == "GLACIER_IR"
    else:
        assert infos[manifest.digest].size < manifest.size  # zstd made it smaller
        root = Path(setup.store.blobs.url.removeprefix("file://"))
        hex_digits = manifest.digest.split(":")[1]
        cold = root / "tiers/cold/sha256" / hex_digits[:2] / hex_digits[2:4] / f"{hex_digits}.zst"
        assert zstandard.ZstdDecompressor().decompressobj().decompress(cold.read_bytes()) == text(3)


async def test_plan_changes_nothing_and_lists_every_action(setup: Setup) -> None:
    await aging_store(setup)
    before = await snapshot(setup)
    plan, savings = await setup.manager.plan(POLICY, POLICY_TEXT, NOW)
    assert await snapshot(setup) == before
    actions = {(item.name, item.version): item.action.value for item in plan.items}
    assert actions == {("a", 1): "delete", ("a", 2): "delete", ("a", 3): "demote",
                       ("r", 1): "demote", ("big", 1): "demote"}  # fmt: skip
    assert all(item.reasons for item in plan.items)
    assert savings.bytes_after < savings.bytes_before


async def test_apply_soft_deletes_and_demotes_then_restore_returns_the_exact_state(
    setup: Setup,
) -> None:
    await aging_store(setup)
    before = await snapshot(setup)
    plan, _ = await setup.manager.plan(POLICY, POLICY_TEXT, NOW)
    report = await setup.manager.apply(plan.plan_id, NOW)
    assert report.deleted == ["a@1", "a@2"]
    assert sorted(report.moved) == ["a@3", "big@1", "r@1"]
    assert report.delete_batches == 1
    with pytest.raises(NotFoundError):
        await setup.store.get("a", 1)
    assert [m.version for m in await setup.store.versions("a")] == [3]
    stats = await setup.store.stats()
    assert (stats.versions, stats.blobs) == (3, before[0].blobs)  # type: ignore[attr-defined]
    assert (await setup.store.get("a")).data == text(3)  # read from the cold tier
    with pytest.raises(ConflictError):
        await setup.manager.apply(plan.plan_id, NOW)
    restored = await setup.manager.restore(plan.plan_id, NOW + timedelta(days=1))
    assert (restored.undeleted, restored.blobs_moved_back) == (2, len(report.blob_moves))
    assert await snapshot(setup) == before
    assert (await setup.store.get("a", 1)).data == text(1)


async def test_apply_rechecks_and_skips_what_no_longer_qualifies(setup: Setup) -> None:
    await aging_store(setup)
    plan, _ = await setup.manager.plan(POLICY, POLICY_TEXT, NOW)
    await setup.store.get("a", 3)  # read again: no longer idle, so no longer demoted
    await soft_delete(setup.store, [await setup.store.manifest("a", 2)], at=NOW)
    report = await setup.manager.apply(plan.plan_id, NOW)
    skipped = {(item["name"], item["version"]): item["why"] for item in report.skipped}
    assert skipped[("a", 3)] == "no longer qualifies: the policy now says keep to hot"
    assert skipped[("a", 2)] == "the version is gone"
    assert report.deleted == ["a@1"]
    assert "a@3" not in report.moved


async def test_restore_after_the_grace_period_is_refused(setup: Setup) -> None:
    await aging_store(setup)
    plan, _ = await setup.manager.plan(POLICY, POLICY_TEXT, NOW)
    await setup.manager.apply(plan.plan_id, NOW)
    with pytest.raises(InvalidInputError, match="grace period"):
        await setup.manager.restore(plan.plan_id, NOW + timedelta(days=7))


async def test_purge_removes_expired_versions_and_only_unreferenced_blobs(setup: Setup) -> None:
    await aging_store(setup)
    await setup.store.put("copy", text(2))  # shares a@2's bytes: they must survive
    plan, _ = await setup.manager.plan(POLICY, POLICY_TEXT, NOW)
    await setup.manager.apply(plan.plan_id, NOW)
    early = await setup.manager.purge(NOW + timedelta(days=6), min_blob_age=timedelta(0))
    assert (early.manifests_removed, early.blobs_removed) == (0, 0)
    report = await setup.manager.purge(NOW + timedelta(days=7), min_blob_age=timedelta(0))
    assert report.manifests_removed == 2
    assert report.blobs_removed == 1  # a@1's; a@2's bytes are copy@1's too
    assert (await setup.store.get("copy")).data == text(2)
    assert (await setup.store.verify()).ok
    assert await setup.store.blobs.list_versions("a") == [3]
    assert [t async for t in setup.store.blobs.list_tombstones()] == []


async def test_purge_never_sweeps_a_blob_put_again_after_the_mark(setup: Setup) -> None:
    await aging_store(setup)
    plan, _ = await setup.manager.plan(POLICY, POLICY_TEXT, NOW)
    await setup.manager.apply(plan.plan_id, NOW)
    await setup.manager.purge(NOW + timedelta(days=8), min_blob_age=timedelta(0))
    # a@1's bytes are gone; now someone puts a@2's bytes (still stored? no: swept too) and
    # text(3)'s, which a@3 holds; a fresh orphan written after the mark must survive
    mark = setup.store._clock.now()
    orphan = text(77)
    from pit.artifacts.hashing import digest_of
    from pit.artifacts.lifecycle import purge

    await setup.store.blobs.put_blob(digest_of(orphan), orphan)
    report = await purge(setup.store, [], mark=mark - timedelta(seconds=5))
    assert report.blobs_removed == 0 and report.kept_recent == 1
    assert await setup.store.blobs.has_blob(digest_of(orphan))


async def test_restore_after_a_purge_names_the_versions_that_cannot_come_back(
    setup: Setup,
) -> None:
    await aging_store(setup)
    plan, _ = await setup.manager.plan(POLICY, POLICY_TEXT, NOW)
    await setup.manager.apply(plan.plan_id, NOW)
    purged = await setup.manager.purge(NOW + timedelta(days=7), min_blob_age=timedelta(0))
    assert purged.manifests_removed == 2
    report = await setup.manager.restore(plan.plan_id, NOW + timedelta(days=1))
    assert report.undeleted == 0
    assert report.lost == ("a@1", "a@2")
    assert not report.complete
    assert (await setup.store.get("a", 3)).data == text(3)  # what was demoted came back


async def test_a_corrupt_cold_blob_is_reported_by_restore_and_left_in_place(
    setup: Setup,
) -> None:
    if setup.kind != "local":
        pytest.skip("S3 tiers are storage classes of one object: no compressed copy")
    await aging_store(setup)
    plan, _ = await setup.manager.plan(POLICY, POLICY_TEXT, NOW)
    await setup.manager.apply(plan.plan_id, NOW)
    digest = (await setup.store.manifest("a", 3)).digest
    root = Path(setup.store.blobs.url.removeprefix("file://"))
    hex_digits = digest.split(":")[1]
    cold = root / "tiers/cold/sha256" / hex_digits[:2] / hex_digits[2:4] / f"{hex_digits}.zst"
    cold.write_bytes(b"not zstd at all")
    with pytest.raises(IntegrityError, match="does not decompress"):
        await setup.store.get("a", 3)
    report = await setup.manager.restore(plan.plan_id, NOW + timedelta(days=1))
    assert report.corrupt == (digest,) and not report.complete
    assert report.undeleted == 2  # everything else came back
    assert cold.read_bytes() == b"not zstd at all"  # never copied into another tier
    assert digest in (await setup.store.verify()).corrupt


def test_the_cli_restore_after_a_purge_exits_1_and_names_the_lost_versions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("PIT_STORAGE__URL", "PIT_SEARCH__URL", "PIT_STATE_DIR"):
        monkeypatch.delenv(name, raising=False)

    def pit(*args: str) -> int:
        return run(["--state-dir", str(tmp_path / "state"), *args])

    for i in range(3):
        (tmp_path / f"v{i}.txt").write_text(f"version {i}\n" * 50)
        assert pit("artifact", "put", "notes", str(tmp_path / f"v{i}.txt")) == 0
    (tmp_path / "policy.yaml").write_text("keep: {keep_last: 1}\ndelete: {max_age: 30d}\n")
    capsys.readouterr()
    assert pit("stale", "plan", "--policy", "policy.yaml", "--now", "2030-01-01", "--json") == 0
    plan_id = json.loads(capsys.readouterr().out)["plan_id"]
    assert pit("stale", "apply", plan_id, "--yes", "--now", "2030-01-01") == 0
    assert pit("stale", "purge", "--now", "2030-01-09", "--min-blob-age", "0s") == 0
    capsys.readouterr()
    assert pit("stale", "restore", plan_id, "--now", "2030-01-02") == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "2 versions were purged since the apply: notes@1, notes@2" in err[0]
