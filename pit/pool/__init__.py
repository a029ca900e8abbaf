"""The model pool: lifecycle states, leases under a memory budget, prewarming and health."""

from pit.pool.health import HealthMonitor, KOfNDetector
from pit.pool.lease import Lease
from pit.pool.loader import ModelLoader, PythonLoader, SimulatedLoader, default_loaders
from pit.pool.pool import ModelPool
from pit.pool.predictor import UsagePredictor
from pit.pool.prewarm import PrewarmEngine
from pit.pool.simulate import REPORT_KEYS, simulate
from pit.pool.spec import (
    HealthOptions,
    HttpLoaderSpec,
    ModelSpec,
    PoolConfig,
    PrewarmOptions,
    PythonLoaderSpec,
    SimulatedLoaderSpec,
)
from pit.pool.states import TRANSITIONS, ModelState, StateRecord
from pit.pool.stats import ModelStatus, PoolStats

__all__ = [
    "REPORT_KEYS",
    "TRANSITIONS",
    "HealthMonitor",
    "HealthOptions",
    "HttpLoaderSpec",
    "KOfNDetector",
    "Lease",
    "ModelLoader",
    "ModelPool",
    "ModelSpec",
    "ModelState",
    "ModelStatus",
    "PoolConfig",
    "PoolStats",
    "PrewarmEngine",
    "PrewarmOptions",
    "PythonLoader",
    "PythonLoaderSpec",
    "SimulatedLoader",
    "SimulatedLoaderSpec",
    "StateRecord",
    "UsagePredictor",
    "default_loaders",
    "simulate",
]
