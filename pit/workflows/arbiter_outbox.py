"""The arbiter's answers on their way to the runs that wait for them.

Answers decided in one workflow task for one run go in one signal (`GRANT_SIGNAL`), a bounded
number of signals are in flight at once (Temporal caps a workflow's pending external signals
and every signal costs server writes), the answers for one request leave in the order they
were decided (a run may have several signals on the way, for different requests: waiting
for each to be acknowledged would cost a workflow task per hand-over), and what is still
queued continues-as-new with the ledger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from pydantic import BaseModel, ConfigDict

    from pit.workflows.grants import GRANT_SIGNAL, MAX_BATCH, Answers, GrantReply, ReplyTo

MAX_SENDING = 50
"""Signals to requesting runs in flight at once."""

_Key = tuple[str, str | None]


class Delivery(BaseModel):
    """Answers to signal to one run (what continue-as-new carries)."""

    model_config = ConfigDict(extra="forbid")

    to: ReplyTo
    replies: list[GrantReply]


class Outbox:
    def __init__(
        self,
        carried: list[Delivery],
        *,
        domain: str,
        undelivered: Callable[[ReplyTo, list[GrantReply]], None],
        settled: Callable[[], None],
    ) -> None:
        """`undelivered` is told of answers whose run has closed; `settled` after every
        signal, delivered or not."""
        self._queued: dict[_Key, dict[str, GrantReply]] = {}
        self._targets: dict[_Key, ReplyTo] = {}
        self._in_flight: dict[_Key, set[str]] = {}
        self._signals = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._domain = domain
        self._undelivered = undelivered
        self._settled = settled
        self.paused = False
        for delivery in carried:
            for reply in delivery.replies:
                self.queue(reply, delivery.to)

    def __len__(self) -> int:
        """Answers queued or being signalled."""
        queued = sum(len(replies) for replies in self._queued.values())
        return queued + sum(len(rids) for rids in self._in_flight.values())

    @property
    def sending(self) -> bool:
        return self._signals > 0

    def queue(self, reply: GrantReply, to: ReplyTo) -> None:
        """Queue an answer; a later answer for the same request replaces one not yet sent.
        Nothing leaves before `pump` (so one task's answers for a run share a signal)."""
        key = (to.workflow_id, to.run_id)
        self._targets[key] = to
        self._queued.setdefault(key, {})[reply.request] = reply

    def pump(self) -> None:
        """Send what is queued, up to `MAX_SENDING` signals at once; an answer for a request
        whose previous answer is still on its way waits for it."""
        if self.paused:
            return
        for key in list(self._queued):
            if self._signals >= MAX_SENDING:
                return
            queued = self._queued[key]
            flying = self._in_flight.get(key, set())
            ready = [reply for rid, reply in queued.items() if rid not in flying]
            if not ready:
                continue
            for reply in ready:
                del queued[reply.request]
            self._in_flight.setdefault(key, set()).update(r.request for r in ready)
            if not queued:
                del self._queued[key]
            self._signals += 1
            task = asyncio.create_task(self._send(key, ready))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def carry(self) -> list[Delivery]:
        """What is still queued (call once nothing is being sent)."""
        return [
            Delivery(to=self._targets[key], replies=list(replies.values()))
            for key, replies in self._queued.items()
        ]

    async def _send(self, key: _Key, replies: list[GrantReply]) -> None:
        to = self._targets[key]
        handle = workflow.get_external_workflow_handle(to.workflow_id, run_id=to.run_id)
        try:
            for start in range(0, len(replies), MAX_BATCH):
                chunk = replies[start : start + MAX_BATCH]
                await handle.signal(GRANT_SIGNAL, Answers(domain=self._domain, replies=chunk))
        except ApplicationError as error:
            # the run has closed (or never was): what it was granted goes back
            workflow.logger.info("answers for %s not delivered: %s", to.workflow_id, error)
            self._undelivered(to, replies)
        finally:
            self._signals -= 1
            flying = self._in_flight[key]
            flying.difference_update(reply.request for reply in replies)
            if not flying:
                del self._in_flight[key]
                if key not in self._queued:
                    self._targets.pop(key, None)
            self._settled()
