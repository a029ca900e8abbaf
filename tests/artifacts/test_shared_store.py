"""Two machines (two state dirs, each with its own SQLite index) on one S3 store: what one
puts, reads, plans and applies, the other finds, counts, and restores, without `reindex`."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest

from pit.cli import run
from tests.artifacts.conftest import make_bucket

FUTURE = "2030-12-01T00:00:00Z"
POLICY = "keep: {keep_last: 1}\ndelete: {max_age: 30d}\n"


@pytest.fixture
def machines(tmp_path: Path, s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):
    """`machine("a", *args)`: the CLI with state dir `<tmp>/a`, on one S3 store."""
    _, bucket = make_bucket(s3_endpoint)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PIT_STORAGE__URL", f"s3://{bucket}/shared")
    monkeypatch.setenv("PIT_STORAGE__S3_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("PIT_STORAGE__S3_REGION", "us-east-1")
    monkeypatch.delenv("PIT_SEARCH__URL", raising=False)
    monkeypatch.delenv("PIT_STATE_DIR", raising=False)

    def machine(which: str, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
        capsys.readouterr()
        code = run(["--state-dir", str(tmp_path / which), *args])
        out, err = capsys.readouterr()
        assert code == 0, err
        return code, out

    machine.bucket = bucket  # type: ignore[attr-defined]
    return machine


def _json(result: tuple[int, str]) -> object:
    return json.loads(result[1])


def test_what_one_machine_does_every_machine_sees(
    machines, tmp_path: Path, capsys: pytest.CaptureFixture[str], s3_endpoint: str
) -> None:
    for i in range(3):
        source = tmp_path / f"v{i}.txt"
        source.write_text(f"quarterly report draft {i}\n" * 50)
        machines("a", capsys, "artifact", "put", "team/report", str(source))
    # b never saw the store: its first search builds its index from the store
    hits = _json(machines("b", capsys, "artifact", "search", "quarterly", "--json"))
    assert sorted(hit["version"] for hit in hits) == [1, 2, 3]  # type: ignore[union-attr]
    # a puts again: b's index follows the change log (no second rebuild, no reindex)
    (tmp_path / "v3.txt").write_text("quarterly figures final\n")
    machines("a", capsys, "artifact", "put", "team/report", str(tmp_path / "v3.txt"))
    hits = _json(machines("b", capsys, "artifact", "search", "final", "--json"))
    assert [hit["version"] for hit in hits] == [4]  # type: ignore[index]

    # reads on both machines: every machine counts all of them
    for which in ("a", "a", "b"):
        machines(which, capsys, "artifact", "get", "team/report", "-o", str(tmp_path / "out"))
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    score = ("stale", "score", "team/report", "--policy", str(policy), "--now", FUTURE, "--json")
    on_a, on_b = _json(machines("a", capsys, *score)), _json(machines("b", capsys, *score))
    assert on_a == on_b
    frequency = {c["name"]: c["raw"] for c in on_a["components"]}["frequency"]  # type: ignore[index]
    assert frequency == 3  # the three reads, whichever machine made them
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    listed = s3.list_objects_v2(Bucket=machines.bucket, Prefix="shared/records/accesses/")
    assert listed["KeyCount"] == 3  # one batch per process that read

    # a plans and applies; b sees the deletes and restores the plan
    plan = _json(
        machines("a", capsys, "stale", "plan", "--policy", str(policy), "--now", FUTURE, "--json")
    )
    plan_id = plan["plan_id"]  # type: ignore[index]
    machines("a", capsys, "stale", "apply", plan_id, "--yes", "--now", FUTURE)
    hits = _json(machines("b", capsys, "artifact", "search", "quarterly", "--json"))
    assert [hit["version"] for hit in hits] == [4]  # type: ignore[index]
    _, out = machines("b", capsys, "stale", "restore", plan_id, "--now", FUTURE)
    assert "3 versions back" in out
    hits = _json(machines("a", capsys, "artifact", "search", "quarterly", "--json"))
    assert sorted(hit["version"] for hit in hits) == [1, 2, 3, 4]  # type: ignore[union-attr]
    assert not list((tmp_path / "a").glob("stale/**/*.json"))  # nothing kept only on a


async def test_reads_on_one_client_are_counted_on_another(tmp_path: Path, s3_endpoint: str) -> None:
    from pit.client.artifacts import ArtifactsClient
    from pit.common.config import load_settings

    _, bucket = make_bucket(s3_endpoint)
    storage = {"url": f"s3://{bucket}/p", "s3_endpoint": s3_endpoint, "s3_region": "us-east-1"}

    def client(which: str) -> ArtifactsClient:
        overrides = {"state_dir": str(tmp_path / which), "storage": storage}
        return ArtifactsClient.from_settings(load_settings(environ={}, overrides=overrides))

    async with client("a") as a, client("b") as b:
        await a.put("shared/doc", b"hello")
        for _ in range(3):
            assert await a.get("shared/doc") == b"hello"
        await b.get("shared/doc")
        await a.store.accesses.flush()  # what a closing client, or a second's wait, does
        assert (await b.reads("shared/doc")).count == 4
        assert (await a.reads("shared/doc", 1)).count == 4
