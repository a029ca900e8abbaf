"""`pit artifact ...` end to end: a local store and the real SQLite index under the state dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pit.infra.temporal.devserver import free_port


def last_json(capsys: pytest.CaptureFixture[str]) -> object:
    return json.loads(capsys.readouterr().out)


def test_put_log_get_diff_round_trip(pit, tmp_path: Path, capsys) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Plan\nship it\n")
    assert (
        pit("put", "team/notes", str(notes), "--meta", "owner=ana", "--tag", "draft", "--json") == 0
    )
    first = last_json(capsys)
    assert first["version"] == 1 and first["deduplicated"] is False
    assert first["media_type"] == "text/markdown"
    notes.write_text("# Plan\nship it on Friday\n")
    assert pit("put", "team/notes", str(notes), "--json") == 0
    assert last_json(capsys)["version"] == 2
    assert pit("log", "team/notes", "--json") == 0
    assert [entry["version"] for entry in last_json(capsys)] == [2, 1]
    assert pit("diff", "team/notes", "1", "2") == 0
    assert "+ship it on Friday" in capsys.readouterr().out
    out = tmp_path / "out" / "v1.md"
    assert pit("get", "team/notes", "--version", "1", "-o", str(out)) == 0
    assert out.read_text() == "# Plan\nship it\n"


def test_get_writes_the_bytes_to_stdout(pit, tmp_path: Path, capsysbinary) -> None:
    (tmp_path / "b.bin").write_bytes(b"\x00\x01\x02")
    assert pit("put", "bin", str(tmp_path / "b.bin")) == 0
    capsysbinary.readouterr()
    assert pit("get", "bin") == 0
    assert capsysbinary.readouterr().out == b"\x00\x01\x02"


def test_search_finds_text_with_filters_and_reindex_rebuilds(pit, tmp_path: Path, capsys) -> None:
    for name, text, score in (("a", "the quick fox", 1), ("b", "a quick dog", 5)):
        (tmp_path / f"{name}.txt").write_text(text)
        assert pit("put", name, str(tmp_path / f"{name}.txt"), "--meta", f"score={score}") == 0
    capsys.readouterr()
    assert pit("search", "quick", "--filter", "score>=3", "--json") == 0
    assert [hit["name"] for hit in last_json(capsys)] == ["b"]
    (tmp_path / "state" / "index.sqlite").unlink()
    assert pit("reindex", "--json") == 0
    assert last_json(capsys) == {"indexed": 2, "artifacts": 2}
    assert pit("search", "fox", "--json") == 0
    assert [hit["name"] for hit in last_json(capsys)] == ["a"]


def test_stats_show_dedup_savings(pit, tmp_path: Path, capsys) -> None:
    (tmp_path / "f").write_bytes(b"z" * 5000)
    assert pit("put", "one", str(tmp_path / "f")) == 0
    capsys.readouterr()
    assert pit("put", "two", str(tmp_path / "f"), "--json") == 0
    assert last_json(capsys)["deduplicated"] is True
    assert pit("stats", "--json") == 0
    assert last_json(capsys) == {
        "logical_bytes": 10000,
        "stored_bytes": 5000,
        "saved_bytes": 5000,
        "blobs": 1,
        "artifacts": 2,
        "versions": 2,
    }


def test_verify_exits_1_and_names_a_corrupt_blob(pit, tmp_path: Path, capsys) -> None:
    (tmp_path / "f").write_bytes(b"important")
    capsys.readouterr()
    assert pit("put", "doc", str(tmp_path / "f"), "--json") == 0
    digest = last_json(capsys)["digest"][7:]
    blob = tmp_path / "state" / "artifacts" / "blobs" / "sha256" / digest[:2] / digest[2:4] / digest
    blob.write_bytes(b"importanT")
    assert pit("verify") == 1
    captured = capsys.readouterr()
    assert f"corrupt: sha256:{digest}" in captured.out
    assert "1 corrupt" in captured.err
    out = tmp_path / "copy"
    assert pit("get", "doc", "-o", str(out)) == 1
    assert not out.exists()  # nothing half-written is left visible


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("put", "../escape", "f"), "'..' segment"),
        (("put", "bad\x07name", "f"), "control characters"),
        (("get", "doc", "--version", "7"), "doc v7 does not exist"),
        (("log", "nothing"), "does not exist"),
        (("stats", "--store", "ftp://host/x"), "unknown scheme 'ftp'"),
        (("search", "x", "--filter", "size>=lots"), "--filter"),
        (("put", "doc", "missing-file"), "must be an existing file"),
    ],
)
def test_bad_input_exits_2_with_one_clear_line(pit, tmp_path: Path, capsys, args, message) -> None:
    (tmp_path / "f").write_text("x")
    assert pit("put", "doc", str(tmp_path / "f")) == 0
    capsys.readouterr()
    assert pit(*args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_unreachable_s3_exits_3(pit, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("PIT_STORAGE__S3_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    assert pit("log", "doc", "--store", "s3://bucket/prefix") == 3
    assert "s3://bucket/prefix" in capsys.readouterr().err
