"""The `pit` command line: each module registers its commands on `cli`."""

from pit.cli import (  # noqa: F401
    arbitrate,
    artifact,
    config_cmd,
    dag,
    dev,
    pool,
    pool_hosts,
    stale,
    stale_schedule,
)
from pit.cli._app import cli, main, run

__all__ = ["cli", "main", "run"]
