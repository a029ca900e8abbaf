"""DAG Tracker domain: the DAG file, graph checks, references, conditions, scheduling, maps,
cache keys and graph rendering (pure)."""

from pit.dag.compiled import CompiledDag, NodeKind, compile_graph
from pit.dag.dispatch import Dispatcher, Work
from pit.dag.expressions import Condition, ConditionError, check_condition, evaluate
from pit.dag.graph import DagInvalidError, Graph, Topology, check_graph, parse_dag
from pit.dag.mapping import MapItems
from pit.dag.options import ApprovalSpec, CacheSpec, Trigger
from pit.dag.render import render
from pit.dag.spec import DagSpec, NodeSpec
from pit.dag.status import DagStatus, ItemCounts, NodeState, NodeStatus, RunState, SkipCause

__all__ = [
    "ApprovalSpec",
    "CacheSpec",
    "CompiledDag",
    "Condition",
    "ConditionError",
    "DagInvalidError",
    "DagSpec",
    "DagStatus",
    "Dispatcher",
    "Graph",
    "ItemCounts",
    "MapItems",
    "NodeKind",
    "NodeSpec",
    "NodeState",
    "NodeStatus",
    "RunState",
    "SkipCause",
    "Topology",
    "Trigger",
    "Work",
    "check_condition",
    "check_graph",
    "compile_graph",
    "evaluate",
    "parse_dag",
    "render",
]
