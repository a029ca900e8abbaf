"""A workflow that only evaluates `when:` conditions: proof that CEL runs inside Temporal's
workflow sandbox the way the DAG workflow will import it (passed through), and replays."""

from __future__ import annotations

from typing import Any

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pit.dag.expressions import Condition, ConditionError, evaluate


@workflow.defn(name="test.when")
class WhenWorkflow:
    @workflow.run
    async def run(self, cases: list[dict[str, Any]]) -> list[Any]:
        """Each case: a checked condition and the values of its references; the answer, or
        the error's message."""
        answers: list[Any] = []
        for case in cases:
            condition = Condition.model_validate(case["condition"])
            try:
                answers.append(evaluate(condition, case["values"], "when"))
            except ConditionError as error:
                answers.append(error.message)
        return answers
