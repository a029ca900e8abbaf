"""The model pool: lifecycle states, leases under a memory budget, prewarming and health."""

from pit.pool.eviction import GDSF, LRU, EvictionPolicy, PredictiveGDSF
from pit.pool.health import HealthMonitor, KOfNDetector
from pit.pool.lease import Lease
from pit.pool.loader import (
    ModelLoader,
    PythonLoader,
    SimulatedLoader,
    SleepingLoader,
    default_loaders,
)
from pit.pool.pool import ModelPool
from pit.pool.predictor import UsagePredictor
from pit.pool.prewarm import PrewarmEngine
from pit.pool.runtime_specs import LlamaCppLoaderSpec, OllamaLoaderSpec, VllmLoaderSpec
from pit.pool.simulate import POLICIES, REPORT_KEYS, simulate
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
    "GDSF",
    "LRU",
    "POLICIES",
    "REPORT_KEYS",
    "TRANSITIONS",
    "EvictionPolicy",
    "HealthMonitor",
    "HealthOptions",
    "HttpLoaderSpec",
    "KOfNDetector",
    "Lease",
    "LlamaCppLoaderSpec",
    "ModelLoader",
    "ModelPool",
    "ModelSpec",
    "ModelState",
    "ModelStatus",
    "OllamaLoaderSpec",
    "PoolConfig",
    "PoolStats",
    "PredictiveGDSF",
    "PrewarmEngine",
    "PrewarmOptions",
    "PythonLoader",
    "PythonLoaderSpec",
    "SimulatedLoader",
    "SimulatedLoaderSpec",
    "SleepingLoader",
    "StateRecord",
    "UsagePredictor",
    "VllmLoaderSpec",
    "default_loaders",
    "simulate",
]
