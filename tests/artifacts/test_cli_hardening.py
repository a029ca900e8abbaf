"""`pit artifact` against hostile input and a hostile world: `-o` only ever writes a regular
file, every bad input is one line with the right exit code, a full disk or a dead backend is
one line too."""

from __future__ import annotations

import json
import os
import resource
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pit.infra.temporal.devserver import free_port

HUGE = "9" * 5000
"""More digits than Python's int() reads (4,300)."""


@pytest.fixture
def stored(pit, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> bytes:
    """`doc` v1 in the default store; its bytes."""
    data = b"the stored document\n"
    (tmp_path / "doc.txt").write_bytes(data)
    assert pit("put", "doc", str(tmp_path / "doc.txt")) == 0
    capsys.readouterr()
    return data


def rot_the_stored_blob(tmp_path: Path, stored: bytes) -> Path:
    """Overwrite `doc`'s only blob with other bytes of the same length; its path."""
    blobs = tmp_path / "state" / "artifacts" / "blobs"
    blob = next(p for p in blobs.rglob("*") if p.is_file())
    blob.write_bytes(stored.upper())
    return blob


def one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("kind", ["fifo", "device", "symlink", "directory"])
def test_get_o_refuses_anything_but_a_regular_file_and_changes_nothing(
    pit, tmp_path: Path, capsys, stored: bytes, kind: str
) -> None:
    target = tmp_path / "target"
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"untouched")
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "device":
        target = Path("/dev/null")
    elif kind == "symlink":
        target.symlink_to(victim)
    else:
        target.mkdir()
    before = os.lstat(target)
    assert pit("get", "doc", "-o", str(target)) == 2
    line = one_error_line(capsys)
    expected = {"fifo": "a FIFO", "device": "a character device", "symlink": "a symbolic link"}
    assert f"-o: '{target}': is {expected.get(kind, 'a directory')}" in line
    after = os.lstat(target)
    assert (after.st_ino, after.st_mode) == (before.st_ino, before.st_mode)
    assert victim.read_bytes() == b"untouched"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_get_o_keeps_an_existing_files_mode(pit, tmp_path: Path, stored: bytes) -> None:
    target = tmp_path / "secret.txt"
    target.write_bytes(b"old")
    target.chmod(0o600)
    assert pit("get", "doc", "-o", str(target)) == 0
    assert target.read_bytes() == stored
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_get_o_creates_a_new_file_with_the_umask(pit, tmp_path: Path, stored: bytes) -> None:
    old = os.umask(0o027)
    try:
        assert pit("get", "doc", "-o", str(tmp_path / "new" / "file.txt")) == 0
    finally:
        os.umask(old)
    made = tmp_path / "new" / "file.txt"
    assert made.read_bytes() == stored
    assert stat.S_IMODE(made.stat().st_mode) == 0o640


def test_get_o_rewrites_a_hard_linked_file_in_place_for_all_its_names(
    pit, tmp_path: Path, stored: bytes
) -> None:
    target = tmp_path / "linked.txt"
    target.write_bytes(b"an older and much longer content than the new one")
    target.chmod(0o640)
    other = tmp_path / "other-name.txt"
    os.link(target, other)
    inode = target.stat().st_ino
    assert pit("get", "doc", "-o", str(target)) == 0
    assert target.stat().st_ino == inode and target.stat().st_nlink == 2
    assert other.read_bytes() == stored  # every name sees the new content
    assert stat.S_IMODE(other.stat().st_mode) == 0o640


