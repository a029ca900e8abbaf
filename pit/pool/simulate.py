"""`pit pool simulate`: replay a trace in virtual time through the real pool and predictor."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any, Literal

from pit.common.clock import ManualClock
from pit.common.errors import CapacityError, InvalidInputError
from pit.pool.loader import SimulatedLoader
from pit.pool.pool import AcquireListener, ModelPool
from pit.pool.predictor import UsagePredictor
from pit.pool.prewarm import PrewarmEngine
from pit.pool.spec import ModelSpec, PrewarmOptions
from pit.pool.trace import TraceEvent
from pit.pool.virtual_time import run_virtual

Policy = Literal["lru", "gdsf", "predictive"]
POLICIES: tuple[Policy, ...] = ("lru", "gdsf", "predictive")
"""`lru`: LRU eviction, no prewarming ("LRU alone"); `gdsf`: Greedy-Dual-Size-Frequency
eviction, no prewarming; `predictive`: GDSF with the predictor's forecast, and prewarming."""

REPORT_KEYS = (
    "requests",
    "hits",
    "hit_rate",
    "cold_starts",
    "prewarms",
    "prewarm_accuracy",
    "acquire_p50_us",
    "acquire_p99_us",
    "hit_p99_us",
    "miss_wait_p99_s",
    "predict_p99_us",
    "peak_memory_bytes",
    "budget_bytes",
    "wasted_prewarm_memory_seconds",
)


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


def simulate(
    models: Sequence[ModelSpec],
    trace: Sequence[TraceEvent],
    budget: int,
    *,
    prewarm: bool = True,
    policy: Policy | None = None,
    options: PrewarmOptions | None = None,
    observe: AcquireListener | None = None,
) -> dict[str, Any]:
    """The figures of one replay, keyed as in `REPORT_KEYS`.

    `policy` defaults to `predictive` (`prewarm=True`) or `lru` (`prewarm=False`).
    `acquire_*_us` is the virtual time a request waited (a load it needed) plus the real time
    the acquire call took; `hit_p99_us` is the real time of hits alone (the hit path, with
    the predictor's bookkeeping), `miss_wait_p99_s` the virtual seconds a miss waited.
    `wasted_prewarm_memory_seconds` is in byte-seconds. `observe` sees every acquisition as
    (model, session, hit).
    """
    largest = max(models, key=lambda model: model.memory_bytes)
    if largest.memory_bytes > budget:
        raise InvalidInputError.for_field(
            "--budget",
            budget,
            f"must be >= the largest model ({largest.id}: {largest.memory_bytes} bytes)",
        )
    chosen_policy: Policy = policy or ("predictive" if prewarm else "lru")
    chosen = (options or PrewarmOptions()).model_copy(
        update={"enabled": chosen_policy == "predictive"}
    )
    clock = ManualClock()
    replay = _replay(models, trace, budget, chosen_policy, chosen, clock, observe)
    return run_virtual(replay, clock)


async def _replay(
    models: Sequence[ModelSpec],
    trace: Sequence[TraceEvent],
    budget: int,
    policy: Policy,
    options: PrewarmOptions,
    clock: ManualClock,
    observe: AcquireListener | None,
) -> dict[str, Any]:
    end = trace[-1].t + max(event.hold for event in trace)
    pool = ModelPool(
        models,
        budget=budget,
        loaders={"simulated": SimulatedLoader()},
        clock=clock,
        capacity_wait=end + 86_400.0,  # in a replay a request waits rather than fails
        eviction="lru" if policy == "lru" else "gdsf",
    )
    predictor = UsagePredictor(
        bin_seconds=options.bin_seconds, bins=options.bins, min_samples=options.min_samples
    )
    engine = PrewarmEngine(pool, predictor, options, clock)
    if observe is not None:
        pool.add_acquire_listener(observe)
    latencies: list[float] = []
    hit_us: list[float] = []
    miss_waits: list[float] = []

    async def request(event: TraceEvent) -> None:
        virtual_start, real_start = clock.monotonic(), time.perf_counter()
        try:
            async with pool.acquire(event.model, session=event.session) as lease:
                real = (time.perf_counter() - real_start) * 1e6
                waited = clock.monotonic() - virtual_start
                latencies.append(waited * 1e6 + real)
                if lease.hit:
                    hit_us.append(real)
                else:
                    miss_waits.append(waited)
                if event.hold:
                    await asyncio.sleep(event.hold)
        except CapacityError:
            pass  # cannot happen within `capacity_wait`; the request counts as a cold start

    running: set[asyncio.Task[None]] = set()
    for event in trace:
        delay = event.t - clock.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(request(event))
        running.add(task)
        task.add_done_callback(running.discard)
    if running:
        await asyncio.gather(*running)
    engine.close()
    pool.settle_prewarm_accounting()
    await pool.aclose()
    stats = pool.stats

    def rounded(value: float | None, digits: int = 1) -> float | None:
        return None if value is None else round(value, digits)

    return {
        "requests": stats.requests,
        "hits": stats.hits,
        "hit_rate": round(stats.hits / stats.requests, 4) if stats.requests else None,
        "cold_starts": stats.cold_starts,
        "prewarms": stats.prewarms,
        "prewarm_accuracy": (
            round(stats.prewarms_used / stats.prewarms, 4) if stats.prewarms else None
        ),
        "acquire_p50_us": rounded(percentile(latencies, 0.50)),
        "acquire_p99_us": rounded(percentile(latencies, 0.99)),
        "hit_p99_us": rounded(percentile(hit_us, 0.99)),
        "miss_wait_p99_s": rounded(percentile(miss_waits, 0.99), 2),
        "predict_p99_us": rounded(percentile(engine.predict_latencies_us, 0.99)),
        "peak_memory_bytes": stats.peak_memory_bytes,
        "budget_bytes": budget,
        "wasted_prewarm_memory_seconds": round(stats.wasted_prewarm_memory_seconds, 1),
    }
