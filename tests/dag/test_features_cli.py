"""`pit run` refuses bad maps, conditions and approvals up front: exit 2, one line each
naming the node's position, the field and (for a condition) the column; nothing starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.dag.test_dag_cli import pit

pytestmark = pytest.mark.integration


def test_bad_for_each_when_and_approval_exit_2_naming_node_and_position(tmp_path: Path) -> None:
    dag = tmp_path / "bad.yaml"
    dag.write_text(
        "name: bad\nnodes:\n"
        "  - {id: check, activity: pit.echo}\n"
        "  - {id: review, activity: pit.echo, for_each: files}\n"
        "  - id: deep\n"
        "    activity: pit.echo\n"
        "    when: \"${nodes.check.output.kind} == 'python' &&& true\"\n"
        "  - {id: ship, activity: pit.echo, approval: {prompt: Ship?}}\n"
    )
    result = pit("run", str(dag), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "pit: error: nodes[1].for_each: 'files': for_each is a list, or exactly one ${...} "
        "reference to a list"
    ]
    dag.write_text(dag.read_text().replace("for_each: files", "for_each: [a, b]"))
    result = pit("run", str(dag), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "pit: error: nodes[2].when: \"${nodes.check.output.kind} == 'python' &&& true\": "
        "column 42: syntax error: token recognition error at: '& '",
        "pit: error: nodes[3].activity: 'pit.echo': an approval node runs nothing (a person "
        "answers it: pit dag approve)",
    ]
    assert not (tmp_path / ".pit").exists()
