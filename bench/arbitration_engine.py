"""Arbitration engine benchmarks: per-event detection and decision latency at 1,000 and
10,000 waiting requests against a naive full-scan baseline measured in the same run, and
fairness (deviation from entitled share, Gini) on the three-tenant example.

    python -m bench.arbitration_engine
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import yaml

from bench._report import report
from pit.arbitration import Arbiter, ArbiterConfig, Release, Request, Submit
from pit.arbitration.ledger import Ledger, rank_key
from pit.arbitration.scenario import parse_scenario
from pit.arbitration.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
TENANTS = ("research", "product", "batch")
EVENTS = 400


def _config() -> ArbiterConfig:
    return ArbiterConfig.model_validate(
        {
            "strategy": "priority",
            "resources": {
                "gpu": 8,
                "gpu.mem": "640GiB",
                "model:coder": 4,
                "lock": {"capacity": 1, "exclusive": True},
            },
            "tenants": {
                "research": {"weight": 3},
                "product": {"weight": 2},
                "batch": {"weight": 1},
            },
        }
    )


def _request(index: int) -> Request:
    shapes = [
        {"gpu": 1, "gpu.mem": "80GiB"},
        {"model:coder": 1},
        {"gpu": 2, "gpu.mem": "160GiB"},
        {"lock": 1},
    ]
    return Request.model_validate(
        {
            "id": f"q{index:06d}",
            "tenant": TENANTS[index % 3],
            "priority": index % 5,
            "demands": shapes[index % 4],
        }
    )


def naive_detect(ledger: Ledger) -> int:
    """Every conflict from scratch: a pass over all grants and all waiting requests."""
    used: dict[str, int] = dict.fromkeys(ledger.capacity, 0)
    pending: dict[str, int] = dict.fromkeys(ledger.capacity, 0)
    per_tenant: dict[tuple[str, str], int] = {}
    for held in ledger.granted.values():
        for r, a in held.charged.items():
            used[r] += a
    for waiting in ledger.waiting.values():
        for r, a in waiting.request.demands.items():
            pending[r] += a
            key = (waiting.request.tenant, r)
            per_tenant[key] = per_tenant.get(key, 0) + a
    return sum(1 for r in ledger.capacity if pending[r] > ledger.capacity[r] - used[r])


def naive_decide(ledger: Ledger) -> str | None:
    """Sort every waiting request and take the first that fits."""
    aging = ledger.config.aging_seconds
    free = ledger.free
    for waiting in sorted(
        ledger.waiting.values(), key=lambda w: rank_key(w.request, w.arrival, aging)
    ):
        if all(a <= free[r] for r, a in waiting.request.demands.items()):
            return waiting.request.id
    return None


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1e3, ordered[int(len(ordered) * 0.99) - 1] * 1e3


def latency(pending: int) -> dict[str, Any]:
    arbiter = Arbiter(_config())
    detect_times: list[float] = []
    update = arbiter.detector.update

    def timed_update(touched: Any) -> Any:
        start = time.perf_counter()
        result = update(touched)
        detect_times.append(time.perf_counter() - start)
        return result

    t = 0.0
    for index in range(pending):
        arbiter.apply(Submit(t=t, request=_request(index)))
    arbiter.detector.update = timed_update  # type: ignore[method-assign]
    decide: list[float] = []
    naive_detect_times: list[float] = []
    naive_decide_times: list[float] = []
    next_id = pending
    for _ in range(EVENTS):
        t += 1
        holder = next(iter(arbiter.ledger.granted))
        for event in (Release(t=t, request=holder), Submit(t=t, request=_request(next_id))):
            start = time.perf_counter()
            arbiter.apply(event)
            decide.append(time.perf_counter() - start)
            start = time.perf_counter()
            naive_detect(arbiter.ledger)
            naive_detect_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            naive_decide(arbiter.ledger)
            naive_decide_times.append(time.perf_counter() - start)
        next_id += 1
    # detection runs twice per event (before and after granting): per event, sum the pair
    per_event = [a + b for a, b in zip(detect_times[::2], detect_times[1::2], strict=False)]
    return {
        "pending": len(arbiter.ledger.waiting),
        "detect": _percentiles(per_event),
        "decide": _percentiles(decide),
        "naive_detect": _percentiles(naive_detect_times),
        "naive_decide": _percentiles(naive_decide_times),
    }


def fairness() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "examples" / "arbitration" / "three_tenants.yaml").read_text())
    scenario = parse_scenario(data)
    report = simulate(scenario, scenario.config())
    tenants = report["tenants"]
    deviation = {
        name: abs(t["share"] - t["entitled_share"]) / t["entitled_share"]
        for name, t in tenants.items()
    }
    steady = [g["value"] for g in report["gini"] if 60 <= g["t"] <= 300]
    return {
        "tenants": tenants,
        "deviation": deviation,
        "gini_steady_mean": statistics.mean(steady),
        "gini_steady_max": max(steady),
    }


def main() -> None:
    print(f"arbitration engine: {EVENTS} releases + {EVENTS} arrivals per size, ms per event")
    print(
        f"{'pending':>8} {'what':<9} {'engine p50':>10} {'p99':>8} "
        f"{'naive p50':>10} {'p99':>8} {'ratio p50':>9}"
    )
    for size in (1_000, 10_000):
        result = latency(size)
        for what, naive in (("detect", "naive_detect"), ("decide", "naive_decide")):
            p50, p99 = result[what]
            n50, n99 = result[naive]
            print(
                f"{result['pending']:>8} {what:<9} {p50:>10.4f} {p99:>8.4f} "
                f"{n50:>10.4f} {n99:>8.4f} {n50 / p50:>8.0f}x"
            )
            report(
                "arbitration_engine",
                f"{what} p99, {result['pending']:,} waiting",
                p99,
                "ms",
                baseline=n99,
                baseline_label="naive full scan",
            )
    result = fairness()
    print("three tenants, weights 3:2:1, weighted_fair (examples/arbitration/three_tenants.yaml):")
    for name, tenant in result["tenants"].items():
        print(
            f"  {name:<9} share {tenant['share']:.3f}  entitled {tenant['entitled_share']:.3f}  "
            f"deviation {result['deviation'][name] * 100:.1f}%"
        )
    worst = max(abs(value) for value in result["deviation"].values())
    report(
        "arbitration_engine",
        "fairness: worst deviation from entitled share",
        worst * 100,
        "%",
    )
    print(
        f"  Gini (60 s window, t=60..300): mean {result['gini_steady_mean']:.4f}, "
        f"max {result['gini_steady_max']:.4f}"
    )


if __name__ == "__main__":
    main()
