"""A store directory whose operations never follow a symbolic link below its root.

Every path is walked one component at a time with `O_NOFOLLOW` from a descriptor of the root,
so a link planted anywhere inside the store (a manifest directory, a blob shard, `tmp/`) is
refused with an `IntegrityError` naming it, instead of letting a read or a write land
outside. The root itself may be a link: that is where the user chose to keep the store.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from pit.common.errors import IntegrityError

Parts = Sequence[str]
"""A directory inside the root, as its components."""

_ROOT_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
TMP = ("tmp",)
_SMALL_READ = 64 * 1024


class StoreTree:
    """Files and directories under `root`, reached without following links."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, parts: Parts, leaf: str | None = None) -> Path:
        return self.root.joinpath(*parts, *([leaf] if leaf else []))

    def refusal(self, parts: Parts, leaf: str | None = None) -> IntegrityError:
        """The error for a store entry that is a link or not what the layout says."""
        path = self._path(parts, leaf)
        try:
            is_link = stat.S_ISLNK(path.lstat().st_mode)
        except OSError:
            is_link = False
        what = "a symbolic link" if is_link else "not a regular file or directory"
        return IntegrityError(
            f"refusing {path}: {what} inside the store (remove it; the store never follows links)",
            path=str(path),
        )

    @contextlib.contextmanager
    def directory(self, parts: Parts, *, create: bool = False) -> Iterator[int]:
        """A descriptor of `root/parts`; FileNotFoundError if a component is missing (unless
        `create`, which makes the missing ones, root included)."""
        try:
            fd = os.open(self.root, _ROOT_FLAGS)
        except FileNotFoundError:
            if not create:
                raise
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.root, _ROOT_FLAGS)
        try:
            for depth, part in enumerate(parts):
                following = self._step(fd, part, create)
                if following is None:
                    raise self.refusal(parts[: depth + 1])
                os.close(fd)
                fd = following
            yield fd
        finally:
            os.close(fd)

    @staticmethod
    def _step(fd: int, part: str, create: bool) -> int | None:
        """The descriptor of directory `part` under `fd`; None if it is a link or a file."""
        try:
            return os.open(part, _DIR_FLAGS, dir_fd=fd)
        except FileNotFoundError:
            if not create:
                raise
        except NotADirectoryError:
            return None
        with contextlib.suppress(FileExistsError):
            os.mkdir(part, 0o755, dir_fd=fd)
        try:
            return os.open(part, _DIR_FLAGS, dir_fd=fd)
        except NotADirectoryError:
            return None

    def open_read(self, parts: Parts, leaf: str) -> BinaryIO:
        """A regular file for reading; FileNotFoundError if it (or its directory) is absent."""
        with self.directory(parts) as dir_fd:
            try:
                fd = os.open(leaf, _READ_FLAGS, dir_fd=dir_fd)
            except OSError as error:
                if error.errno == errno.ELOOP:
                    raise self.refusal(parts, leaf) from None
                raise
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise self.refusal(parts, leaf)
        return os.fdopen(fd, "rb")

    def lstat(self, parts: Parts, leaf: str) -> os.stat_result | None:
        """The entry's own status, None if absent; a link or a non-file is refused."""
        try:
            with self.directory(parts) as dir_fd:
                found = os.stat(leaf, dir_fd=dir_fd, follow_symlinks=False)
        except FileNotFoundError:
            return None
        if not stat.S_ISREG(found.st_mode):
            raise self.refusal(parts, leaf)
        return found

    def files(self, parts: Parts) -> list[tuple[str, os.stat_result]]:
        """The regular files of a directory (none if it is absent) with their status, by
        name; a link or anything but a file is refused."""
        found: list[tuple[str, os.stat_result]] = []
        try:
            with self.directory(parts) as dir_fd:
                for name in sorted(os.listdir(dir_fd)):
                    with contextlib.suppress(FileNotFoundError):  # removed while listed
                        status = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                        if not stat.S_ISREG(status.st_mode):
                            raise self.refusal(parts, name)
                        found.append((name, status))
        except FileNotFoundError:
            return []
        return found

    def names(self, parts: Parts) -> list[str]:
        """The entry names of a directory (none if it is absent), sorted."""
        try:
            with self.directory(parts) as dir_fd:
                return sorted(os.listdir(dir_fd))
        except FileNotFoundError:
            return []

    def subdirectories(self, parts: Parts) -> list[str]:
        """Names of the directories in `parts`, sorted; a link among them is refused."""
        names = []
        try:
            with self.directory(parts) as dir_fd, os.scandir(dir_fd) as found:
                for entry in found:
                    if entry.is_symlink():
                        raise self.refusal(parts, entry.name)
                    if entry.is_dir(follow_symlinks=False):
                        names.append(entry.name)
        except FileNotFoundError:
            return []
        return sorted(names)

    def unlink(self, parts: Parts, leaf: str) -> bool:
        """Remove an entry (never what a link points at); False if it was absent."""
        try:
            with self.directory(parts) as dir_fd:
                os.unlink(leaf, dir_fd=dir_fd)
        except FileNotFoundError:
            return False
        return True

    def new_temp(self, prefix: str) -> tuple[BinaryIO, str]:
        """A new, empty file in `tmp/`, open for writing, and its name there."""
        with self.directory(TMP, create=True) as dir_fd:
            name = f"{prefix}{secrets.token_hex(8)}"
            fd = os.open(name, _NEW_FLAGS, 0o644, dir_fd=dir_fd)
        return os.fdopen(fd, "wb"), name

    def publish(self, temp: str, parts: Parts, leaf: str, *, exclusive: bool = False) -> bool:
        """Move a finished temp file to `parts/leaf` and make that durable. `exclusive`:
        only if nothing is there yet (False then, and the temp file is removed)."""
        with (
            self.directory(TMP) as temp_fd,
            self.directory(parts, create=True) as dir_fd,
        ):
            if exclusive:
                try:
                    os.link(
                        temp, leaf, src_dir_fd=temp_fd, dst_dir_fd=dir_fd, follow_symlinks=False
                    )
                except FileExistsError:
                    return False
                finally:
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(temp, dir_fd=temp_fd)
            else:
                os.replace(temp, leaf, src_dir_fd=temp_fd, dst_dir_fd=dir_fd)
            os.fsync(dir_fd)
        return True

    def sync(self, parts: Parts) -> None:
        """Make the entries of a directory durable (an fsync of the directory)."""
        with self.directory(parts) as dir_fd:
            os.fsync(dir_fd)

    def discard_temp(self, temp: str) -> None:
        with contextlib.suppress(FileNotFoundError, IntegrityError):
            self.unlink(TMP, temp)

    def remove_older(self, parts: Parts, cutoff: float) -> int:
        """Remove the entries of a directory (not subdirectories) last changed before
        `cutoff` (a POSIX time); how many went."""
        removed = 0
        try:
            with self.directory(parts) as dir_fd:
                for name in os.listdir(dir_fd):
                    with contextlib.suppress(FileNotFoundError):
                        status = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
                        if stat.S_ISDIR(status.st_mode) or status.st_mtime >= cutoff:
                            continue
                        os.unlink(name, dir_fd=dir_fd)
                        removed += 1
        except FileNotFoundError:
            return 0
        return removed

    def read_small(self, parts: Parts, leaf: str, limit: int) -> bytes:
        """A whole small file; IntegrityError naming it if it holds more than `limit` bytes."""
        pieces: list[bytes] = []
        total = 0
        with self.open_read(parts, leaf) as handle:
            # in pieces: read(limit + 1) would allocate the whole limit up front
            while total <= limit and (piece := handle.read(_SMALL_READ)):
                pieces.append(piece)
                total += len(piece)
        data = b"".join(pieces)
        if len(data) > limit:
            raise IntegrityError(
                f"{self._path(parts, leaf)} holds more than {limit} bytes: not a file this "
                "store wrote",
                path=str(self._path(parts, leaf)),
            )
        return data

    def write_new(self, parts: Parts, leaf: str, data: bytes) -> bool:
        """Create `parts/leaf` with `data` only if it does not exist (False if it does); a
        file that exists is always complete."""
        handle, temp = self.new_temp("new.")
        settled = False  # publish removes the temp file itself once it has run
        try:
            with handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            created = self.publish(temp, parts, leaf, exclusive=True)
            settled = True
            return created
        finally:
            if not settled:
                self.discard_temp(temp)
