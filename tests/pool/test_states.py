"""The transition table is the only authority on lifecycle moves."""

from __future__ import annotations

import itertools

import pytest

from pit.common.errors import InvalidTransitionError
from pit.pool.states import TRANSITIONS, ModelState, StateRecord, check_transition

ALL_PAIRS = list(itertools.product(ModelState, ModelState))
INVALID = [(a, b) for a, b in ALL_PAIRS if b not in TRANSITIONS[a]]
VALID = [(a, b) for a, b in ALL_PAIRS if b in TRANSITIONS[a]]


def test_table_is_exactly_the_issue_lifecycle_with_waking_from_the_cooling_tier() -> None:
    expected = {
        ("cold", "warming"),
        ("warming", "hot"),
        ("warming", "failed"),
        ("hot", "cooling"),
        ("hot", "failed"),
        ("cooling", "cold"),
        ("cooling", "warming"),  # a sleeping model woken (vLLM sleep mode)
        ("failed", "warming"),
        ("failed", "cold"),
    }
    assert {(str(a), str(b)) for a, b in VALID} == expected


def _record_in(state: ModelState) -> StateRecord:
    record = StateRecord("m", 0.0)
    record.state = state
    record.entered = {state: 1.0}
    return record


@pytest.mark.parametrize(("current", "target"), INVALID)
def test_every_invalid_transition_is_rejected_and_changes_nothing(
    current: ModelState, target: ModelState
) -> None:
    record = _record_in(current)
    with pytest.raises(InvalidTransitionError) as raised:
        record.move(target, 5.0)
    assert record.state is current
    assert record.entered == {current: 1.0}
    assert raised.value.details == {"model": "m", "current": current, "target": target}


@pytest.mark.parametrize(("current", "target"), VALID)
def test_every_valid_transition_records_its_entry_time_to_the_millisecond(
    current: ModelState, target: ModelState
) -> None:
    record = _record_in(current)
    assert record.move(target, 2.3456) is current
    assert record.state is target
    assert record.entered_ms() == 2346
    assert record.entered_ms(current) == 1000


def test_check_transition_names_what_is_allowed() -> None:
    with pytest.raises(InvalidTransitionError, match=r"cold -> hot is not allowed.*warming"):
        check_transition("m", ModelState.COLD, ModelState.HOT)
