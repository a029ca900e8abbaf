"""Time-to-completion along the critical path, and node fingerprints for `resume`."""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pit.dag.graph import Topology
from pit.dag.status import NodeState, NodeStatus


def fingerprint(activity: str, resolved_inputs: Any, parent_prints: list[str | None]) -> str:
    """Same activity, same resolved inputs, same upstream: same fingerprint."""
    text = json.dumps(
        {"activity": activity, "inputs": resolved_inputs, "upstream": parent_prints},
        sort_keys=True,
        default=str,
    )
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def remaining_seconds(
    graph: Topology, step_of: Mapping[str, str], nodes: dict[str, NodeStatus], now: datetime
) -> float | None:
    """Longest chain of unfinished work, each node costed by the mean duration seen for its
    step (`step_of`: what each node runs), or of all nodes; None until some node finished."""
    seen: dict[str, list[float]] = defaultdict(list)
    for node_id, status in nodes.items():
        if status.started_at and status.finished_at and status.state is NodeState.SUCCEEDED:
            seen[step_of[node_id]].append((status.finished_at - status.started_at).total_seconds())
    if not seen:
        return None
    everything = [d for durations in seen.values() for d in durations]
    overall = sum(everything) / len(everything)
    mean = {activity: sum(d) / len(d) for activity, d in seen.items()}
    finish: dict[str, float] = {}
    for node_id in graph.order:
        status = nodes[node_id]
        if status.state.finished:
            finish[node_id] = 0.0
            continue
        cost = mean.get(step_of[node_id], overall)
        if status.state is NodeState.RUNNING and status.started_at is not None:
            cost = max(0.0, cost - (now - status.started_at).total_seconds())
        finish[node_id] = cost + max((finish[p] for p in graph.parents[node_id]), default=0.0)
    return round(max(finish.values(), default=0.0), 3)
