"""Pool benchmarks: hit latency vs a bare dict + OrderedDict baseline, predictor latency,
health-monitor CPU, and every committed trace at its budget, LRU alone against the pool's
predictive policy (`python -m bench.pool_policies` has every budget and policy).

    .venv/bin/python -m bench.pool_bench
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import OrderedDict
from pathlib import Path

from bench._report import report as bench_report
from bench.pool_traces import BUDGETS
from pit.common.clock import SystemClock
from pit.pool.health import HealthMonitor
from pit.pool.loader import SimulatedLoader
from pit.pool.pool import ModelPool
from pit.pool.predictor import UsagePredictor
from pit.pool.simulate import percentile, simulate
from pit.pool.spec import HealthOptions, ModelSpec
from pit.pool.trace import read_models, read_trace

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "pool"
ROUNDS = 100_000


def _us(samples: list[float], q: float) -> float:
    value = percentile(samples, q)
    return round((value or 0.0) * 1e6, 2)


async def hit_latency() -> dict[str, float]:
    specs = [ModelSpec(id=f"m{i}", memory_bytes=1) for i in range(64)]
    pool = ModelPool(specs, budget=64, loaders={"simulated": SimulatedLoader()})
    for spec in specs:
        await pool.warm(spec.id)
    ids = [f"m{random.randrange(64)}" for _ in range(ROUNDS)]
    pool_samples: list[float] = []
    clock = time.perf_counter
    for model_id in ids:
        started = clock()
        async with pool.acquire(model_id):
            pass
        pool_samples.append(clock() - started)
    table: dict[str, object] = {spec.id: object() for spec in specs}
    lru: OrderedDict[str, None] = OrderedDict((spec.id, None) for spec in specs)
    base_samples: list[float] = []
    for model_id in ids:
        started = clock()
        table[model_id]
        lru.move_to_end(model_id)
        base_samples.append(clock() - started)
    pool_p50, base_p50 = _us(pool_samples, 0.5), _us(base_samples, 0.5)
    return {
        "pool_hit_p50_us": pool_p50,
        "pool_hit_p99_us": _us(pool_samples, 0.99),
        "baseline_p50_us": base_p50,
        "baseline_p99_us": _us(base_samples, 0.99),
        "ratio_p50": round(pool_p50 / base_p50, 1) if base_p50 else float("nan"),
    }


def predictor_latency() -> dict[str, float]:
    rng = random.Random(3)
    predictor = UsagePredictor()
    samples: list[float] = []
    t = 0.0
    for index in range(50_000):
        t += rng.expovariate(2.0)
        model = f"m{rng.randrange(300)}"
        started = time.perf_counter()
        predictor.observe(model, f"s{index % 100}", t)
        predictor.successors(model)
        predictor.next_use_window(model)
        samples.append(time.perf_counter() - started)
    return {"predict_p50_us": _us(samples, 0.5), "predict_p99_us": _us(samples, 0.99)}


async def health_cpu(models: int = 20, seconds: float = 3.0) -> dict[str, float]:
    specs = [ModelSpec(id=f"m{i}", memory_bytes=1) for i in range(models)]
    pool = ModelPool(
        specs, budget=models, loaders={"simulated": SimulatedLoader()}, clock=SystemClock()
    )
    for spec in specs:
        await pool.warm(spec.id)
    monitor = HealthMonitor(pool, HealthOptions())
    cpu, wall = time.process_time(), time.perf_counter()
    task = asyncio.create_task(monitor.run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return {
        "hot_models": models,
        "checks": monitor.checks,
        "cpu_percent_of_core": round(100 * cpu / wall, 3),
    }


def traces() -> dict[str, dict[str, dict[str, object]]]:
    results: dict[str, dict[str, dict[str, object]]] = {}
    for name in BUDGETS:
        models = read_models(EXAMPLES / f"{name}.models.yaml")
        trace = read_trace(EXAMPLES / f"{name}.trace.jsonl", {m.id for m in models})
        lru = simulate(models, trace, BUDGETS[name], prewarm=False)
        warm = simulate(models, trace, BUDGETS[name], prewarm=True)
        cut = 1 - warm["cold_starts"] / lru["cold_starts"] if lru["cold_starts"] else 0.0
        results[name] = {"lru": lru, "prewarm": warm, "cold_start_reduction": round(cut, 3)}
    return results


def main() -> None:
    report = {
        "hit": asyncio.run(hit_latency()),
        "predictor": predictor_latency(),
        "health": asyncio.run(health_cpu()),
        "traces": traces(),
    }
    print(json.dumps(report, indent=2))
    hit = report["hit"]
    bench_report(
        "pool_bench",
        "pool hit p99",
        hit["pool_hit_p99_us"],
        "us",
        baseline=hit["baseline_p99_us"],
        baseline_label="dict + OrderedDict",
    )


if __name__ == "__main__":
    main()
