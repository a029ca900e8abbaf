"""When a prewarm may go ahead, and what it may unload: the rule that keeps prewarming from
costing more cold starts than it saves.

A prewarm of P, expected in `t` seconds with probability p, is admitted when

1. it fits in free memory, or
2. every model it would unload is either forecast to be needed later than P (and not soon:
   Belady's choice, were the forecast right) or has no forecast at all, and
3. p * C(P) > SAFETY * sum(q(V) * C(V)) over the unloaded models V without a forecast, where
   C is a reload's cost (`pit.pool.eviction.reload_cost`) and q(V) the chance that V is
   used within the horizon (`UsagePredictor.use_probability` over its recent and its
   long-run rate, whichever is higher). A periodic model warmed for its next window is
   exempt: eviction unloaded it early because that window was far (`PredictiveGDSF`), so
   its prewarm is the demand load it anticipates, made `lead` seconds early, and may unload
   what that load would; and
4. the prewarms that unloaded something were mostly used: while fewer than `MIN_ACCURACY`
   of the last `WINDOW` prewarms were used, prewarms may take free memory only.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import NamedTuple, Protocol

from pit.common.clock import Clock
from pit.pool.eviction import Forecaster, reload_cost
from pit.pool.memory import Admit, MayEvict, PrewarmListener
from pit.pool.predictor import UsagePredictor
from pit.pool.spec import ModelSpec


class PrewarmingPool(Protocol):
    """What admission needs of the pool (`pit.pool.ModelPool`)."""

    clock: Clock

    def spec(self, model_id: str) -> ModelSpec: ...

    def prewarm(
        self, model_id: str, may_evict: MayEvict | None = None, admit: Admit | None = None
    ) -> asyncio.Task[None] | None: ...

    def add_prewarm_listener(self, listener: PrewarmListener) -> None: ...


class Forecasts(Forecaster, Protocol):
    """What admission needs of the prewarm engine (`pit.pool.PrewarmEngine`)."""

    predictor: UsagePredictor


SAFETY = 2.0
"""How much the expected benefit must exceed the expected cost of what a prewarm unloads."""
WINDOW = 32
MIN_ACCURACY = 0.6


class Expectation(NamedTuple):
    """A predicted use: its probability, when (monotonic seconds), until when a prewarm made
    for it is still worth keeping, and whether it is a periodic model's next window."""

    probability: float
    at: float
    until: float
    periodic: bool = False


class Admission:
    def __init__(self, pool: PrewarmingPool, engine: Forecasts, *, horizon: float) -> None:
        self.pool = pool
        self.engine = engine
        self.horizon = horizon
        self.outcomes: deque[bool] = deque(maxlen=WINDOW)
        self.refused = 0
        pool.add_prewarm_listener(self._outcome)

    def trusted(self) -> bool:
        """Whether recent prewarms were used often enough to let one unload a model."""
        if len(self.outcomes) < WINDOW // 4:
            return True
        return sum(self.outcomes) >= MIN_ACCURACY * len(self.outcomes)

    def prewarm(self, model_id: str, expected: Expectation) -> asyncio.Task[None] | None:
        now = self.pool.clock.monotonic()
        lead_in = max(0.0, expected.at - now)
        trusted = self.trusted()
        forecaster = self.engine

        def may_evict(victim: str) -> bool:
            if not trusted:
                return False
            next_use = forecaster.next_use(victim, now)
            return next_use is None or next_use > lead_in + forecaster.soon(victim)

        def admit(victims: list[str]) -> bool:
            if expected.periodic:
                return True  # it stands in for the demand load it anticipates (see above)
            benefit = expected.probability * reload_cost(self.pool.spec(model_id))
            risk = sum(self._risk(victim, now) for victim in victims)
            if benefit > SAFETY * risk:
                return True
            self.refused += 1
            return False

        return self.pool.prewarm(model_id, may_evict, admit)

    def _risk(self, victim: str, now: float) -> float:
        if self.engine.next_use(victim, now) is not None:
            return 0.0  # forecast later than the prewarmed model: may_evict checked it
        chance = self.engine.predictor.use_probability(victim, now, self.horizon)
        return chance * reload_cost(self.pool.spec(victim))

    def _outcome(self, model_id: str, used: bool) -> None:
        self.outcomes.append(used)
