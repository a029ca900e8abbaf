"""`pit stale` end to end through the command line, on a local store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pit.cli import run

FUTURE = "2030-12-01T00:00:00Z"


def pit(tmp_path: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = run(["--state-dir", str(tmp_path / "state"), *args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def filled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    for i in range(3):
        source = tmp_path / f"v{i}.txt"
        source.write_text(f"version {i}\n" * 200)
        assert pit(tmp_path, capsys, "artifact", "put", "team/notes", str(source))[0] == 0
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "keep: {keep_last: 1}\ndelete: {max_age: 30d}\ndemote: {cold: {idle_for: 30d}}\n"
    )
    return policy


def test_plan_apply_restore_round_trip_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], filled: Path
) -> None:
    code, before, _ = pit(tmp_path, capsys, "artifact", "stats", "--json")
    code, out, _ = pit(
        tmp_path, capsys, "stale", "plan", "--policy", str(filled), "--now", FUTURE, "--json"
    )
    assert code == 0
    plan = json.loads(out)
    assert plan["counts"] == {"delete": 2, "demote": 1, "promote": 0}
    assert all(item["reasons"] and "score" in item for item in plan["items"])
    code, out, _ = pit(
        tmp_path, capsys, "stale", "apply", plan["plan_id"], "--yes", "--now", FUTURE, "--json"
    )
    assert code == 0
    applied = json.loads(out)
    assert applied["deleted"] == ["team/notes@1", "team/notes@2"]
    assert applied["moved_bytes_after"] < applied["moved_bytes_before"]
    code, out, _ = pit(tmp_path, capsys, "artifact", "log", "team/notes", "--json")
    assert [entry["version"] for entry in json.loads(out)] == [3]
    code, out, _ = pit(tmp_path, capsys, "stale", "restore", plan["plan_id"], "--now", FUTURE)
    assert code == 0 and "2 versions back" in out
    assert pit(tmp_path, capsys, "artifact", "stats", "--json")[1] == before


def test_apply_without_yes_refuses_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], filled: Path
) -> None:
    _, out, _ = pit(
        tmp_path, capsys, "stale", "plan", "--policy", str(filled), "--now", FUTURE, "--json"
    )
    plan_id = json.loads(out)["plan_id"]
    code, _, err = pit(tmp_path, capsys, "stale", "apply", plan_id)
    assert code == 2
    assert err.strip().splitlines() == [
        f"pit: error: pit stale apply {plan_id}: refusing to change the store without --yes "
        "(review it first with `pit stale plan`)"
    ]
    _, out, _ = pit(tmp_path, capsys, "artifact", "log", "team/notes", "--json")
    assert len(json.loads(out)) == 3


def test_a_bad_policy_is_refused_with_one_line_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("keep: {keep_taged: [release]}\ndelete: {max_age: soon}\n")
    code, out, err = pit(tmp_path, capsys, "stale", "plan", "--policy", str(policy))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("pit: error: keep.keep_taged: [...]: unknown rule")
    assert lines[1].startswith("pit: error: delete.max_age: 'soon': a duration")
    assert not (tmp_path / "state" / "stale").exists()


def test_score_explains_each_component(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], filled: Path
) -> None:
    code, out, _ = pit(tmp_path, capsys, "stale", "score", "team/notes", "--version", "2", "--json")
    assert code == 0
    explained = json.loads(out)
    assert explained["version"] == 2
    parts = explained["components"]
    assert [part["name"] for part in parts] == ["recency", "frequency", "quality", "size"]
    assert abs(sum(part["contribution"] for part in parts) - explained["score"]) < 1e-9
