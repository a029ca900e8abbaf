"""Composition: the Temporal plugin, the worker process, adapters wired from settings."""

from pit.workers.codec import codec_server
from pit.workers.local import local_pit
from pit.workers.plugin import PitPlugin
from pit.workers.worker import build_worker, pit_worker, run_until_signalled

__all__ = [
    "PitPlugin",
    "build_worker",
    "codec_server",
    "local_pit",
    "pit_worker",
    "run_until_signalled",
]
