"""A full disk is one line naming the file being written and ENOSPC, exit code 1."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_errors.hostile import POLICY
from tests.cli_errors.support import assert_one_line, pit_in_process, pit_subprocess


def test_enospc_at_the_write_boundary_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In-process: the disk fills up exactly when a plan is made durable (os.fsync in
    pit.common.fs, the one place files are written atomically)."""

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    state = tmp_path / "state"
    monkeypatch.setattr(os, "fsync", full)
    code, err = pit_in_process(
        ["--state-dir", str(state), "stale", "plan", "--policy", str(POLICY)],
        tmp_path,
        {"PIT_SEARCH__URL": f"sqlite:///{tmp_path / 'index.sqlite'}"},
    )
    assert_one_line(code, err, 1, f"pit: error: {state}", "No space left on device (ENOSPC)")
    assert not list(state.rglob("*.tmp")), "a failed write left its temporary file"


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 256 KiB tmpfs, filled up; needs root and mount (CAP_SYS_ADMIN)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
        capture_output=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        (mount / "state").mkdir()
        filler = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while os.write(filler, b"\0" * 4096):
                pass
        except OSError as full:
            assert full.errno == errno.ENOSPC
        finally:
            os.close(filler)
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.mark.integration
def test_a_really_full_disk_is_one_line_and_exit_1(tiny_disk: Path, tmp_path: Path) -> None:
    state = tiny_disk / "state"
    result = pit_subprocess(
        ["--state-dir", str(state), "stale", "plan", "--policy", str(POLICY)],
        tmp_path,
        {"PIT_SEARCH__URL": f"sqlite:///{tmp_path / 'index.sqlite'}"},
    )
    assert_one_line(result.returncode, result.stderr, 1, str(state), "(ENOSPC)")


@pytest.mark.integration
def test_an_embedded_server_that_cannot_start_on_a_full_disk_is_exit_1(
    tiny_disk: Path, tmp_path: Path
) -> None:
    dag = tmp_path / "dag.yaml"
    dag.write_text("name: t\nnodes:\n  - {id: a, activity: pit.echo}\n")
    state = tiny_disk / "state"
    result = pit_subprocess(["--state-dir", str(state), "run", str(dag)], tmp_path, timeout=120)
    assert_one_line(
        result.returncode, result.stderr, 1, "the embedded server exited", f"{state} has"
    )


@pytest.mark.integration
def test_a_search_index_on_a_full_disk_is_exit_1_naming_it(tiny_disk: Path, tmp_path: Path) -> None:
    index = tiny_disk / "index.sqlite"
    (tmp_path / "doc.txt").write_text("some words")
    result = pit_subprocess(
        ["artifact", "search", "words", "--store", str(tmp_path / "store")],
        tmp_path,
        {"PIT_SEARCH__URL": f"sqlite:///{index}"},
    )
    assert_one_line(result.returncode, result.stderr, 1, "index.sqlite")
