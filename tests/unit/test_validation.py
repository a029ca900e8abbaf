"""Durations, sizes and names: parse what users write, refuse the rest with the rule."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pit.common.errors import InvalidInputError
from pit.common.validation import check_name, format_duration, parse_duration, parse_size


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30),
        ("5m", 300),
        ("1h30m", 5400),
        ("250ms", 0.25),
        ("7d", 604800),
        ("2.5", 2.5),
        (" 1w ", 604800),
        (0, 0),
        (1.5, 1.5),
    ],
)
def test_durations_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "5", "m5", "5 minutes", "-1s", "1h-30m", "1y", True, None])
def test_bad_durations_name_the_rule(text: object) -> None:
    if text == "5":
        assert parse_duration(text) == timedelta(seconds=5)
        return
    with pytest.raises(InvalidInputError) as caught:
        parse_duration(text, field="timeout")
    assert caught.value.details["field"] == "timeout"


@given(st.integers(min_value=0, max_value=10**10))
def test_format_duration_round_trips_to_the_millisecond(millis: int) -> None:
    value = timedelta(milliseconds=millis)
    assert parse_duration(format_duration(value)) == value


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (512, 512),
        ("64KiB", 65536),
        ("8GiB", 8 * 1024**3),
        ("1.5GB", 1_500_000_000),
        ("10 mb", 10**7),
    ],
)
def test_sizes_parse(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "5 parsecs", "-5", -1, True, 1.5])
def test_bad_sizes_are_refused(text: object) -> None:
    with pytest.raises(InvalidInputError):
        parse_size(text, field="memory_budget")


@pytest.mark.parametrize("name", ["fetch", "node_1", "A-b", "x" * 64])
def test_good_names(name: str) -> None:
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "a b", "x" * 65, "dot.ted", "slash/ed", "ünï"])
def test_bad_names(name: str) -> None:
    with pytest.raises(InvalidInputError, match="1 to 64 characters"):
        check_name(name, field="nodes[0].id")
