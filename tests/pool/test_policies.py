"""Prewarming and eviction together never cost more cold starts than LRU alone: every
committed trace, at budgets from the largest model up to the whole working set."""

from __future__ import annotations

from collections import defaultdict

import pytest

from bench import pool_policies
from bench.pool_policies import Cell, budgets, cells, docs_table, generated, load

pytestmark = pytest.mark.timeout(900)

PREDICTABLE = ("periodic", "pipelines")
"""Traces whose traffic is periodic jobs or session sequences only."""


@pytest.fixture(scope="module")
def table() -> list[Cell]:
    return cells(workers=2)


def _by_budget(table: list[Cell]) -> dict[tuple[str, int], dict[str, Cell]]:
    grouped: dict[tuple[str, int], dict[str, Cell]] = defaultdict(dict)
    for cell in table:
        grouped[(cell.trace, cell.budget_bytes)][cell.policy] = cell
    return grouped


@pytest.mark.parametrize("name", pool_policies.TRACES)
def test_budgets_run_from_the_largest_model_to_the_whole_working_set(name: str) -> None:
    models, trace = load(name)
    sizes = [size for _, size in budgets(models, trace)]
    assert sizes[0] == max(model.memory_bytes for model in models)
    assert sizes[-1] >= sum(model.memory_bytes for model in models)
    assert len(sizes) >= 5 and sizes == sorted(set(sizes))


def test_prewarming_never_adds_more_than_one_percent_cold_starts_over_lru(
    table: list[Cell],
) -> None:
    worse = [
        f"{trace} at {budget} bytes: {row['predictive'].cold_starts} > {row['lru'].cold_starts}"
        for (trace, budget), row in _by_budget(table).items()
        if row["predictive"].cold_starts > 1.01 * row["lru"].cold_starts
    ]
    assert not worse
    assert {cell.trace for cell in table} == set(pool_policies.TRACES)


def test_with_room_for_every_model_nothing_is_ever_unloaded_so_no_policy_differs(
    table: list[Cell],
) -> None:
    for row in _by_budget(table).values():
        models_fit = row["lru"].budget == "all" or row["lru"].budget.endswith("= all")
        if models_fit:
            assert row["predictive"].cold_starts <= row["lru"].cold_starts
            assert row["gdsf"].cold_starts == row["lru"].cold_starts


@pytest.mark.parametrize("name", PREDICTABLE)
def test_prewarming_halves_cold_starts_where_traffic_is_predictable(
    table: list[Cell], name: str
) -> None:
    (row,) = [
        row
        for (trace, _), row in _by_budget(table).items()
        if trace == name and "hot set" in row["lru"].budget
    ]
    assert row["predictive"].cold_starts <= 0.5 * row["lru"].cold_starts
    assert row["predictive"].accuracy is not None and row["predictive"].accuracy >= 0.7


def test_the_docs_table_is_what_the_bench_prints(table: list[Cell]) -> None:
    assert docs_table(pool_policies.DOCS.read_text()) == generated(table), (
        "docs/pool.md is stale: run `python -m bench.pool_policies --write`"
    )
