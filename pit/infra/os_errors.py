"""Operating-system failures (a full disk, a read-only directory) as Pit errors, one line."""

from __future__ import annotations

import contextlib
import errno
from collections.abc import Iterator

from pit.common.errors import (
    RAN_OUT,
    UNREACHABLE,
    BackendUnavailableError,
    CapacityError,
    ConfigError,
    PitError,
)

_REFUSED = {errno.EACCES, errno.EPERM, errno.EROFS}


def os_error(error: OSError, where: str, what: str) -> PitError:
    """`where: what: reason (ERRNO)`, classed as the CLI classes OSErrors
    (`os_error_exit_code`): the machine ran out of something, a CapacityError (exit 1,
    retryable); a refused permission, a ConfigError (exit 2); a network failure, or anything
    else the store's own tree did, BackendUnavailableError (exit 3, retryable)."""
    name = errno.errorcode.get(error.errno or 0)
    reason = f"{error.strerror or error}" + (f" ({name})" if name else "")
    message = f"{where}: {what}: {reason}"
    if error.errno in RAN_OUT:
        return CapacityError(message, errno=error.errno)
    if error.errno in _REFUSED and error.errno not in UNREACHABLE:
        return ConfigError(message, errno=error.errno)
    return BackendUnavailableError(message, errno=error.errno)


@contextlib.contextmanager
def os_errors(where: str, what: str) -> Iterator[None]:
    """Inside, an OSError nobody handled becomes one Pit error (see `os_error`)."""
    try:
        yield
    except OSError as error:
        raise os_error(error, where, what) from None
