"""References in node inputs resolve to upstream outputs and run inputs."""

from __future__ import annotations

import pytest

from pit.common.errors import InvalidInputError
from pit.dag.refs import resolve

OUTPUTS = {"fetch": {"stdout": "code", "lines": [1, 2, 3], "meta": {"n": 7}}, "skipped": None}


def test_whole_string_reference_keeps_the_value_type() -> None:
    assert resolve("${nodes.fetch.output.lines}", OUTPUTS, {}, "f") == [1, 2, 3]
    assert resolve("${nodes.fetch.output}", OUTPUTS, {}, "f") == OUTPUTS["fetch"]
    assert resolve("${nodes.skipped.output}", OUTPUTS, {}, "f") is None


def test_embedded_references_interpolate_as_text() -> None:
    value = resolve("n=${nodes.fetch.output.meta.n} ${inputs.who}", OUTPUTS, {"who": "x"}, "f")
    assert value == "n=7 x"


def test_nested_structures_and_list_indexes() -> None:
    value = resolve(
        {"a": ["${nodes.fetch.output.lines.1}", {"b": "${inputs.k}"}]}, OUTPUTS, {"k": 5}, "f"
    )
    assert value == {"a": [2, {"b": 5}]}


def test_double_dollar_is_a_literal() -> None:
    assert resolve("cost $${HOME}", OUTPUTS, {}, "f") == "cost ${HOME}"


@pytest.mark.parametrize(
    "text", ["${nodes.fetch.output.nope}", "${nodes.fetch.output.lines.9}", "${inputs.missing}"]
)
def test_missing_keys_name_the_reference(text: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        resolve({"x": text}, OUTPUTS, {}, "nodes.b.inputs")
    assert caught.value.details["field"] == "nodes.b.inputs.x"
