"""Writing verified content to a file a user named (`pit artifact get -o PATH`).

Only a regular file is ever written, or a new one created: a directory, a FIFO, a device, a
socket or a symbolic link at PATH is refused before anything is read (say what it is, exit 2,
nothing changed). A link is refused even when it points at a regular file: the store writes
where it was pointed, and a link can be re-pointed between the check and the write.

The content goes to a temporary file beside PATH first and is used only once it has been
verified in full, so a failed or corrupt read leaves PATH as it was.

- PATH absent, or a file with one name: the temporary file is renamed over it (atomic: a
  reader sees the old or the new file, never a mix). An existing file's permission bits and
  (when allowed) owner carry over; a new file gets 0666 less the umask, like any new file.
- PATH a file with other hard links: renaming would split it from its other names, so the
  verified content is copied into the same file instead (every name sees the new content, and
  the mode and owner stay). Space for it is reserved first, so a full disk leaves the file as
  it was; an I/O error in the middle of that copy can leave it partial, and the command says
  so.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import secrets
import stat
from collections.abc import AsyncIterator
from pathlib import Path

from pit.common.errors import InvalidInputError, PitError, WorkFailedError
from pit.infra.os_errors import os_error

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}
_COPY_SIZE = 1024 * 1024


def check_output(target: Path, field: str = "-o") -> os.stat_result | None:
    """The status of `target` if it is a regular file, None if it does not exist; anything
    else is an InvalidInputError saying what it is (nothing is changed)."""
    try:
        found = os.lstat(target)
    except FileNotFoundError:
        return None
    except OSError as error:
        raise _refusal(field, target, f"cannot be used: {error.strerror}") from None
    if stat.S_ISREG(found.st_mode):
        if not os.access(target, os.W_OK, follow_symlinks=False):
            raise _refusal(field, target, "cannot be written: Permission denied")
        return found
    kind = _KINDS.get(stat.S_IFMT(found.st_mode), "not a regular file")
    hint = "give the path of a file (without -o, the content goes to standard output)"
    raise _refusal(field, target, f"is {kind}: only a regular file is written; {hint}")


async def write_output(stream: AsyncIterator[bytes], target: Path, field: str = "-o") -> None:
    """Write `stream` to `target` as the module docstring says; the stream is consumed in
    full (and so verified) before `target` changes."""
    before = check_output(target, field)
    directory = target.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        temp = directory / f".{target.name}.{secrets.token_hex(6)}.tmp"
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(temp, flags, 0o666)  # less the umask, like any new file
    except OSError as error:
        raise _failure(error, field, target) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            try:
                async for piece in stream:
                    await asyncio.to_thread(handle.write, piece)
                await asyncio.to_thread(handle.flush)
                await asyncio.to_thread(os.fsync, handle.fileno())
            except OSError as error:
                raise _failure(error, field, target) from None
        await asyncio.to_thread(_put_in_place, temp, target, before, field)
    finally:
        with contextlib.suppress(FileNotFoundError):  # renamed into place, or never made
            os.unlink(temp)


def _put_in_place(temp: Path, target: Path, before: os.stat_result | None, field: str) -> None:
    now = check_output(target, field)
    if _identity(now) != _identity(before):
        raise _refusal(field, target, "changed while the content was read; nothing was written")
    try:
        if now is not None and now.st_nlink > 1:
            _copy_into(temp, target, now, field)
            return
        if now is not None:
            os.chmod(temp, stat.S_IMODE(now.st_mode))
            # only root may give a file away; the content is the user's anyway
            with contextlib.suppress(PermissionError):
                os.chown(temp, now.st_uid, now.st_gid)
        os.replace(temp, target)
        fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as error:
        raise _failure(error, field, target) from None


def _copy_into(temp: Path, target: Path, expected: os.stat_result, field: str) -> None:
    """Overwrite a hard-linked file in place: the same inode, so every name keeps it."""
    out = os.open(target, os.O_WRONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        if _identity(os.fstat(out)) != _identity(expected):
            raise _refusal(field, target, "changed while the content was read; nothing written")
        size = os.path.getsize(temp)
        if size > expected.st_size:
            try:
                os.posix_fallocate(out, 0, size)  # a full disk fails here, before a byte moves
            except OSError as error:
                os.ftruncate(out, expected.st_size)
                raise _failure(error, field, target) from None
        with open(temp, "rb") as source:
            written = 0
            try:
                while block := source.read(_COPY_SIZE):
                    view = memoryview(block)
                    while view:
                        count = os.pwrite(out, view, written)
                        view, written = view[count:], written + count
                os.ftruncate(out, size)
                os.fsync(out)
            except OSError as error:
                failure = os_error(error, f"{field} {target}", "write in place")
                raise WorkFailedError(
                    f"{failure.message} ({target} is left partial: its other hard links share it)"
                ) from None
    finally:
        os.close(out)


def _identity(found: os.stat_result | None) -> tuple[int, int] | None:
    return None if found is None else (found.st_dev, found.st_ino)


def _failure(error: OSError, field: str, target: Path) -> PitError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return os_error(error, f"{field} {target}", "nothing was written")
    return InvalidInputError.for_field(field, str(target), f"cannot be written: {error.strerror}")


def _refusal(field: str, target: Path, rule: str) -> InvalidInputError:
    return InvalidInputError.for_field(field, str(target), rule)
