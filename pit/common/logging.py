"""Logging: stdlib `logging`, readable lines on a terminal or JSON lines for machines.

Workflow and activity code log through `temporalio.workflow.logger` and
`temporalio.activity.logger`, which add run context and end up in these same handlers.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Literal, TextIO

# attributes every LogRecord has; anything else was passed with `extra=` and is kept
_STANDARD_ATTRS = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)


class JsonLineFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, msg, any `extra=` fields, exc."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRS and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class TextFormatter(logging.Formatter):
    """`12:00:01.123 info  pit.worker: message`."""

    def __init__(self) -> None:
        super().__init__(
            "%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"
        )

    def format(self, record: logging.LogRecord) -> str:
        record.levelname = record.levelname.lower()
        return super().format(record)


def configure_logging(
    log_format: Literal["text", "json"] = "text",
    level: str = "info",
    stream: TextIO | None = None,
) -> None:
    """Send every log record to `stream` (stderr) in the chosen format. Call once at start."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLineFormatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    # the SDK's own chatter is only interesting when something is wrong; activity and
    # workflow failures are reported by the commands that ran them, and by `pit worker`
    # (which logs at info) with their tracebacks
    logging.getLogger("temporalio").setLevel(max(logging.WARNING, root.level))
    quiet = root.level > logging.INFO
    # temporalio.core: the SDK core's own lines (retries of a server that went away; the
    # command that waits says so itself, in one line)
    for name in ("temporalio.activity", "temporalio.workflow", "temporalio.core"):
        logging.getLogger(name).setLevel(logging.ERROR if quiet else logging.NOTSET)


def get_logger(name: str) -> logging.Logger:
    return logging.getLogger(name)
