"""Hypothesis stateful test: the memory budget holds under any interleaving of acquires,
releases, failures, prewarms and cools, at every single transition."""

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

SIZES = [3, 5, 2, 7, 4]
BUDGET = 10
IDS = [f"m{index}" for index in range(len(SIZES))]


class BudgetMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ManualClock()
        self.loop = VirtualTimeLoop(self.clock)
        self.loader = SimulatedLoader()
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
        )
        self.violations: list[int] = []
        self.pool.add_transition_listener(self._check_at_transition)
        self.leases: list[Lease] = []
        self.tasks: list[asyncio.Task[None]] = []

    def _check_at_transition(self, _model: str, _from: ModelState, _to: ModelState) -> None:
        if self.pool.reserved > BUDGET:
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
        resident = sum(
            SIZES[index]
            for index, model_id in enumerate(IDS)
            if self.pool.state(model_id) in RESIDENT
        )
        assert self.pool.reserved == resident <= BUDGET
        assert self.pool.stats.peak_memory_bytes <= BUDGET

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


BudgetMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
test_memory_budget_holds_under_any_interleaving = BudgetMachine.TestCase
