"""The arbiter's answers on their way to the runs that wait for them.

Answers decided in one workflow task for one run go in one signal (`GRANT_SIGNAL`), sent by
the local activity `pit.arbiter.answer` with the worker's client rather than as a signal
from workflow code: an external signal costs the arbiter a transfer on the server and then
a workflow task of its own for the acknowledgement, and on the embedded server that halved
the workflow tasks and more than halved the hand-over time of a contended slot (100 nodes on
10 slots: 64 + 40 tasks and 193 ms a hand-over, against 33 + 12 and 80 ms). A bounded number
are in flight at once, one request's answers leave in the order they were decided (a run may
have several on the way, for different requests), an answer for a run that has closed
reports it (`undelivered`), and what is still queued continues-as-new with the ledger (which
waits for none to be in flight: sdk-core must not see a local activity outlive the run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from pit.activities.arbiter import answer
    from pit.arbitration.protocol import (
        MAX_BATCH,
        Answers,
        Delivery,
        GrantReply,
        Outgoing,
        ReplyTo,
    )

MAX_SENDING = 50
"""Signals to requesting runs in flight at once."""

_ANSWER_RETRY = RetryPolicy(maximum_attempts=5, non_retryable_error_types=["not_found"])
_Key = tuple[str, str | None]


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
        try:
            for start in range(0, len(replies), MAX_BATCH):
                chunk = Answers(domain=self._domain, replies=replies[start : start + MAX_BATCH])
                await workflow.execute_local_activity(
                    answer,
                    Outgoing(to=to, answers=chunk),
                    start_to_close_timeout=timedelta(seconds=30),
                    retry_policy=_ANSWER_RETRY,
                )
        except (ActivityError, ApplicationError) as error:
            # a local activity's failure may come as its ApplicationError, not wrapped
            cause = error.cause if isinstance(error, ActivityError) else error
            if isinstance(cause, ApplicationError) and cause.type == "not_found":
                # the run has closed (or never was): what it was granted goes back
                self._undelivered(to, replies)
            else:  # the run asks again for what it still waits for, and gets it again
                workflow.logger.warning("answers for %s not delivered: %s", to.workflow_id, cause)
        finally:
            self._signals -= 1
            flying = self._in_flight[key]
            flying.difference_update(reply.request for reply in replies)
            if not flying:
                del self._in_flight[key]
                if key not in self._queued:
                    self._targets.pop(key, None)
            self._settled()
