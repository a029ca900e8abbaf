"""Cache keys: stable across dict order and machines, sensitive to exactly the inputs that
count; artifact names always valid and never shared by different DAGs or nodes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from pit.artifacts.names import check_artifact_name
from pit.dag.cache_key import (
    CacheKeyError,
    cache_artifact_name,
    cache_key,
    cache_metadata,
    cache_prefix,
    canonical_json,
    is_fresh,
)
from pit.dag.limits import NAME
from pit.dag.spec import NODE_ID

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=20,
)
inputs = st.dictionaries(st.text(min_size=1, max_size=6), json_values, min_size=1, max_size=6)


def _shuffled(value: Any, rng: random.Random) -> Any:
    """The same value with every mapping's keys in another insertion order."""
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return {k: _shuffled(value[k], rng) for k in keys}
    if isinstance(value, list):
        return [_shuffled(v, rng) for v in value]
    return value


@given(inputs, st.randoms(use_true_random=False))
def test_the_key_does_not_depend_on_mapping_order(values: dict, rng: random.Random) -> None:
    assert cache_key("pit.echo", "", values) == cache_key("pit.echo", "", _shuffled(values, rng))


@given(inputs, st.data())
def test_the_key_changes_with_a_counted_input_and_not_with_an_uncounted_one(
    values: dict, data: st.DataObject
) -> None:
    names = sorted(values)
    counted = tuple(data.draw(st.lists(st.sampled_from(names), min_size=1, unique=True)))
    target = data.draw(st.sampled_from(names))
    new_value = data.draw(json_values)
    assume(canonical_json(new_value) != canonical_json(values[target]))
    changed = {**values, target: new_value}
    before = cache_key("pit.echo", "v1", values, counted)
    after = cache_key("pit.echo", "v1", changed, counted)
    assert (before != after) == (target in counted)


@given(inputs)
def test_the_step_and_the_version_are_part_of_the_key(values: dict) -> None:
    key = cache_key("pit.echo", "", values)
    assert key != cache_key("pit.shell", "", values)
    assert key != cache_key("pit.echo", "2", values)
    assert key != cache_key("pit.echo@chat", "", values)


def test_canonical_json_is_compact_sorted_and_writes_integral_floats_as_integers() -> None:
    assert canonical_json({"b": 1.0, "a": [True, None, 0.5, "é"]}) == (
        '{"a":[true,null,0.5,"é"],"b":1}'.encode()
    )
    assert cache_key("s", "", {"n": 1}) == cache_key("s", "", {"n": 1.0})
    assert cache_key("s", "", {"n": 1}) != cache_key("s", "", {"n": True})
    assert cache_key("s", "", {"n": 1}) != cache_key("s", "", {"n": "1"})


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), {1: "x"}, object()])
def test_values_without_a_canonical_form_are_refused(bad: Any) -> None:
    with pytest.raises(CacheKeyError, match="no canonical JSON form"):
        cache_key("s", "", {"x": bad})


@given(st.from_regex(NAME, fullmatch=True), st.from_regex(NODE_ID, fullmatch=True))
def test_every_dag_and_node_name_gives_a_valid_artifact_name(dag: str, node: str) -> None:
    name = cache_artifact_name(dag, node, "a" * 64)
    assert check_artifact_name(name) == name
    assert name.startswith(cache_prefix(dag, node)) and name.startswith(cache_prefix(dag))


def test_names_differing_only_in_case_or_symbols_get_their_own_entries() -> None:
    key = "0" * 64
    names = {
        cache_artifact_name(dag, node, key)
        for dag, node in [
            ("review", "files"),
            ("Review", "files"),
            ("review", "Files"),
            ("re:view", "files"),
            ("re@view", "files"),
            ("..", "files"),
        ]
    }
    assert len(names) == 6
    assert cache_artifact_name("review", "files", key) == f"pit/cache/review/files/{key}"


def test_an_entry_is_fresh_while_younger_than_the_ttl() -> None:
    stored = datetime(2026, 1, 1, tzinfo=UTC)
    ttl = timedelta(days=7)
    assert is_fresh(stored, ttl, stored + timedelta(days=7) - timedelta(milliseconds=1))
    assert not is_fresh(stored, ttl, stored + timedelta(days=7))
    assert is_fresh(stored, ttl, stored - timedelta(hours=1))  # clocks apart


def test_the_metadata_names_the_producing_run_with_valid_keys() -> None:
    from pit.artifacts.names import check_meta_key

    metadata = cache_metadata("review-1a2b", "files", "f" * 64, 3)
    assert metadata == {
        "pit.cache.run": "review-1a2b",
        "pit.cache.node": "files",
        "pit.cache.key": "f" * 64,
        "pit.cache.item": "3",
    }
    assert all(check_meta_key(key) == key for key in metadata)
    assert "pit.cache.item" not in cache_metadata("r", "n", "0" * 64, None)
