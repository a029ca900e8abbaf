"""The one reader of user files: every limit refused with one line, everything within them read
exactly as PyYAML / json would read it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pit.common import files
from pit.common.errors import InvalidInputError
from pit.common.files import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    MAX_INT_DIGITS,
    MAX_YAML_BYTES,
    parse_json,
    parse_yaml,
    read_structured,
    read_text,
)

_FAST = settings(max_examples=40, deadline=None)

_LOADERS = [files._PythonLoader] + (
    [files._Loader] if files._Loader is not files._PythonLoader else []
)


@pytest.fixture(scope="module", autouse=True, params=_LOADERS, ids=lambda c: c.__name__)
def yaml_loader(request: pytest.FixtureRequest) -> Iterator[type]:
    """Every test runs with PyYAML's pure-Python parser and with libyaml's (when built)."""
    saved = files._Loader
    files._Loader = request.param
    yield request.param
    files._Loader = saved


def _laughs(fanout: int, levels: int) -> str:
    """A "billion laughs" document: each level a list of `fanout` aliases of the one below;
    it expands to about fanout**levels values."""
    lines = [f"l0: &l0 [{', '.join(['lol'] * fanout)}]"]
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * fanout)}]")
    return "\n".join(lines) + "\n"


def _expanded_values(fanout: int, levels: int) -> int:
    # values once every alias is expanded, minus the values the file spells out itself
    total = 1  # the root mapping
    below = 1 + fanout  # l0: the list and its scalars
    total += 1 + below  # key + value
    for _ in range(levels):
        below = 1 + fanout * below
        total += 1 + below
    spelled = 1 + (1 + 1 + fanout) + levels * 2
    return total - spelled


@_FAST
@given(st.integers(2, 12), st.integers(1, 8))
def test_aliases_are_refused_exactly_when_they_expand_beyond_the_limit(
    fanout: int, levels: int
) -> None:
    text = _laughs(fanout, levels)
    extra = _expanded_values(fanout, levels)
    if extra > MAX_ALIAS_VALUES:
        with pytest.raises(InvalidInputError, match="aliases expand to"):
            parse_yaml(text, "laughs.yaml")
    else:
        assert parse_yaml(text, "laughs.yaml") == yaml.safe_load(text)


def test_a_billion_laughs_is_refused_before_anything_is_built() -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse_yaml(_laughs(10, 9), "laughs.yaml")
    assert caught.value.message.startswith("laughs.yaml:1: not valid YAML: aliases expand to")


def test_an_alias_to_itself_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="alias refers to itself"):
        parse_yaml("a: &a [1, *a]\n", "loop.yaml")


def test_merge_keys_within_the_limit_still_work() -> None:
    text = "base: &base {timeout: 5m, retry: 3}\nnodes:\n" + "".join(
        f"  - {{<<: *base, id: n{i}}}\n" for i in range(200)
    )
    assert parse_yaml(text, "dag.yaml") == yaml.safe_load(text)


@_FAST
@given(st.integers(MAX_DEPTH + 1, 3000), st.sampled_from(["list", "map"]))
def test_deep_yaml_is_refused_with_its_line(depth: int, shape: str) -> None:
    text = "[" * depth + "]" * depth if shape == "list" else "{a: " * depth + "1" + "}" * depth
    with pytest.raises(InvalidInputError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_yaml("x: " + text + "\n", "deep.yaml")


@_FAST
@given(st.integers(MAX_DEPTH + 1, 5000))
def test_deep_json_is_refused(depth: int) -> None:
    with pytest.raises(InvalidInputError, match=f"nested deeper than {MAX_DEPTH} levels"):
        parse_json("[" * depth + "]" * depth, "deep.json")


@_FAST
@given(st.integers(1, MAX_DEPTH - 1))
def test_nesting_within_the_limit_is_read(depth: int) -> None:
    text = "[" * depth + "]" * depth
    assert parse_json(text, "ok.json") == json.loads(text)
    assert parse_yaml(text, "ok.yaml") == yaml.safe_load(text)


def test_aliases_that_nest_too_deep_once_expanded_are_refused() -> None:
    inner = "[" * 60 + "x" + "]" * 60
    text = f"a: &a {inner}\nb: &b [{'[' * 50}*a{']' * 50}]\n"
    with pytest.raises(InvalidInputError, match="aliases nest"):
        parse_yaml(text, "deep.yaml")


@_FAST
@given(st.integers(MAX_INT_DIGITS + 1, 9000), st.booleans())
def test_integers_over_the_digit_limit_are_refused(digits: int, negative: bool) -> None:
    number = ("-" if negative else "") + "9" * digits
    with pytest.raises(InvalidInputError, match=f"more than {MAX_INT_DIGITS} digits"):
        parse_yaml(f"a: 1\nb: {number}\n", "big.yaml")
    with pytest.raises(InvalidInputError, match=f"more than {MAX_INT_DIGITS} digits"):
        parse_json(f'{{"a": {number}}}', "big.json")


def test_an_integer_at_the_limit_is_read() -> None:
    number = int("9" * MAX_INT_DIGITS)
    assert parse_json(str(number), "ok.json") == number
    assert parse_yaml(f"n: {number}", "ok.yaml") == {"n": number}


def test_an_impossible_date_is_one_line_with_its_line_number() -> None:
    with pytest.raises(InvalidInputError, match=r"when.yaml:2: not valid YAML: .*year 0"):
        parse_yaml("a: 1\nat: 0000-01-01\n", "when.yaml")


_BAD_BYTES = st.sampled_from([b"\x80", b"\xbf", b"\xc0", b"\xc1", b"\xf5", b"\xfe", b"\xff"])


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.data(), _BAD_BYTES)
def test_a_bad_byte_is_named_with_its_offset_and_line(
    tmp_path: Path, data: st.DataObject, bad: bytes
) -> None:
    good = b"name: demo\nnodes:\n  - id: a\n    activity: pit.echo\n"
    offset = data.draw(st.integers(0, len(good)))
    path = tmp_path / "dag.yaml"
    path.write_bytes(good[:offset] + bad + good[offset:])
    with pytest.raises(InvalidInputError) as caught:
        read_structured(path)
    line = good[:offset].count(b"\n") + 1
    assert f"byte 0x{bad[0]:02x} at offset {offset} (line {line})" in caught.value.message
    assert str(path) in caught.value.message


def test_a_file_over_the_size_limit_is_refused_without_reading_it_all(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:
        handle.truncate(MAX_YAML_BYTES * 4)  # sparse: no disk used
    with pytest.raises(InvalidInputError, match="larger than 1 MiB"):
        read_text(path, "FILE")


def test_a_file_at_the_size_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"#" * (MAX_YAML_BYTES - 1) + b"\n")
    assert read_structured(path) is None


def test_an_endless_device_is_refused_at_the_limit() -> None:
    with pytest.raises(InvalidInputError, match="larger than"):
        read_text(Path("/dev/zero"), "FILE")


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: None, "No such file or directory"),
        (lambda p: p.mkdir(), "Is a directory"),
    ],
)
def test_a_file_that_cannot_be_read_says_why(tmp_path: Path, make, reason: str) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "x.yaml"
    make(path)
    with pytest.raises(InvalidInputError, match=reason):
        read_structured(path, "--policy")


# printable text: YAML folds line breaks (NEL, U+2028) inside quoted scalars, and libyaml
# (rightly) refuses JSON's surrogate-pair escapes, so the text is written as characters
_text = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), max_size=20)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner),
    max_leaves=30,
)


@_FAST
@given(_json_values)
def test_ordinary_documents_read_as_json_and_yaml_would(value: object) -> None:
    text = json.dumps(value, ensure_ascii=False)
    assert parse_json(text, "doc.json") == json.loads(text)
    assert parse_yaml(text, "doc.yaml") == yaml.safe_load(text)
