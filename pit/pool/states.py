"""The model lifecycle: one transition table that every part of the pool consults."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from pit.common.errors import InvalidTransitionError


class ModelState(StrEnum):
    COLD = "cold"
    WARMING = "warming"
    HOT = "hot"
    COOLING = "cooling"
    FAILED = "failed"


TRANSITIONS: Mapping[ModelState, frozenset[ModelState]] = {
    ModelState.COLD: frozenset({ModelState.WARMING}),
    ModelState.WARMING: frozenset({ModelState.HOT, ModelState.FAILED}),
    ModelState.HOT: frozenset({ModelState.COOLING, ModelState.FAILED}),
    ModelState.COOLING: frozenset({ModelState.COLD, ModelState.WARMING}),
    ModelState.FAILED: frozenset({ModelState.WARMING, ModelState.COLD}),
}
"""Every allowed transition; anything not listed is rejected. `cooling -> warming` is a
model woken from the cooling tier (its runtime put it to sleep instead of unloading it)."""

RESIDENT: frozenset[ModelState] = frozenset(
    {ModelState.WARMING, ModelState.HOT, ModelState.COOLING}
)
"""States whose memory counts against the budget."""


def check_transition(model_id: str, current: ModelState, target: ModelState) -> None:
    """Raise `InvalidTransitionError` unless the table allows `current -> target`."""
    if target not in TRANSITIONS[current]:
        allowed = ", ".join(sorted(TRANSITIONS[current])) or "nothing"
        raise InvalidTransitionError(
            f"model {model_id}: {current} -> {target} is not allowed (from {current}: {allowed})",
            model=model_id,
            current=str(current),
            target=str(target),
        )


class StateRecord:
    """A model's current state and when (monotonic seconds) it last entered each state."""

    __slots__ = ("entered", "model_id", "state")

    def __init__(self, model_id: str, now: float) -> None:
        self.model_id = model_id
        self.state = ModelState.COLD
        self.entered: dict[ModelState, float] = {ModelState.COLD: now}

    def move(self, target: ModelState, now: float) -> ModelState:
        """Go to `target` if the table allows it; return the previous state."""
        check_transition(self.model_id, self.state, target)
        previous, self.state = self.state, target
        self.entered[target] = now
        return previous

    def entered_ms(self, state: ModelState | None = None) -> int | None:
        """When `state` (default: the current one) was last entered, in whole milliseconds."""
        at = self.entered.get(self.state if state is None else state)
        return None if at is None else round(at * 1000)
