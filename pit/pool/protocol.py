"""The messages of the pool's workflows (`pit.pool.registry`, `pit.pool.command`) and its
activities: shared by the workflows, the activities, the pool hosts and clients, which never
import each other for them."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict

from pit.pool.placement import Assignment, HostSnapshot

REGISTRY_WORKFLOW = "pit.pool.registry"
COMMAND_WORKFLOW = "pit.pool.command"


def registry_id(task_queue: str) -> str:
    """One registry per Pit deployment, named after the task queue its workflows run on."""
    return f"pit-pool-registry-{task_queue}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RegistryState(_Model):
    hosts: tuple[HostSnapshot, ...] = ()
    assigned: dict[str, Assignment] = {}


class PlaceRequest(_Model):
    model: str
    exclude: tuple[str, ...] = ()
    """Hosts not to choose (for example one that did not pick up the work)."""


class LeaveRequest(_Model):
    host: str


class PoolCommand(_Model):
    action: Literal["warm", "cool", "status"]
    queue: str
    model: str | None = None
    wait: timedelta = timedelta(seconds=30)
    """How long the host may take to pick the command up before it counts as gone."""
    timeout: timedelta = timedelta(minutes=30)
    """How long the command may run (a warm loads the model)."""


class WarmRequest(_Model):
    """Make `model` hot on the host. With a `session` (a DAG run) it counts as a use: the
    predictor learns from it; without one it is an operator's warm."""

    model: str
    session: str | None = None


class ModelRef(_Model):
    model: str
