"""DAG Tracker domain: the DAG file, graph checks, references, scheduling (pure)."""

from pit.dag.compiled import CompiledDag, compile_graph
from pit.dag.graph import DagInvalidError, Graph, Topology, check_graph, parse_dag
from pit.dag.spec import DagSpec, NodeSpec
from pit.dag.status import DagStatus, NodeState, NodeStatus, RunState

__all__ = [
    "CompiledDag",
    "DagInvalidError",
    "DagSpec",
    "DagStatus",
    "Graph",
    "NodeSpec",
    "NodeState",
    "NodeStatus",
    "RunState",
    "Topology",
    "check_graph",
    "compile_graph",
    "parse_dag",
]
