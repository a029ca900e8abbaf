"""The foundation every Pit component uses: errors, config, logging, validation, fs, clock."""

from pit.common.errors import (
    BackendUnavailableError,
    CapacityError,
    ConfigError,
    ConflictError,
    IntegrityError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    PitError,
    WorkFailedError,
)

__all__ = [
    "BackendUnavailableError",
    "CapacityError",
    "ConfigError",
    "ConflictError",
    "IntegrityError",
    "InvalidInputError",
    "InvalidTransitionError",
    "NotFoundError",
    "PitError",
    "WorkFailedError",
]
