"""The prewarm engine: turns predictions into prewarms and cools models not needed soon.

- After each acquisition, likely session successors are prewarmed (probability as value).
- A model with a regular inter-arrival window is cooled once its burst is over and warmed
  again `load_seconds` (plus a margin) before its window opens, as in the hybrid-histogram
  policy; an unused prewarm is cooled when its window has passed.
- A prewarm may evict only idle models worth less than itself (see `value`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from pit.common.clock import Clock
from pit.pool.pool import ModelPool
from pit.pool.predictor import UsagePredictor
from pit.pool.spec import PrewarmOptions
from pit.pool.states import ModelState

PERIODIC_VALUE = 0.95
"""What a model inside its predicted window is worth: its window holds ~90% of its gaps."""


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
        self._expected: dict[str, tuple[float, float]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        pool.add_acquire_listener(self._on_acquire)

    def value(self, model_id: str, now: float) -> float:
        """How much keeping `model_id` is worth now: its best predicted chance of use soon."""
        best = 0.0
        expected = self._expected.get(model_id)
        if expected is not None and expected[1] >= now:
            best = expected[0]
        window = self.predictor.next_use_window(model_id)
        last = self.predictor.last_seen(model_id)
        if window is not None and last is not None:
            lead = self._lead(model_id)
            if last + window[0] - lead <= now <= last + window[1]:
                best = max(best, PERIODIC_VALUE)
            return best  # a periodic model far from its window is cheap to drop and re-warm
        return max(best, self.predictor.use_probability(model_id, now, self.horizon))

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _lead(self, model_id: str) -> float:
        return self.pool.spec(model_id).load_seconds * 1.2 + self.margin

    def _on_acquire(self, model_id: str, session: str | None, hit: bool) -> None:
        started = time.perf_counter()
        now = self.clock.monotonic()
        self.predictor.observe(model_id, session, now)
        followers = self.predictor.successors(model_id)
        window = self.predictor.next_use_window(model_id)
        self.predict_latencies_us.append((time.perf_counter() - started) * 1e6)
        if not self.options.enabled:
            return
        for follower, probability in followers:
            if probability < self.options.min_probability:
                break
            self._expected[follower] = (probability, now + self.horizon)
            self._prewarm(follower, probability, now)
        if window is not None:
            self._plan_periodic(model_id, now, window)

    def _plan_periodic(self, model_id: str, used_at: float, window: tuple[float, float]) -> None:
        head, tail = window
        warm_at = used_at + head - self._lead(model_id)
        burst_end = used_at + self.predictor.bin_seconds
        if warm_at > burst_end:
            self._schedule(model_id, burst_end, self._cool_if_unused, used_at)
        else:
            self._schedule(model_id, used_at + tail, self._cool_if_unused, used_at)
        if warm_at > burst_end:
            # the second timer of the model: stored under a derived key
            self._schedule(model_id + "\0warm", warm_at, self._warm_if_unused, used_at)

    def _schedule(
        self, key: str, at: float, action: Callable[[str, float], None], used_at: float
    ) -> None:
        previous = self._timers.pop(key, None)
        if previous is not None:
            previous.cancel()
        model_id = key.split("\0", 1)[0]
        loop = asyncio.get_running_loop()
        delay = max(0.0, at - self.clock.monotonic())
        self._timers[key] = loop.call_later(delay, action, model_id, used_at)

    def _cool_if_unused(self, model_id: str, used_at: float) -> None:
        if self.predictor.last_seen(model_id) != used_at:
            return
        if self.pool.state(model_id) is ModelState.HOT and self.pool.is_idle(model_id):
            self._track(self.pool.cool(model_id))

    def _warm_if_unused(self, model_id: str, used_at: float) -> None:
        if self.predictor.last_seen(model_id) != used_at:
            return
        now = self.clock.monotonic()
        window = self.predictor.next_use_window(model_id)
        if window is None:
            return
        self._expected[model_id] = (PERIODIC_VALUE, used_at + window[1])
        self._prewarm(model_id, PERIODIC_VALUE, now)
        self._schedule(model_id, used_at + window[1], self._cool_if_unused, used_at)

    def _prewarm(self, model_id: str, worth: float, now: float) -> None:
        task = self.pool.prewarm(model_id, lambda victim: self.value(victim, now) < worth)
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
