"""Hypothesis stateful test: the memory budgets hold under any interleaving of acquires,
releases, failures, prewarms and cools, at every single transition, with and without a
cooling tier (models put to sleep in host memory and woken)."""

from __future__ import annotations

import asyncio
import contextlib

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from pit.common.clock import ManualClock
from pit.common.errors import CapacityError, InvalidTransitionError, WorkFailedError
from pit.pool.lease import Lease
from pit.pool.loader import SimulatedLoader
from pit.pool.pool import ModelPool
from pit.pool.spec import ModelSpec
from pit.pool.states import RESIDENT, ModelState
from pit.pool.virtual_time import VirtualTimeLoop

from .support import SleepingSimulatedLoader

SIZES = [3, 5, 2, 7, 4]
BUDGET = 10
IDS = [f"m{index}" for index in range(len(SIZES))]


HOST_BUDGET = 8


class BudgetMachine(RuleBasedStateMachine):
    host_budget = 0

    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.loop = VirtualTimeLoop(self.clock)
        self.loader = SleepingSimulatedLoader() if self.host_budget else SimulatedLoader()
        specs = [
            ModelSpec(id=model_id, memory_bytes=size, load_seconds=0.5 + index * 0.3)
            for index, (model_id, size) in enumerate(zip(IDS, SIZES, strict=True))
        ]
        self.pool = ModelPool(
            specs,
            budget=BUDGET,
            loaders={"simulated": self.loader},
            clock=self.clock,
            capacity_wait=1.0,
            host_budget=self.host_budget,
        )
        self.violations: list[int] = []
        self.pool.add_transition_listener(self._check_at_transition)
        self.leases: list[Lease] = []
        self.tasks: list[asyncio.Task[None]] = []

    def _check_at_transition(self, _model: str, _from: ModelState, _to: ModelState) -> None:
        if self.pool.reserved > BUDGET or self.pool.host_reserved > self.host_budget:
            self.violations.append(self.pool.reserved)

    async def _acquire(self, model_id: str) -> None:
        with contextlib.suppress(CapacityError, WorkFailedError):
            lease = await self.pool.acquire(model_id).__aenter__()
            self.leases.append(lease)

    def _run(self, seconds: float) -> None:
        self.loop.run_until_complete(asyncio.sleep(seconds))

    @rule(model=st.sampled_from(IDS))
    def acquire(self, model: str) -> None:
        self.tasks.append(self.loop.create_task(self._acquire(model)))
        self._run(0)

    @precondition(lambda self: bool(self.leases))
    @rule(index=st.integers(min_value=0, max_value=50))
    def release(self, index: int) -> None:
        self.leases.pop(index % len(self.leases)).release()

    @rule(model=st.sampled_from(IDS))
    def fail(self, model: str) -> None:
        self.loop.run_until_complete(self._fail(model))

    async def _fail(self, model: str) -> None:
        with contextlib.suppress(InvalidTransitionError):
            self.pool.fail(model, "test")

    @rule(model=st.sampled_from(IDS))
    def fail_next_load(self, model: str) -> None:
        self.loader.fail_next.add(model)

    @rule(model=st.sampled_from(IDS), evict_all=st.booleans())
    def prewarm(self, model: str, evict_all: bool) -> None:
        self.loop.run_until_complete(self._prewarm(model, evict_all))
        self._run(0)

    async def _prewarm(self, model: str, evict_all: bool) -> None:
        task = self.pool.prewarm(model, None if evict_all else lambda victim: victim < model)
        if task is not None:
            self.tasks.append(task)

    @rule(model=st.sampled_from(IDS))
    def cool(self, model: str) -> None:
        self.tasks.append(self.loop.create_task(self._cool(model)))
        self._run(0)

    async def _cool(self, model: str) -> None:
        await self.pool.cool(model)

    @rule(seconds=st.sampled_from([0.0, 0.1, 0.4, 1.0, 3.0]))
    def advance(self, seconds: float) -> None:
        self._run(seconds)

    @invariant()
    def budget_holds_and_accounting_matches(self) -> None:
        assert not self.violations
        on_accelerator = sum(
            SIZES[index]
            for index, model_id in enumerate(IDS)
            if self.pool.state(model_id) in RESIDENT and not self.pool.is_asleep(model_id)
        )
        asleep = sum(
            SIZES[index] for index, model_id in enumerate(IDS) if self.pool.is_asleep(model_id)
        )
        assert self.pool.reserved == on_accelerator <= BUDGET
        assert self.pool.stats.peak_memory_bytes <= BUDGET
        assert asleep <= self.pool.host_reserved <= self.host_budget
        for model_id in IDS:  # only a cooling model sleeps, and only with a cooling tier
            if self.pool.is_asleep(model_id):
                assert self.pool.state(model_id) is ModelState.COOLING and self.host_budget

    def teardown(self) -> None:
        try:
            for lease in self.leases:
                lease.release()
            self._run(5.0)
            self.loop.run_until_complete(self._drain())
        finally:
            self.loop.close()

    async def _drain(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.pool.aclose()

    @precondition(lambda self: bool(self.host_budget))
    @rule(model=st.sampled_from(IDS))
    def fail_next_wake(self, model: str) -> None:
        self.loader.fail_next_wake.add(model)  # type: ignore[attr-defined]


class TieredBudgetMachine(BudgetMachine):
    host_budget = HOST_BUDGET

    @rule(model=st.sampled_from(IDS))
    def cool_then_acquire(self, model: str) -> None:
        """A model made hot, released, put to sleep and asked for again: the wake path."""
        self.tasks.append(self.loop.create_task(self._acquire(model)))
        self._run(2.0)
        for lease in [lease for lease in self.leases if lease.model_id == model]:
            self.leases.remove(lease)
            lease.release()
        self.tasks.append(self.loop.create_task(self._cool(model)))
        self._run(0.5)
        self.tasks.append(self.loop.create_task(self._acquire(model)))
        self._run(0)


BudgetMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TieredBudgetMachine.TestCase.settings = BudgetMachine.TestCase.settings
test_memory_budget_holds_under_any_interleaving = BudgetMachine.TestCase
test_both_budgets_hold_with_a_cooling_tier = TieredBudgetMachine.TestCase
