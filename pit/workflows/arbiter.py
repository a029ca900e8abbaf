"""`pit.arbiter`: one entity workflow per resource domain holding the arbitration ledger.

A waiting request occupies nothing in Temporal but a line in the ledger. Workflows (DAG runs)
register with the `submit` signal and get the answer signalled back to their run
(`GRANT_SIGNAL`), as Temporal's mutex and resource-pool samples do; a grant whose run has
closed is taken back at once. Other programs register with the short `register` update and
poll the `request_state` query. Releases and lease renewals are signals (or short updates);
a grant not renewed in time is reclaimed by one workflow timer. The decisions come from the
pure engine in `pit.arbitration`, with `workflow.now()` as time; the ledger, the answers not
yet delivered and where to deliver them continue-as-new to bound the history.
"""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from pit.arbitration import (
        Arbiter,
        Decision,
        Release,
        Request,
        Submit,
        Tick,
    )
    from pit.arbitration.protocol import (
        ARBITER_WORKFLOW,
        AcquireRequest,
        ArbiterInput,
        Asker,
        Ending,
        GrantReply,
        ReplyTo,
        RequestIds,
        RequestRef,
        Submission,
    )
    from pit.arbitration.views import ArbiterStatus, status_of
    from pit.infra.telemetry.arbiter import record_arbiter_state, record_grant_wait
    from pit.workflows.arbiter_outbox import Outbox

_REMEMBERED_ENDINGS = 1000
_RECENT_GRANTS = 1000


