"""The prewarm engine: turns predictions into prewarms, and tells eviction what comes next.

- After each acquisition in a session, the models the session is likely to use next are
  prewarmed (second-order session context, first order as fallback).
- A model with a regular inter-arrival window is warmed again `load_seconds` (plus a margin)
  before its window opens, as in the hybrid-histogram policy. Nothing is unloaded early:
  memory is only ever freed when someone needs it.
- The engine is the pool's `Forecaster` (`pit.pool.eviction.PredictiveGDSF`): a model whose
  next use is confidently far is unloaded first, one expected soon last.

A prewarm must not cost more cold starts than it saves (`pit.pool.admission`): it may take
free memory, or unload only models the forecast expects later than the prewarmed one, and
only while its expected benefit beats the expected cost of what it unloads and recent
prewarms have mostly been used.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable
from typing import Any

from pit.common.clock import Clock
from pit.pool.admission import Admission, Expectation
from pit.pool.eviction import PredictiveGDSF
from pit.pool.pool import ModelPool
from pit.pool.predictor import UsagePredictor
from pit.pool.spec import PrewarmOptions

PERIODIC_PROBABILITY = 0.9
"""A periodic model's chance of a use inside its window: the window holds ~90% of its gaps."""


class PrewarmEngine:
    def __init__(
        self,
        pool: ModelPool,
        predictor: UsagePredictor,
        options: PrewarmOptions,
        clock: Clock,
        *,
        horizon: float = 300.0,
        margin: float = 1.0,
    ) -> None:
        self.pool = pool
        self.predictor = predictor
        self.options = options
        self.clock = clock
        self.horizon = horizon
        self.margin = margin
        self.predict_latencies_us: list[float] = []
        self.admission = Admission(pool, self, horizon=horizon)
        self._expected: dict[str, Expectation] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        pool.add_acquire_listener(self._on_acquire)
        if options.enabled and pool.eviction.name == "gdsf":
            pool.eviction = PredictiveGDSF(self)

    # --- the Forecaster the eviction policy asks -----------------------------------------

    def next_use(self, model_id: str, now: float) -> float | None:
        expected = self._expected.get(model_id)
        if expected is not None:
            if now <= expected.until:
                return 0.0  # nothing would warm it again in time: keep it
            del self._expected[model_id]
            if self.pool.is_prewarmed(model_id):
                return math.inf  # warmed for a use that did not come: first to go
        last = self.predictor.last_seen(model_id)
        if last is None or now - last < self.predictor.bin_seconds:
            return None  # still in its burst: nothing regular to say
        window = self.predictor.next_use_window(model_id)
        if window is not None and now <= last + window[1]:
            return max(0.0, last + window[0] - now)
        return None

    def soon(self, model_id: str) -> float:
        return self.lead(model_id) + self.margin

    def lead(self, model_id: str) -> float:
        """How long before its use a model must start loading to be hot in time."""
        return self.pool.spec(model_id).load_seconds * 1.2 + self.margin

    # --- learning and acting --------------------------------------------------------------

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _on_acquire(self, model_id: str, session: str | None, hit: bool) -> None:
        started = time.perf_counter()
        now = self.clock.monotonic()
        self.predictor.observe(model_id, session, now)
        followers = self.predictor.next_in_session(session) if session is not None else []
        window = self.predictor.next_use_window(model_id)
        self.predict_latencies_us.append((time.perf_counter() - started) * 1e6)
        self._expected.pop(model_id, None)
        if not self.options.enabled:
            return
        for follower, probability in followers:
            if probability < self.options.min_probability:
                break
            gap = self.predictor.successor_gap(model_id, follower) or self.lead(follower)
            until = now + max(3 * gap, gap + 30.0)
            self._expect(follower, Expectation(probability, now + gap, until))
        if window is not None:
            self._plan_periodic(model_id, now, window)

    def _plan_periodic(self, model_id: str, used_at: float, window: tuple[float, float]) -> None:
        warm_at = used_at + window[0] - self.lead(model_id)
        if warm_at > used_at + self.predictor.bin_seconds:  # not within this burst
            self._schedule(model_id, warm_at, used_at)

    def _schedule(self, model_id: str, at: float, used_at: float) -> None:
        previous = self._timers.pop(model_id, None)
        if previous is not None:
            previous.cancel()
        delay = max(0.0, at - self.clock.monotonic())
        loop = asyncio.get_running_loop()
        self._timers[model_id] = loop.call_later(delay, self._warm_if_unused, model_id, used_at)

    def _warm_if_unused(self, model_id: str, used_at: float) -> None:
        self._timers.pop(model_id, None)
        if self.predictor.last_seen(model_id) != used_at:
            return
        window = self.predictor.next_use_window(model_id)
        if window is None:
            return
        head, tail = window
        expected = Expectation(PERIODIC_PROBABILITY, used_at + head, used_at + tail, True)
        self._expect(model_id, expected)

    def _expect(self, model_id: str, expected: Expectation) -> None:
        self._expected[model_id] = expected
        task = self.admission.prewarm(model_id, expected)
        if task is not None:
            self._track(task)

    def _track(self, work: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._settled)

    def _settled(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled():
            task.exception()  # a failed prewarm is already in the pool's stats and log
