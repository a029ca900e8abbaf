"""What a DAG run sends to the arbiter activities: one request to grant, one grant to renew
or give back. Plain models, so workflow code and activities can share them."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict

from pit.arbitration.model import ArbiterConfig, Request


class GrantInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str
    config: ArbiterConfig | None = None
    """Starts the domain's arbiter with this config unless it is already running."""
    request: Request
    lease: timedelta


class GrantRef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    domain: str
    request_id: str
