"""What `when:` conditions cost: checking one at pre-validation, and evaluating one per map
item in the workflow (10,000 items), against resolving the same references as node inputs
(`pit.dag.refs.resolve`, what every node already does), measured in the same run.

    python -m bench.dag_conditions_bench
"""

from __future__ import annotations

import time
from collections.abc import Callable

from pit.dag.expressions import check_condition, condition_values, evaluate
from pit.dag.refs import ItemScope, resolve

TEXT = "${nodes.check.output.kind} == 'python' && ${item.lines} > 100 && size(${item.tags}) < 5"
ITEMS = 10_000


def _per_call(action: Callable[[], object], repeat: int) -> float:
    """Microseconds per call (best of three rounds)."""
    rounds = []
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(repeat):
            action()
        rounds.append((time.perf_counter() - started) / repeat * 1e6)
    return min(rounds)


def main() -> None:
    outputs = {"check": {"kind": "python"}}
    items = [ItemScope({"lines": i, "tags": ["a"] * (i % 7)}, i) for i in range(ITEMS)]
    condition = check_condition(TEXT, "when")
    inputs = {
        "kind": "${nodes.check.output.kind}",
        "lines": "${item.lines}",
        "tags": "${item.tags}",
    }

    check_us = _per_call(lambda: check_condition(TEXT, "when"), 2_000)

    def evaluate_all() -> None:
        for item in items:
            evaluate(condition, condition_values(condition, outputs, {}, "when", item), "when")

    def resolve_all() -> None:
        for item in items:
            resolve(inputs, outputs, {}, "inputs", item)

    evaluate_ms = _per_call(evaluate_all, 1) / 1000
    resolve_ms = _per_call(resolve_all, 1) / 1000
    print(f"check (parse, type-check) one condition: {check_us:8.1f} us")
    print(f"evaluate for {ITEMS:,} items:            {evaluate_ms:8.1f} ms")
    print(f"resolve the same inputs for {ITEMS:,} items:{resolve_ms:7.1f} ms (baseline)")
    print(f"ratio evaluate / resolve:               {evaluate_ms / resolve_ms:8.2f}")


if __name__ == "__main__":
    main()