def test_get_o_of_a_corrupt_version_leaves_the_file_as_it_was(
    pit, tmp_path: Path, capsys, stored: bytes
) -> None:
    rot_the_stored_blob(tmp_path, stored)
    target = tmp_path / "keep.txt"
    target.write_bytes(b"previous content")
    assert pit("get", "doc", "-o", str(target)) == 1
    assert "corrupt" in one_error_line(capsys)
    assert target.read_bytes() == b"previous content"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("put", "x", "doc.txt", "--meta", f"n={HUGE}"), 2, "--meta n: '9999"),
        (("put", "x", "doc.txt", "--meta", "n=1e999"), 2, "must be finite"),
        (("search", "--filter", f"n={HUGE}"), 2, "between -2**63 and 2**63-1"),
        (("search", "--filter", f"size>={HUGE}"), 2, "between -2**63 and 2**63-1"),
        (("stats", "--store", "doc.txt"), 2, "a store is a directory; this path is a file"),
        (("stats", "--store", "doc.txt/below"), 2, "runs through the file"),
        (("stats", "--store", ""), 2, "--store: '': a store is a path"),
        (("get", "doc", "-o", "."), 2, "is a directory"),
        (("verify", "--store", "never-made"), 2, "no artifact store at never-made"),
        (("stats", "--store", "never-made"), 2, "no artifact store at never-made"),
        (("reindex", "--store", "never-made"), 2, "no artifact store at never-made"),
    ],
)
def test_bad_input_is_one_line_with_its_exit_code(
    pit, capsys, stored: bytes, args: tuple[str, ...], code: int, message: str
) -> None:
    assert pit(*args) == code
    assert message in one_error_line(capsys)
    assert not Path("never-made").exists()


def test_put_from_a_closed_stdin_is_bad_input(pit, capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", None)  # what Python makes of `pit ... - <&-`
    assert pit("put", "doc", "-") == 2
    assert "PATH: '-': standard input is closed" in one_error_line(capsys)


def test_an_s3_endpoint_that_is_not_a_url_is_bad_input(
    pit, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIT_STORAGE__S3_ENDPOINT", "not a url")
    assert pit("log", "doc", "--store", "s3://bucket/prefix") == 2
    assert "storage.s3_endpoint: 'not a url'" in one_error_line(capsys)


@pytest.mark.integration
def test_a_stalled_s3_endpoint_exits_3_within_the_documented_bound(
    pit, capsys, monkeypatch: pytest.MonkeyPatch, stalled_endpoint: str
) -> None:
    monkeypatch.setenv("PIT_STORAGE__S3_ENDPOINT", stalled_endpoint)
    started = time.monotonic()
    assert pit("log", "doc", "--store", "s3://bucket/prefix") == 3
    elapsed = time.monotonic() - started
    assert "no answer within 10 s" in one_error_line(capsys)
    assert elapsed < 3 * 10  # docs/artifacts.md: 10 s; a hang test, not a benchmark


def test_an_unreachable_opensearch_is_one_line_and_exit_3(
    pit, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PIT_SEARCH__URL", f"http://127.0.0.1:{free_port()}")
    assert pit("search", "anything") == 3
    assert "search backend" in one_error_line(capsys)  # no client tracebacks


def test_verify_repair_reports_what_it_rebuilt_and_what_it_could_not(
    pit, tmp_path: Path, capsys, stored: bytes
) -> None:
    blob = rot_the_stored_blob(tmp_path, stored)
    blobs = tmp_path / "state" / "artifacts" / "blobs"
    assert pit("verify", "--repair", "--json") == 1
    report = json.loads(capsys.readouterr().out)
    assert report["repaired"] == [] and len(report["corrupt"]) == 1 and not report["ok"]
    warm = tmp_path / "state" / "artifacts" / "tiers" / "warm" / blob.relative_to(blobs)
    warm.parent.mkdir(parents=True)
    warm.write_bytes(stored)  # an intact copy in another tier
    assert pit("verify", "--repair") == 0
    assert f"repaired: sha256:{blob.name}" in capsys.readouterr().out
    assert blob.read_bytes() == stored


def _limited_writes() -> None:
    """In the child: files may not grow past 256 KiB (writes fail with EFBIG), as on a
    nearly full disk."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def _pit_process(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "pit"), "--state-dir", str(tmp_path / "state"), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        preexec_fn=_limited_writes,
        timeout=60,
        check=False,
    )


@pytest.mark.integration
def test_a_full_disk_while_storing_is_one_line_exit_1_and_nothing_stored(
    tmp_path: Path,
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1024 * 1024))
    done = _pit_process(tmp_path, "artifact", "put", "big", str(big))
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "File too large" in done.stderr
    store = tmp_path / "state" / "artifacts"
    assert [p for p in store.rglob("*") if p.is_file()] == []


@pytest.mark.integration
def test_a_full_disk_while_writing_o_is_one_line_exit_1_and_no_file(
    pit, tmp_path: Path, capsys
) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1024 * 1024))
    assert pit("put", "big", str(big)) == 0
    done = _pit_process(tmp_path, "artifact", "get", "big", "-o", "copy.bin")
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "nothing was written" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.bin", "state"]
