"""Filesystem helpers: writes that are all-or-nothing, and paths that stay inside a root."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from pit.common.errors import InvalidInputError


def atomic_write(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Write `data` to `path` so that a reader sees the old file or the new one, never a mix.

    The bytes go to a temporary file in the same directory, are fsynced, and the file is
    renamed over `path`; the directory is fsynced so the rename survives a power cut. A crash
    at any point leaves the old file as it was (and at worst a stray `.tmp` file).
    """
    temp_name = _durable_temp(path, data)
    try:
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    fsync_dir(path.parent)


def create_exclusive(path: Path, data: bytes) -> bool:
    """Create `path` with `data` only if it does not exist yet (O_EXCL); False if it did.

    The content is written under a temporary name first and linked into place, so a file
    that exists is always complete.
    """
    temp_name = _durable_temp(path, data)
    try:
        try:
            os.link(temp_name, path)  # fails with FileExistsError, atomically, like O_EXCL
        except FileExistsError:
            return False
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
    fsync_dir(path.parent)
    return True


def _durable_temp(path: Path, data: bytes) -> str:
    """`data` in a new, fsynced temporary file beside `path`; removed again on failure."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        if isinstance(error, OSError):
            raise naming(error, path) from None
        raise
    return temp_name


def naming(error: OSError, path: Path | str) -> OSError:
    """`error` with `path` as its file name when it has none (a write or fsync that failed
    says only "No space left on device"; the user needs to know where)."""
    if error.filename is not None:
        return error
    return type(error)(error.errno, error.strerror or str(error), str(path))


def fsync_dir(directory: Path) -> None:
    """Make a rename or a new file in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as error:
        raise naming(error, directory) from None
    finally:
        os.close(fd)


def safe_join(root: Path, *parts: str, field: str = "path") -> Path:
    """`root / parts`, refusing any result outside `root` (`..`, absolute parts, symlinks)."""
    for part in parts:
        if "\x00" in part:
            raise InvalidInputError.for_field(field, part, "must not contain a NUL byte")
        if Path(part).is_absolute():
            raise InvalidInputError.for_field(field, part, f"must be relative to {root}")
    base = root.resolve()
    candidate = base.joinpath(*parts).resolve()
    if candidate != base and base not in candidate.parents:
        raise InvalidInputError.for_field(
            field, "/".join(parts), f"must stay inside {root} (no '..' or links out)"
        )
    return candidate
