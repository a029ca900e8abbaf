"""Operating-system failures (a full disk, a read-only directory) as Pit errors, one line."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from pit.common.errors import BackendUnavailableError, CapacityError, ConfigError, PitError

_FULL = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_DENIED = {errno.EACCES, errno.EPERM, errno.EROFS}


def os_error(error: OSError, where: str, what: str) -> PitError:
    """`where: what: reason`: a full disk is a CapacityError (exit 1), a refused permission a
    ConfigError (exit 2), anything else BackendUnavailableError (exit 3)."""
    message = f"{where}: {what}: {error.strerror or error}"
    if error.errno in _FULL:
        return CapacityError(message, errno=error.errno)
    if error.errno in _DENIED:
        return ConfigError(message, errno=error.errno)
    return BackendUnavailableError(message, errno=error.errno)


@contextlib.contextmanager
def os_errors(where: str, what: str) -> Iterator[None]:
    """Inside, an OSError nobody handled becomes one Pit error (see `os_error`)."""
    try:
        yield
    except OSError as error:
        raise os_error(error, where, what) from None
