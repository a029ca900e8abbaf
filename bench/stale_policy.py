"""Stale Manager benchmark: policy evaluation at a million versions against the naive tree
walk measured in the same run, and savings of the default policy on the aging corpus.

    python -m bench.stale_policy                 # 1,000,000 versions (about a minute)
    python -m bench.stale_policy --versions 100000
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections import Counter
from datetime import UTC, datetime

import yaml

from bench._report import report
from pit.stale import (
    DEFAULT_POLICY_YAML,
    Action,
    CompiledPolicy,
    PriceTable,
    Scorer,
    VersionFacts,
    aging_corpus,
    make_plan,
    parse_policy,
    placement_savings,
    required_windows,
)
from tests.stale.reference import ReferenceEvaluator

NOW = datetime(2026, 6, 1, tzinfo=UTC)
BATCH = 10_000
NAIVE_SAMPLE = 50_000
SCORED_POLICY = {
    "keep": {"any": [{"keep_tagged": ["release", "pinned"]}, {"keep_last": 1}]},
    "delete": {"all": [{"max_age": "30d"}, {"not": {"min_value": 0.25}}]},
    "demote": {"warm": {"idle_for": "7d"}, "cold": {"idle_for": "30d"}},
}
TIERS_ONLY = {"demote": {"warm": {"idle_for": "7d"}, "cold": {"idle_for": "30d"}}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--versions", type=int, default=1_000_000)
    args = parser.parse_args()
    gc.disable()  # a million live objects: the cyclic collector would dominate the timings

    policy = parse_policy(yaml.safe_load(DEFAULT_POLICY_YAML))
    artifacts = max(1, args.versions // 50)
    started = time.perf_counter()
    corpus = aging_corpus(now=NOW, artifacts=artifacts, windows=required_windows(policy))
    print(
        f"corpus: {len(corpus):,} versions of {artifacts:,} artifacts "
        f"built in {time.perf_counter() - started:.1f} s"
    )

    compiled = CompiledPolicy(policy)
    per_version = evaluation_times("default policy", compiled, corpus, artifacts)
    evaluation_times(
        "policy with min_value", CompiledPolicy(parse_policy(SCORED_POLICY)), corpus, artifacts
    )

    sample = corpus[:NAIVE_SAMPLE]
    started = time.perf_counter()
    reference = ReferenceEvaluator(policy, sample, NOW, Scorer(policy.score))
    naive = [reference.decide(fact) for fact in sample]
    naive_per_version = (time.perf_counter() - started) / len(sample)
    fast = compiled.evaluate(sample, NOW)
    agree = all((fast.actions[i].value, fast.target(i)) == naive[i] for i in range(len(sample)))
    print(
        f"naive tree walk (same run, first {len(sample):,} versions): "
        f"{naive_per_version * 1e6:.2f} us/version; compiled is "
        f"{naive_per_version / per_version:.1f}x faster; same decisions: {agree}"
    )
    report(
        "stale_policy",
        f"policy evaluation, {len(corpus):,} versions",
        per_version * 1e6,
        "us",
        baseline=naive_per_version * 1e6,
        baseline_label="naive tree walk",
        goal="same decisions",
        met=agree,
    )

    started = time.perf_counter()
    plan = make_plan(corpus, policy, NOW)
    print(
        f"make_plan over {len(corpus):,} versions: {time.perf_counter() - started:.2f} s "
        f"({len(plan.items):,} items, id {plan.plan_id})"
    )

    result = compiled.evaluate(corpus, NOW)
    print("actions:", dict(Counter(action.value for action in result.actions)))
    placement = [(fact, result.target(i)) for i, fact in enumerate(corpus)]
    tiers_only = CompiledPolicy(parse_policy(TIERS_ONLY)).evaluate(corpus, NOW)
    tier_placement = [(fact, tiers_only.target(i)) for i, fact in enumerate(corpus)]
    for label, moves in (("default policy", placement), ("tiers only, no deletes", tier_placement)):
        for backend, ratio in (("S3 (cold as stored)", 1.0), ("local (cold zstd 0.6)", 0.6)):
            savings = placement_savings(moves, PriceTable(cold_compression_ratio=ratio))
            print(
                f"savings, {label}, {backend}, 90 days: bytes {savings.bytes_saved_ratio:.1%} "
                f"({savings.bytes_before / 1e12:.1f} TB -> {savings.bytes_after / 1e12:.1f} TB), "
                f"cost {savings.cost_saved_ratio:.1%} "
                f"(${savings.cost_before:,.0f} -> ${savings.cost_after:,.0f})"
            )
    assert sum(a is Action.DELETE for a in result.actions) == len(plan.by_action(Action.DELETE))


def evaluation_times(
    label: str, compiled: CompiledPolicy, corpus: list[VersionFacts], artifacts: int
) -> float:
    batches = []
    for start in range(0, len(corpus), BATCH):
        batch = corpus[start : start + BATCH]
        began = time.perf_counter()
        compiled.evaluate(batch, NOW)
        batches.append((time.perf_counter() - began) / len(batch))
    began = time.perf_counter()
    compiled.evaluate(corpus, NOW)
    total = time.perf_counter() - began
    per_version = total / len(corpus)
    print(
        f"{label}: {len(corpus):,} versions in one call {total:.2f} s "
        f"({per_version * 1e6:.2f} us/version, {total / artifacts * 1e3:.3f} ms/artifact); "
        f"batches of {BATCH:,}: p50 {statistics.median(batches) * 1e6:.2f} us/version"
    )
    return per_version


if __name__ == "__main__":
    main()
