"""The `pit` command line: each module registers its commands on `cli`, and is imported only
when one of them runs (`pit.cli._app.COMMANDS`)."""

from pit.cli._app import cli, main, run

__all__ = ["cli", "main", "run"]
