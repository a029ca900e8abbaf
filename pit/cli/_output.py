"""How commands report: human text on a terminal, one JSON document with `--json`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def json_option(fn: F) -> F:
    """`--json`: print one machine-readable document on stdout instead of text."""
    decorated: F = click.option(
        "--json", "as_json", is_flag=True, help="print one JSON document instead of text"
    )(fn)
    return decorated


def emit_json(document: Any) -> None:
    click.echo(json.dumps(document, indent=2, sort_keys=False, default=str))


def emit_line(text: str = "") -> None:
    click.echo(text)