@workflow.defn(name=ARBITER_WORKFLOW)
class ArbiterWorkflow:
    @workflow.init
    def __init__(self, inputs: ArbiterInput) -> None:
        # built here, not in run: a signal or update can arrive in the very first task
        self._input = inputs
        self._arbiter = (
            Arbiter.restore(inputs.config, inputs.carried)
            if inputs.carried
            else Arbiter(inputs.config)
        )
        self._endings: dict[str, Ending] = dict(inputs.endings)
        self._grants: dict[str, Decision] = {}
        self._leases: dict[str, float] = dict(inputs.leases)
        self._lease_lengths: dict[str, float] = dict(inputs.lease_lengths)
        self._reply_to: dict[str, ReplyTo] = {
            rid: asker.to for asker in inputs.askers for rid in asker.requests
        }
        self._outbox = Outbox(
            inputs.outbox, domain=inputs.domain, undelivered=self._undelivered, settled=self._wake
        )
        self._recent: deque[str] = deque(inputs.recent_grants, maxlen=_RECENT_GRANTS)
        self._changed = False
        self._timer: asyncio.Task[None] | None = None
        self._timer_due: float | None = None

    @workflow.run
    async def run(self, inputs: ArbiterInput) -> None:
        while True:
            if self._should_continue(inputs):
                self._outbox.paused = True  # what is queued is carried over
                await workflow.wait_condition(
                    lambda: not self._outbox.sending and workflow.all_handlers_finished()
                )
                workflow.continue_as_new(self._carry(inputs))
            # the answers decided by this task's signals leave together, one signal per run
            self._outbox.pump()
            self._arm_timer()
            ledger = self._arbiter.ledger
            record_arbiter_state(
                inputs.domain, waiting=len(ledger.waiting), held=len(ledger.granted)
            )
            self._changed = False
            await workflow.wait_condition(lambda: self._changed)

    def _should_continue(self, inputs: ArbiterInput) -> bool:
        info = workflow.info()
        return (
            info.is_continue_as_new_suggested()
            or info.get_current_history_length() >= inputs.continue_after_events
        )

    def _carry(self, inputs: ArbiterInput) -> ArbiterInput:
        endings = {
            rid: e.model_copy(update={"reply": e.reply.model_copy(update={"rationale": None})})
            for rid, e in self._endings.items()
        }
        return inputs.model_copy(
            update={
                "carried": self._arbiter.snapshot(),
                "leases": self._leases,
                "lease_lengths": self._lease_lengths,
                "askers": _askers(self._reply_to),
                "outbox": self._outbox.carry(),
                "endings": endings,
                "recent_grants": list(self._recent),
            }
        )

    # handlers --------------------------------------------------------------------------

    @workflow.signal
    def submit(self, batch: Submission) -> None:
        """Register requests (asking again is safe); the answers go to `batch.reply_to`."""
        for request in batch.requests:
            self._register(request, batch.lease, batch.reply_to)

    @workflow.update
    def register(self, ask: AcquireRequest) -> GrantReply:
        """Register a request and answer at once: grant, reject, or wait (then poll
        `request_state`). Never waits, so it holds none of the few in-flight update slots."""
        return self._register(ask.request, ask.lease, None)

    @workflow.signal
    def release(self, ids: RequestIds) -> None:
        """Give grants back (or withdraw waiting requests)."""
        for request_id in ids.requests:
            self._release(request_id)

    @workflow.update(name="release_grant")
    def release_grant(self, ref: RequestRef) -> bool:
        """As the `release` signal, answering whether the request was held or waiting."""
        return self._release(ref.request)

    @workflow.signal
    def renew_lease(self, ids: RequestIds) -> None:
        """As the `renew` update for each, without an answer: what a holding run sends."""
        for request_id in ids.requests:
            self._renew(request_id)

    @workflow.update
    def renew(self, ref: RequestRef) -> float | None:
        """Push a held grant's lease out by its length; None when it is not held."""
        return self._renew(ref.request)

    @workflow.query
    def request_state(self, ref: RequestRef) -> GrantReply:
        return self._reply(ref.request)

    @workflow.query
    def status(self) -> ArbiterStatus:
        return status_of(
            self._input.domain,
            self._arbiter,
            self._leases,
            list(self._recent),
            len(self._outbox),
        )

    # internals -------------------------------------------------------------------------

    def _now(self) -> float:
        return workflow.now().timestamp()

    def _wake(self) -> None:
        self._changed = True

    def _arm_timer(self) -> None:
        """One timer for the earliest lease or max_wait deadline, set again only when that
        comes earlier (a renewal moves a deadline later: the timer then fires early, ticks,
        and is set for the next), so a busy arbiter does not start and cancel one a task."""
        times = list(self._leases.values())
        engine_timer = self._arbiter.next_timer()
        if engine_timer is not None:
            times.append(engine_timer)
        due = min(times, default=None)
        if due is None or (self._timer_due is not None and self._timer_due <= due):
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_due = due
        self._timer = asyncio.create_task(self._tick_at(due))

    async def _tick_at(self, due: float) -> None:
        await workflow.sleep(max(0.001, due - self._now()))
        self._timer, self._timer_due = None, None
        self._apply(Tick(t=self._now()))

    def _register(
        self, request: Request, lease: timedelta | None, asker: ReplyTo | None
    ) -> GrantReply:
        rid = request.id
        ledger = self._arbiter.ledger
        ending = self._endings.get(rid)
        if ending is not None and ending.asker != asker:
            del self._endings[rid]  # a new asker reusing the id: a new request
            ending = None
        if ending is None and asker is not None:
            self._reply_to[rid] = asker
        if ending is not None or rid in ledger.granted or rid in ledger.waiting:
            reply = self._reply(rid)
            if asker is not None and reply.action != "wait":
                self._queue(reply, asker)  # asked again: the first answer may be lost
            return reply
        if len(ledger.waiting) >= self._input.max_waiting:
            reason = (
                f"{len(ledger.waiting)} requests are already waiting "
                f"(max_waiting {self._input.max_waiting})"
            )
            self._end(GrantReply(request=rid, action="reject", reason=reason))
            return self._reply(rid)
        self._lease_lengths[rid] = (lease or self._input.lease).total_seconds()
        self._apply(Submit(t=self._now(), request=request))
        return self._reply(rid)

    def _renew(self, request_id: str) -> float | None:
        if request_id not in self._arbiter.ledger.granted:
            return None
        until = self._now() + self._lease_lengths.get(request_id, 0.0)
        self._leases[request_id] = until
        self._changed = True
        return until

    def _apply(self, event: Submit | Release | Tick) -> None:
        now = self._now()
        expired = sorted(r for r, until in self._leases.items() if until <= now)
        for request_id in expired:
            self._reclaim(request_id, now)
        result = self._arbiter.apply(event)
        for decision in result.decisions:
            self._record(decision)
        for conflict in result.conflicts:
            workflow.logger.info(
                "conflict %s on %s: %s", conflict.type, conflict.resources, conflict.requests[:10]
            )
        self._changed = True

    def _reclaim(self, request_id: str, now: float) -> None:
        """A lease ran out: the holder is presumed gone and its grant is taken back."""
        held = self._arbiter.ledger.granted.get(request_id)
        self._leases.pop(request_id, None)
        if held is None:
            return
        result = self._arbiter.apply(Release(t=now, request=request_id, reason="lease expired"))
        self._end(
            GrantReply(
                request=request_id,
                action="preempt",
                reason="lease expired: the holder neither renewed nor released it",
            )
        )
        for decision in result.decisions:
            self._record(decision)

    def _record(self, decision: Decision) -> None:
        rid = decision.request
        workflow.logger.info("%s %s: %s", decision.action, rid, decision.rationale.reason)
        if decision.action == "grant":
            self._grants[rid] = decision
            held = self._arbiter.ledger.granted.get(rid)
            if held is not None:
                record_grant_wait(self._input.domain, held.granted_at - held.arrival)
            length = self._lease_lengths.get(rid, self._input.lease.total_seconds())
            self._leases[rid] = decision.t + length
            self._recent.append(rid)
            asker = self._reply_to.get(rid)
            if asker is not None:
                self._queue(self._reply(rid), asker)
        elif decision.action in ("reject", "preempt"):
            reason = decision.rationale.reason
            self._end(
                GrantReply(
                    request=rid,
                    action=decision.action,
                    rationale=decision.rationale,
                    reason=reason,
                )
            )

    def _end(self, reply: GrantReply) -> None:
        """A request ends without a grant (or loses one): remember why, tell its asker."""
        rid = reply.request
        self._grants.pop(rid, None)
        self._leases.pop(rid, None)
        self._lease_lengths.pop(rid, None)
        asker = self._reply_to.pop(rid, None)
        self._endings[rid] = Ending(reply=reply, asker=asker)
        while len(self._endings) > _REMEMBERED_ENDINGS:
            del self._endings[next(iter(self._endings))]
        if asker is not None:
            self._queue(reply, asker)

    def _release(self, request_id: str, reason: str = "released") -> bool:
        ledger = self._arbiter.ledger
        present = request_id in ledger.granted or request_id in ledger.waiting
        self._grants.pop(request_id, None)
        self._leases.pop(request_id, None)
        self._lease_lengths.pop(request_id, None)
        self._reply_to.pop(request_id, None)
        if present:
            self._apply(Release(t=self._now(), request=request_id, reason=reason))
        return present

    def _reply(self, request_id: str) -> GrantReply:
        ledger = self._arbiter.ledger
        if request_id in ledger.granted:
            grant = self._grants.get(request_id)
            return GrantReply(
                request=request_id,
                action="grant",
                rationale=grant.rationale if grant else None,
                lease_until=self._leases.get(request_id),
            )
        if request_id in ledger.waiting:
            return GrantReply(request=request_id, action="wait")
        ending = self._endings.get(request_id)
        if ending is not None:
            return ending.reply
        return GrantReply(
            request=request_id,
            action="reject",
            reason="the arbiter does not know this request (released, or never asked)",
        )

    def _queue(self, reply: GrantReply, to: ReplyTo) -> None:
        self._outbox.queue(reply, to)
        self._changed = True

    def _undelivered(self, to: ReplyTo, replies: list[GrantReply]) -> None:
        """The run that asked has closed: a grant it can never use goes back at once."""
        ledger = self._arbiter.ledger
        for reply in replies:
            rid = reply.request
            if reply.action == "grant" and rid in ledger.granted and self._reply_to.get(rid) == to:
                self._release(rid, reason="the requester has closed")


def _askers(reply_to: dict[str, ReplyTo]) -> list[Asker]:
    grouped: dict[tuple[str, str | None], Asker] = {}
    for rid, to in reply_to.items():
        key = (to.workflow_id, to.run_id)
        if key not in grouped:
            grouped[key] = Asker(to=to, requests=[])
        grouped[key].requests.append(rid)
    return list(grouped.values())
