"""`when:` conditions: CEL with `${...}` references standing for their typed values, refused up
front when costly, deterministic, and usable inside Temporal's workflow sandbox."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from temporalio.client import Client
from temporalio.worker import Worker

from pit.common.errors import InvalidInputError
from pit.dag.expressions import (
    ALLOWED_FUNCTIONS,
    ConditionError,
    check_condition,
    condition_values,
    evaluate,
)
from pit.dag.refs import ItemScope
from tests.dag.when_workflow import WhenWorkflow

KIND_AND_SIZE = "${nodes.check.output.kind} == 'python' && ${nodes.check.output.lines} > 100"


def when(text: str, outputs: dict[str, Any], item: ItemScope | None = None) -> bool:
    condition = check_condition(text, "nodes[1].when")
    values = condition_values(condition, outputs, {"env": "prod"}, "nodes.x.when", item)
    return evaluate(condition, values, "nodes.x.when")


@pytest.mark.parametrize(
    ("kind", "lines", "expected"),
    [("python", 120, True), ("python", 100, False), ("go", 500, False), ("python", 100.5, True)],
)
def test_references_stand_for_their_typed_values(kind: str, lines: Any, expected: bool) -> None:
    outputs = {"check": {"kind": kind, "lines": lines}}
    assert when(KIND_AND_SIZE, outputs) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("size(${nodes.list.output.files}) == 2", True),
        ("'b.py' in ${nodes.list.output.files}", True),
        ("!('c.py' in ${nodes.list.output.files})", True),
        ("${nodes.list.output.files}[1].endsWith('.py') || false", True),
        ("${inputs.env} == 'prod' && ${nodes.list.output.count} >= 2.0", True),
        ("${nodes.list.output.files.0} == 'a.py'", True),
        ("has(${nodes.list.output}.count) && !has(${nodes.list.output}.missing)", True),
        ("${nodes.list.output.flag}", False),
        ("${nodes.list.output.files}[0].matches('^a\\\\.')", True),
    ],
)
def test_comparisons_logic_in_and_size(text: str, expected: bool) -> None:
    outputs = {"list": {"files": ["a.py", "b.py"], "count": 2, "flag": False}}
    assert when(text, outputs) is expected


def test_a_per_item_condition_sees_the_item_and_its_index() -> None:
    text = "${item.path}.endsWith('.py') && ${index} < 3"
    assert when(text, {}, ItemScope({"path": "a.py"}, 0))
    assert not when(text, {}, ItemScope({"path": "a.md"}, 0))
    assert not when(text, {}, ItemScope({"path": "a.py"}, 3))


@pytest.mark.parametrize(
    ("text", "outputs", "rule"),
    [
        (KIND_AND_SIZE, {"check": {"kind": "python", "lines": None}}, "no matching overloads"),
        ("${nodes.check.output}", {"check": "yes"}, "gave string 'yes', not true or false"),
        ("${nodes.check.output} > 1", {"check": 2**70}, "out of range"),
        ("${nodes.check.output}.kind == 1", {"check": {}}, "key not found in map"),
    ],
)
def test_a_value_that_cannot_decide_raises_a_condition_error(
    text: str, outputs: dict[str, Any], rule: str
) -> None:
    with pytest.raises(ConditionError) as caught:
        when(text, outputs)
    assert caught.value.message.startswith("nodes.x.when: ") and rule in caught.value.message


def test_a_missing_key_in_a_reference_fails_as_it_does_in_inputs() -> None:
    with pytest.raises(InvalidInputError, match=r"nodes\.check\.output has no 'lines'"):
        when(KIND_AND_SIZE, {"check": {"kind": "python"}})


@pytest.mark.parametrize(
    "name", ["all", "exists", "exists_one", "map", "filter", "timestamp", "duration", "dyn"]
)
def test_functions_outside_the_allowed_list_are_refused_up_front(name: str) -> None:
    assert name not in ALLOWED_FUNCTIONS
    with pytest.raises(InvalidInputError, match=f"no function '{name}' here"):
        check_condition(f"${{nodes.a.output}}.{name}(x, true)", "when")


def test_only_the_references_limit_is_enforced_before_cel() -> None:
    many = " && ".join(f"${{nodes.n{i}.output}}" for i in range(33))
    with pytest.raises(InvalidInputError, match="over 32 references"):
        check_condition(many, "when")


@given(st.lists(st.integers(-(2**40), 2**40), min_size=2, max_size=2))
def test_evaluation_agrees_with_python_comparisons(pair: list[int]) -> None:
    condition = check_condition("${inputs.a} < ${inputs.b} || ${inputs.a} == ${inputs.b}", "w")
    assert evaluate(condition, pair, "w") is (pair[0] <= pair[1])


@pytest.mark.integration
async def test_conditions_evaluate_inside_the_workflow_sandbox(temporal_client: Client) -> None:
    """The DAG workflow imports this module passed through; the sandbox must accept it, and
    the answers must be the ones outside."""
    queue = f"when-{uuid.uuid4()}"
    kind = check_condition(KIND_AND_SIZE, "w").model_dump()
    flag = check_condition("${nodes.a.output}", "w").model_dump()
    cases = [
        {"condition": kind, "values": ["python", 120]},
        {"condition": kind, "values": ["python", 99]},
        {"condition": flag, "values": ["yes"]},
    ]
    async with Worker(temporal_client, task_queue=queue, workflows=[WhenWorkflow]):
        answers = await temporal_client.execute_workflow(
            WhenWorkflow.run, cases, id=f"when-{uuid.uuid4()}", task_queue=queue
        )
    assert answers == [
        True,
        False,
        "when: '${nodes.a.output}': gave string 'yes', not true or false",
    ]
