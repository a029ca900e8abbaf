"""The worker process: one composition root that wires adapters into activities."""

from pit.workers.worker import build_worker, pit_worker, run_until_signalled

__all__ = ["build_worker", "pit_worker", "run_until_signalled"]
