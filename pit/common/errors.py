"""The one error hierarchy of the Pit: every failure has a stable machine code.

    PitError                       code          retryable  exit
    ├── InvalidInputError          validation    no         2
    │   └── ConfigError            config        no         2
    ├── NotFoundError              not_found     no         2
    ├── ConflictError              conflict      yes        1
    ├── IntegrityError             integrity     no         1
    ├── InvalidTransitionError     invalid_transition  no   1
    ├── CapacityError              capacity      yes        1
    ├── WorkFailedError            work_failed   no         1
    │   └── CommandFailedError     command_failed yes       1
    └── BackendUnavailableError    backend_unavailable yes  3

`code` is what crosses process boundaries (Temporal `ApplicationError.type`, `--json`
output); the class is what Python code catches. `pit.infra.temporal.failures` converts in
both directions. `exit_code` is what the CLI exits with: 1 the work ran and failed, 2 bad
input (nothing was changed), 3 a backend could not be reached.
"""

from __future__ import annotations

import errno
from typing import Any, ClassVar


class PitError(Exception):
    """Base of every error the Pit raises on purpose."""

    code: ClassVar[str] = "error"
    retryable: ClassVar[bool] = False
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of this error, as `--json` prints it."""
        return {"code": self.code, "message": self.message, "details": self.details}

    def __reduce__(self) -> tuple[Any, ...]:
        # keep details through pickling (process pools, multiprocessing)
        return (_rebuild, (type(self), self.message, self.details))


def _rebuild(cls: type[PitError], message: str, details: dict[str, Any]) -> PitError:
    return cls(message, **details)


class InvalidInputError(PitError):
    """Input broke a rule; nothing was changed. Build it with `for_field`."""

    code = "validation"
    exit_code = 2

    @classmethod
    def for_field(cls, field: str, value: object, rule: str) -> InvalidInputError:
        """One line that names the field, the value and the rule it broke."""
        shown = safe_repr(value)
        if len(shown) > _SHOWN:
            shown = f"{shown[: _SHOWN - 20]}... ({len(shown)} characters)"
        return cls(f"{field}: {shown}: {rule}", field=field, value=_jsonable(value), rule=rule)


class ConfigError(InvalidInputError):
    """A configuration value or file is wrong."""

    code = "config"


class NotFoundError(PitError):
    """The thing asked for does not exist."""

    code = "not_found"
    exit_code = 2


class ConflictError(PitError):
    """Someone else changed the same thing first; trying again may succeed."""

    code = "conflict"
    retryable = True


class IntegrityError(PitError):
    """Stored data does not match what it claims to be (a digest mismatch)."""

    code = "integrity"


class InvalidTransitionError(PitError):
    """A state machine was asked for a transition its table does not allow."""

    code = "invalid_transition"


class CapacityError(PitError):
    """Not enough of a resource (memory, slots) right now."""

    code = "capacity"
    retryable = True


class WorkFailedError(PitError):
    """The work ran and failed (a workflow run, a node, a check)."""

    code = "work_failed"


class CommandFailedError(WorkFailedError):
    """A command ran and exited non-zero; running it again may succeed."""

    code = "command_failed"
    retryable = True


class BackendUnavailableError(PitError):
    """A backend (Temporal, S3, search) could not be reached."""

    code = "backend_unavailable"
    retryable = True
    exit_code = 3


ERROR_TYPES: dict[str, type[PitError]] = {
    cls.code: cls
    for cls in (
        PitError,
        InvalidInputError,
        ConfigError,
        NotFoundError,
        ConflictError,
        IntegrityError,
        InvalidTransitionError,
        CapacityError,
        WorkFailedError,
        CommandFailedError,
        BackendUnavailableError,
    )
}
"""Every error class by its code: how a code that crossed a boundary becomes a class again."""


RAN_OUT = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EMFILE, errno.ENFILE, errno.ENOMEM}
)
"""errnos that say the machine ran out of something: the work failed, the path was fine."""
UNREACHABLE = frozenset(
    {
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.ECONNABORTED,
        errno.ETIMEDOUT,
        errno.EHOSTUNREACH,
        errno.ENETUNREACH,
        errno.ENETDOWN,
        errno.EHOSTDOWN,
    }
)
"""errnos that say a backend could not be reached."""


def os_error_exit_code(error: OSError) -> int:
    """The exit code an OSError means: 3 a backend could not be reached (or timed out), 1
    the machine ran out of something (or the error names no path), 2 the path is wrong
    (ENOENT, ENOTDIR, EISDIR, EACCES, EROFS ...: the user gave it)."""
    if isinstance(error, TimeoutError) or error.errno in UNREACHABLE:
        return BackendUnavailableError.exit_code
    if error.errno in RAN_OUT or error.filename is None:
        return PitError.exit_code
    return InvalidInputError.exit_code


def error_type(code: str) -> type[PitError]:
    """The class for `code`; `PitError` for codes this version does not know."""
    return ERROR_TYPES.get(code, PitError)


_SHOWN = 200
"""Characters of an offending value an error message shows."""
_KEPT = 1024
"""Characters of an offending value kept in `details` (for --json)."""


def safe_repr(value: object) -> str:
    """`repr(value)`, except for integers too long to print (Python refuses to turn an int of
    over 4300 digits into text): those are described by their size."""
    if isinstance(value, int) and value.bit_length() > _LONGEST_INT_BITS:
        return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
    try:
        return repr(value)
    except ValueError:  # a container holding such an integer
        return f"<a {type(value).__name__} that cannot be shown>"


_LONGEST_INT_BITS = 3000
"""Integers longer than this (about 900 digits) are described, not printed."""


def _jsonable(value: object) -> object:
    if value is None or isinstance(value, float | bool):
        return value
    if isinstance(value, int) and value.bit_length() <= _LONGEST_INT_BITS:
        return value
    text = value if isinstance(value, str) else safe_repr(value)
    return text if len(text) <= _KEPT else text[:_KEPT] + "..."
