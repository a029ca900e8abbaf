"""Arbitration: who gets scarce resources, decided deterministically, explained, kept fair.

Pure and deterministic (no I/O, no clock, no randomness): safe inside Temporal workflow code.

    config = ArbiterConfig(strategy="weighted_fair", resources={"gpu0.mem": ResourceSpec(...)})
    arbiter = Arbiter(config)
    result = arbiter.apply(Submit(t=0, request=Request(id="r1", tenant="a", demands={...})))
"""

from pit.arbitration.conflicts import ConflictDetector, ConflictKey
from pit.arbitration.engine import Arbiter, step
from pit.arbitration.fairness import FairnessMonitor, FairnessReport, TenantFairness, gini
from pit.arbitration.model import (
    STRATEGIES,
    ArbiterConfig,
    Conflict,
    Decision,
    Event,
    FairnessConfig,
    Rationale,
    Release,
    Request,
    ResourceSpec,
    StepResult,
    Strategy,
    Submit,
    TenantSpec,
    Tick,
)
from pit.arbitration.snapshot import ArbiterSnapshot

__all__ = [
    "STRATEGIES",
    "Arbiter",
    "ArbiterConfig",
    "ArbiterSnapshot",
    "Conflict",
    "ConflictDetector",
    "ConflictKey",
    "Decision",
    "Event",
    "FairnessConfig",
    "FairnessMonitor",
    "FairnessReport",
    "Rationale",
    "Release",
    "Request",
    "ResourceSpec",
    "StepResult",
    "Strategy",
    "Submit",
    "TenantFairness",
    "TenantSpec",
    "Tick",
    "gini",
    "step",
]
