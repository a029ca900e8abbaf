"""Atomic writes survive a crash mid-write; safe_join never leaves its root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pit.common.errors import InvalidInputError
from pit.common.fs import atomic_write, create_exclusive, safe_join


def test_atomic_write_replaces_content(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    atomic_write(target, b"old")
    atomic_write(target, b"new")
    assert target.read_bytes() == b"new"


def test_crash_during_write_leaves_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    atomic_write(target, b"old content")

    def power_cut(fd: int) -> None:
        raise OSError(5, "simulated crash before the data is durable")

    monkeypatch.setattr(os, "fsync", power_cut)
    with pytest.raises(OSError, match="simulated crash"):
        atomic_write(target, b"new content that never lands")
    assert target.read_bytes() == b"old content"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temp file left


def test_crash_at_rename_leaves_old_file_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "state.json"
    atomic_write(target, b"old")

    def killed(src: str, dst: str) -> None:
        raise KeyboardInterrupt  # the process dies between write and rename

    monkeypatch.setattr(os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, b"new")
    assert target.read_bytes() == b"old"


def test_create_exclusive_only_first_writer_wins(tmp_path: Path) -> None:
    target = tmp_path / "v1.json"
    assert create_exclusive(target, b"first") is True
    assert create_exclusive(target, b"second") is False
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["v1.json"]


@pytest.mark.parametrize(
    "parts",
    [("..", "etc", "passwd"), ("a", "..", "..", "x"), ("/etc/passwd",), ("a/../../x",)],
)
def test_safe_join_refuses_to_leave_root(tmp_path: Path, parts: tuple[str, ...]) -> None:
    with pytest.raises(InvalidInputError):
        safe_join(tmp_path, *parts)


def test_safe_join_refuses_a_symlink_out_of_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "escape").symlink_to(tmp_path)
    with pytest.raises(InvalidInputError, match="must stay inside"):
        safe_join(root, "escape", "file")


def test_safe_join_allows_inner_dotdot(tmp_path: Path) -> None:
    assert safe_join(tmp_path, "a", "..", "b") == (tmp_path / "b").resolve()


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(["..", ".", "a", "b", "/", "c/..", "../d"]), min_size=1))
def test_safe_join_result_is_always_inside_root(tmp_path: Path, parts: list[str]) -> None:
    # the root is only read, never written, so sharing it across examples is sound
    try:
        joined = safe_join(tmp_path, *parts)
    except InvalidInputError:
        return
    root = tmp_path.resolve()
    assert joined == root or root in joined.parents
