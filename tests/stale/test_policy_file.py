"""Policy files: what is accepted, and bad files refused with one line per problem."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings

from pit.client._files import read_policy_file
from pit.common.errors import InvalidInputError
from pit.stale import (
    DEFAULT_POLICY_YAML,
    Policy,
    PolicyInvalidError,
    parse_policy,
    required_windows,
)
from pit.stale.rules import AllOf, AnyOf, IdleFor
from tests.stale.strategies import policies

ISSUE_EXAMPLE = """\
keep:   {any: [{keep_tagged: [release, pinned]}, {keep_last: 1}]}
delete: {all: [{max_age: 30d}, {not: {min_access_count: {count: 3, window: 30d}}}]}
demote: {warm: {idle_for: 7d}, cold: {idle_for: 30d}}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PolicyInvalidError) as caught:
        parse_policy(yaml.safe_load(text))
    return caught.value.problems


def test_the_issue_example_is_accepted() -> None:
    policy = parse_policy(yaml.safe_load(ISSUE_EXAMPLE))
    assert isinstance(policy.keep, AnyOf)
    assert isinstance(policy.delete, AllOf)
    assert policy.demote is not None
    assert policy.demote.cold == IdleFor(idle_for=timedelta(days=30))
    assert required_windows(policy) == {timedelta(days=30)}


def test_the_default_policy_parses() -> None:
    assert parse_policy(yaml.safe_load(DEFAULT_POLICY_YAML)).keep is not None


def test_every_example_file_parses() -> None:
    examples = sorted((Path(__file__).parents[2] / "examples" / "stale").glob("*.yaml"))
    assert examples
    for path in examples:
        read_policy_file(path)[0]


def test_a_bad_value_names_the_full_path_to_the_field() -> None:
    lines = problems(
        "delete: {all: [{max_age: 30d}, {not: {min_access_count: {count: 3, window: soon}}}]}"
    )
    assert len(lines) == 1
    assert lines[0].startswith("delete.all[1].not.min_access_count.window: 'soon': a duration")


def test_an_unknown_rule_is_named_with_the_known_ones() -> None:
    [line] = problems("keep: {any: [{keep_taged: [release]}]}")
    assert line.startswith("keep.any[0].keep_taged: [...]: unknown rule (known: max_age,")


def test_two_keys_in_one_rule_are_refused() -> None:
    [line] = problems("delete: {max_age: 30d, idle_for: 7d}")
    assert (
        line
        == "delete: {...}: a rule has exactly one key, got max_age, idle_for; combine with all/any"
    )


def test_every_problem_gets_its_own_line() -> None:
    lines = problems(
        "keep: {keep_last: 0}\n"
        "delete: {all: []}\n"
        "demote: {hot: {idle_for: 1d}}\n"
        "score: {half_life: 0}\n"
        "colour: blue\n"
    )
    assert "keep.keep_last: 0: Input should be greater than or equal to 1" in lines
    assert any(line.startswith("delete.all: [...]:") for line in lines)
    assert "demote.hot: {...}: unknown key" in lines
    assert "score.half_life: 0: must be > 0" in lines
    assert "colour: 'blue': unknown key" in lines
    assert len(lines) == 5


def test_nested_not_keeps_both_steps_in_the_path() -> None:
    [line] = problems("delete: {not: {not: {max_age: never}}}")
    assert line.startswith("delete.not.not.max_age: 'never':")


def test_bad_sizes_selectors_and_tags_are_refused() -> None:
    assert problems("delete: {max_total_size: 10XB}")[0].startswith(
        "delete.max_total_size.size: '10XB': a size such as"
    )
    assert problems("delete: {match: {}}") == [
        "delete.match: {...}: give at least one of name, media_type, metadata"
    ]
    assert problems("keep: {keep_tagged: []}")[0].startswith("keep.keep_tagged: [...]:")
    assert problems("delete: {min_value: .nan}")[0].startswith("delete.min_value: nan:")


def test_a_policy_that_is_not_a_mapping_is_refused() -> None:
    assert problems("- keep_last: 1") == [
        "policy: [...]: a policy is a mapping (keep, delete, demote)"
    ]


def test_a_file_that_is_not_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text("keep: {keep_last: 1}\ndelete: [unclosed\n")
    with pytest.raises(PolicyInvalidError, match=r"policy.yaml:\d+: not valid YAML"):
        read_policy_file(path)[0]


def test_a_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="--policy"):
        read_policy_file(tmp_path / "absent.yaml")[0]


def test_a_json_policy_file_is_read_as_json(tmp_path: Path) -> None:
    path = tmp_path / "policy.json"
    path.write_text('{"delete": {"idle_for": "7d"}}')
    assert read_policy_file(path)[0].delete == IdleFor(idle_for=timedelta(days=7))


@settings(max_examples=60, deadline=None)
@given(policy=policies())
def test_a_policy_survives_a_round_trip_through_its_json_form(policy: Policy) -> None:
    dumped = policy.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    assert parse_policy(dumped) == policy
