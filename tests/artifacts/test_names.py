"""Name, digest, tag and metadata rules: each refusal names the field, the value and the rule."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pit.artifacts.names import check_artifact_name, check_digest
from pit.artifacts.query import parse_filter, parse_meta
from pit.common.errors import InvalidInputError


@pytest.mark.parametrize("name", ["a", "reports/2026/q1.md", "x-y_z.v2", "0" * 255])
def test_valid_names_are_accepted(name: str) -> None:
    assert check_artifact_name(name) == name


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("../etc/passwd", "'..' segment"),
        ("a/../../b", "'..' segment"),
        ("/abs", "must not start with '/'"),
        ("bad\nname", "control characters"),
        ("tab\there", "control characters"),
        ("nul\x00", "control characters"),
        ("a//b", "empty or '.' segments"),
        ("a/./b", "empty or '.' segments"),
        ("trailing/", "empty or '.' segments"),
        ("Upper", "artifact name is"),
        ("-lead", "artifact name is"),
        ("a" * 256, "artifact name is"),
        ("", "artifact name is"),
    ],
)
def test_bad_names_are_refused_with_their_rule(name: str, rule: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        check_artifact_name(name)
    assert rule in caught.value.message
    assert caught.value.details["field"] == "name"
    assert caught.value.details["value"] == name


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40))
def test_an_accepted_name_never_escapes_its_directory(name: str) -> None:
    try:
        check_artifact_name(name)
    except InvalidInputError:
        return
    assert not name.startswith("/")
    assert ".." not in name.split("/")
    assert all(ch.isprintable() for ch in name)


def test_digests_must_be_sha256_hex() -> None:
    assert check_digest("sha256:" + "a" * 64)
    for bad in ("sha256:" + "A" * 64, "md5:" + "a" * 32, "sha256:abc"):
        with pytest.raises(InvalidInputError, match="sha256:"):
            check_digest(bad)


@pytest.mark.parametrize(
    ("text", "field", "op", "value"),
    [
        ("tag=nightly", "tag", "eq", "nightly"),
        ("size>=1000", "size", "gte", 1000),
        ("version<3", "version", "lt", 3),
        ("name^=reports/", "name", "prefix", "reports/"),
        ("score<0.5", "meta.score", "lt", 0.5),
        ("meta.owner!=ana", "meta.owner", "ne", "ana"),
        ('code="42"', "meta.code", "eq", "42"),
        ("done=true", "meta.done", "eq", True),
    ],
)
def test_filters_parse_into_index_conditions(text: str, field: str, op: str, value: object) -> None:
    parsed = parse_filter(text)
    assert (parsed.field, parsed.op, parsed.value) == (field, op, value)


@pytest.mark.parametrize("text", ["no-operator", "size>=big", "created_at>yesterday", "=v"])
def test_malformed_filters_are_refused(text: str) -> None:
    with pytest.raises(InvalidInputError, match="--filter"):
        parse_filter(text)


def test_meta_values_are_typed_and_keys_checked() -> None:
    assert parse_meta("epochs=3") == ("epochs", 3)
    assert parse_meta("lr=0.01") == ("lr", 0.01)
    assert parse_meta("owner=ana") == ("owner", "ana")
    with pytest.raises(InvalidInputError, match="KEY=VALUE"):
        parse_meta("novalue")
    with pytest.raises(InvalidInputError, match="metadata key"):
        parse_meta("bad key=1")
