"""Properties of the engine on random event sequences: determinism, no over-allocation, no
false negatives in conflict detection, a state that survives a snapshot."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pit.arbitration import Arbiter, ArbiterConfig, Event, step
from tests.arbitration.support import check_books, configs, event_lists, oracle

FAST = settings(max_examples=60, deadline=None)


def _run(config: ArbiterConfig, events: list[Event]) -> list[str]:
    arbiter = Arbiter(config)
    return [arbiter.apply(event).model_dump_json() for event in events]


@FAST
@given(configs(), event_lists())
def test_same_events_give_byte_identical_decisions(
    config: ArbiterConfig, events: list[Event]
) -> None:
    assert _run(config, events) == _run(config, events)


@FAST
@given(configs(), event_lists())
def test_no_resource_is_ever_over_allocated(config: ArbiterConfig, events: list[Event]) -> None:
    arbiter = Arbiter(config)
    for event in events:
        arbiter.apply(event)
        check_books(arbiter.ledger)


@settings(max_examples=100, deadline=None)
@given(configs(), event_lists())
def test_detector_matches_brute_force_oracle_after_every_event(
    config: ArbiterConfig, events: list[Event]
) -> None:
    arbiter = Arbiter(config)
    for event in events:
        arbiter.apply(event)
        expected = oracle(arbiter.ledger)
        detected = set(arbiter.detector.active)
        assert expected <= detected, f"missed {expected - detected}"  # no false negatives
        assert detected <= expected, f"spurious {detected - expected}"


@FAST
@given(configs(), event_lists(), st.data())
def test_restored_snapshot_decides_like_the_original(
    config: ArbiterConfig, events: list[Event], data: st.DataObject
) -> None:
    cut = data.draw(st.integers(0, len(events)))
    original = Arbiter(config)
    for event in events[:cut]:
        original.apply(event)
    restored = Arbiter.restore(config, original.snapshot())
    for event in events[cut:]:
        assert restored.apply(event) == original.apply(event)
    assert restored.snapshot() == original.snapshot()


@FAST
@given(configs(), event_lists(max_events=15))
def test_step_is_a_pure_function_of_state_and_event(
    config: ArbiterConfig, events: list[Event]
) -> None:
    arbiter = Arbiter(config)
    snapshot = None
    for event in events:
        before = snapshot.model_copy(deep=True) if snapshot else None
        result, after = step(config, snapshot, event)
        assert snapshot == before  # the input state is untouched
        assert result == arbiter.apply(event)
        snapshot = after
