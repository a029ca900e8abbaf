"""PitError <-> Temporal ApplicationError, both ways, for every code."""

from __future__ import annotations

import pickle

import pytest
from temporalio.exceptions import ActivityError, ApplicationError, RetryState

from pit.common.errors import (
    ERROR_TYPES,
    BackendUnavailableError,
    ConfigError,
    InvalidInputError,
    NotFoundError,
    PitError,
    WorkFailedError,
)
from pit.infra.temporal.failures import from_failure, to_application_error


@pytest.mark.parametrize("cls", list(ERROR_TYPES.values()), ids=list(ERROR_TYPES))
def test_every_error_round_trips_through_application_error(cls: type[PitError]) -> None:
    original = cls("something broke", field="x", value=3)
    failure = to_application_error(original)
    assert failure.type == cls.code
    assert failure.non_retryable is (not cls.retryable)
    back = from_failure(failure)
    assert type(back) is cls
    assert back.message == "something broke"
    assert back.details == {"field": "x", "value": 3}


def test_retryable_errors_are_retryable_in_temporal() -> None:
    assert to_application_error(BackendUnavailableError("down")).non_retryable is False
    assert to_application_error(InvalidInputError("bad")).non_retryable is True


def test_error_is_found_under_activity_error_wrapping() -> None:
    cause = to_application_error(NotFoundError("no such artifact", name="a"))
    wrapped = ActivityError(
        "activity failed",
        scheduled_event_id=1,
        started_event_id=2,
        identity="w",
        activity_type="pit.artifacts.get",
        activity_id="1",
        retry_state=RetryState.NON_RETRYABLE_FAILURE,
    )
    wrapped.__cause__ = cause
    error = from_failure(wrapped)
    assert isinstance(error, NotFoundError)
    assert error.details == {"name": "a"}


def test_foreign_application_error_becomes_work_failed_with_its_message() -> None:
    error = from_failure(ApplicationError("disk on fire", type="OSError"))
    assert isinstance(error, WorkFailedError)
    assert error.message == "disk on fire"


def test_subclass_code_wins_over_parent() -> None:
    error = from_failure(to_application_error(ConfigError("bad key")))
    assert type(error) is ConfigError
    assert isinstance(error, InvalidInputError)
    assert error.exit_code == 2


def test_exit_codes_follow_the_cli_contract() -> None:
    assert InvalidInputError("x").exit_code == 2
    assert BackendUnavailableError("x").exit_code == 3
    assert WorkFailedError("x").exit_code == 1


def test_for_field_names_field_value_and_rule_on_one_line() -> None:
    error = InvalidInputError.for_field("nodes[2].id", "a b", "1 to 64 characters")
    assert error.message == "nodes[2].id: 'a b': 1 to 64 characters"
    assert "\n" not in error.message
    assert error.details == {"field": "nodes[2].id", "value": "a b", "rule": "1 to 64 characters"}


def test_errors_survive_pickling_with_details() -> None:
    error = pickle.loads(pickle.dumps(NotFoundError("gone", name="n", version=2)))
    assert isinstance(error, NotFoundError)
    assert error.details == {"name": "n", "version": 2}


def test_huge_offending_values_are_shortened_in_the_message() -> None:
    error = InvalidInputError.for_field("inputs.x", "y" * 1_000_000, "too long")
    assert len(error.message) < 300
    assert "1000002 characters" in error.message
