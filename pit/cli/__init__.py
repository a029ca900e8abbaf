"""The `pit` command line."""

from pit.cli import config_cmd, dag, dev  # noqa: F401  (commands register themselves on `cli`)
from pit.cli._app import cli, main, run

__all__ = ["cli", "main", "run"]
