"""DAG Tracker domain: the DAG file, graph checks, references, scheduling (pure)."""

from pit.dag.graph import DagInvalidError, Graph, check_graph, parse_dag
from pit.dag.loader import load_dag
from pit.dag.spec import DagSpec, NodeSpec
from pit.dag.status import DagStatus, NodeState, NodeStatus, RunState

__all__ = [
    "DagInvalidError",
    "DagSpec",
    "DagStatus",
    "Graph",
    "NodeSpec",
    "NodeState",
    "NodeStatus",
    "RunState",
    "check_graph",
    "load_dag",
    "parse_dag",
]
