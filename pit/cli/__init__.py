"""The `pit` command line: each module registers its commands on `cli`."""

from pit.cli import arbitrate, artifact, config_cmd, dag, dev, pool, stale  # noqa: F401
from pit.cli._app import cli, main, run

__all__ = ["cli", "main", "run"]
