"""The Pit's own metrics, as a port: every metric named once here with its kind, labels and
meaning, and instruments the domain counts through without knowing who exports them.

An instrument records nothing until a worker binds it (`pit.infra.telemetry` binds them to
the Temporal SDK runtime's Prometheus endpoint); unbound, a call costs one attribute read.
Labels are a fixed, small set per metric (model ids, activity types, arbiter domains: never
run ids or artifact names), so a metric's series stay bounded however much work flows
through. docs/production.md lists the same table; a test keeps the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum

Recorder = Callable[[float, Mapping[str, str]], None]
"""What a bound instrument hands each value to, with its labels."""

NO_LABELS: Mapping[str, str] = {}


class MetricKind(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    """As Prometheus shows it: counters end in `_total`, durations in `_seconds`."""
    kind: MetricKind
    labels: tuple[str, ...]
    help: str
    buckets: tuple[float, ...] = ()
    """Histogram bucket bounds (upper, inclusive)."""
    recorded_in_workflows: bool = False
    """Recorded by workflow code through `workflow.metric_meter()` (replay-safe), which adds
    the SDK's namespace, task_queue and workflow_type labels."""

    @property
    def instrument_name(self) -> str:
        """The name to create the instrument under: the SDK's Prometheus exporter appends
        `_total` to counters itself."""
        return self.name.removesuffix("_total") if self.kind is MetricKind.COUNTER else self.name


class _Instrument:
    __slots__ = ("_recorder", "spec")

    def __init__(self, spec: MetricSpec) -> None:
        self.spec = spec
        self._recorder: Recorder | None = None

    def bind(self, recorder: Recorder | None) -> None:
        """Send values to `recorder` from now on (None: drop them again)."""
        self._recorder = recorder

    @property
    def bound(self) -> bool:
        return self._recorder is not None


class Counter(_Instrument):
    __slots__ = ()

    def add(self, value: int = 1, labels: Mapping[str, str] = NO_LABELS) -> None:
        record = self._recorder
        if record is not None and value > 0:
            record(value, labels)


class Gauge(_Instrument):
    __slots__ = ()

    def set(self, value: float, labels: Mapping[str, str] = NO_LABELS) -> None:
        record = self._recorder
        if record is not None:
            record(value, labels)


class Histogram(_Instrument):
    __slots__ = ()

    def record(self, value: float, labels: Mapping[str, str] = NO_LABELS) -> None:
        record = self._recorder
        if record is not None:
            record(value, labels)


SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
"""From a few milliseconds (an echo) to an hour (a long model call or a long wait)."""

DAG_NODE_DURATION = Histogram(
    MetricSpec(
        "pit_dag_node_duration_seconds",
        MetricKind.HISTOGRAM,
        ("activity", "outcome"),
        "Run time of one attempt of a DAG node's activity on this worker; outcome is "
        "succeeded, failed or cancelled.",
        SECONDS_BUCKETS,
    )
)
POOL_HITS = Counter(
    MetricSpec(
        "pit_pool_hits_total",
        MetricKind.COUNTER,
        ("model",),
        "Model acquisitions served by a model that was already loaded.",
    )
)
POOL_COLD_STARTS = Counter(
    MetricSpec(
        "pit_pool_cold_starts_total",
        MetricKind.COUNTER,
        ("model",),
        "Model acquisitions that had to wait for the model to load (or wake).",
    )
)
POOL_MEMORY = Gauge(
    MetricSpec(
        "pit_pool_memory_bytes",
        MetricKind.GAUGE,
        ("tier",),
        "Memory the pool's models hold now: tier accelerator (loaded models) or host "
        "(models put to sleep).",
    )
)
POOL_BUDGET = Gauge(
    MetricSpec(
        "pit_pool_budget_bytes",
        MetricKind.GAUGE,
        ("tier",),
        "The pool's memory budget per tier ([pool] memory_budget, host_memory_budget).",
    )
)
POOL_MODELS = Gauge(
    MetricSpec(
        "pit_pool_models",
        MetricKind.GAUGE,
        ("state",),
        "The pool's models in each state (cold, warming, hot, cooling, failed).",
    )
)
ARTIFACT_BYTES = Counter(
    MetricSpec(
        "pit_artifact_bytes_total",
        MetricKind.COUNTER,
        ("operation",),
        "Bytes of artifact versions written (operation put) and opened for reading "
        "(operation get), as the versions' sizes.",
    )
)
ARTIFACT_OPERATIONS = Counter(
    MetricSpec(
        "pit_artifact_operations_total",
        MetricKind.COUNTER,
        ("operation", "outcome"),
        "Artifact puts and gets, by outcome ok or error.",
    )
)
ARBITER_WAITING = MetricSpec(
    "pit_arbiter_waiting",
    MetricKind.GAUGE,
    ("domain",),
    "Requests waiting for a grant at the domain's arbiter, as of its last workflow task on "
    "this worker.",
    recorded_in_workflows=True,
)
ARBITER_HELD = MetricSpec(
    "pit_arbiter_held",
    MetricKind.GAUGE,
    ("domain",),
    "Grants the domain's arbiter holds out, as of its last workflow task on this worker.",
    recorded_in_workflows=True,
)
ARBITER_WAIT = MetricSpec(
    "pit_arbiter_wait_seconds",
    MetricKind.HISTOGRAM,
    ("domain",),
    "Time from a request's arrival at the arbiter to its grant (0 when granted at once).",
    SECONDS_BUCKETS,
    recorded_in_workflows=True,
)

INSTRUMENTS: tuple[Counter | Gauge | Histogram, ...] = (
    DAG_NODE_DURATION,
    POOL_HITS,
    POOL_COLD_STARTS,
    POOL_MEMORY,
    POOL_BUDGET,
    POOL_MODELS,
    ARTIFACT_BYTES,
    ARTIFACT_OPERATIONS,
)
"""The metrics recorded outside workflow code, which a worker binds."""

PIT_METRICS: tuple[MetricSpec, ...] = (
    *(instrument.spec for instrument in INSTRUMENTS),
    ARBITER_WAITING,
    ARBITER_HELD,
    ARBITER_WAIT,
)
"""Every metric the Pit exports, beside the Temporal SDK's own `temporal_*`."""
