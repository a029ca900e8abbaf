"""The arbiter engine: events in, decisions out, the same way every time.

`Arbiter.apply(event)` mutates the engine in place (fast: incremental indexes); `step` is the
same as a pure function of (config, snapshot, event) -> (result, new snapshot). Neither reads
a clock or draws a random number: time is the events' logical `t`.
"""

from __future__ import annotations

import heapq

from pit.arbitration.conflicts import ConflictDetector, ConflictKey
from pit.arbitration.fairness import FairnessMonitor, FairnessReport
from pit.arbitration.ledger import Held, Ledger, QueueKey, Waiting
from pit.arbitration.model import (
    ArbiterConfig,
    Conflict,
    Decision,
    Event,
    Rationale,
    Release,
    Request,
    StepResult,
    Submit,
    dump_numbers,
)
from pit.arbitration.rationale import blocked_reason, grant_rationale, rank_of
from pit.arbitration.snapshot import ArbiterSnapshot, GrantRecord, WaitRecord
from pit.arbitration.strategies import PICKERS

_SHOWN_WAITERS = 5
_HELD_BACK: tuple[str, str, dict[str, int | float | str]] = (
    "reserved",
    "a higher-ranked waiting request keeps the resources it needs",
    {},
)


class Arbiter:
    """One resource domain's ledger, conflict detector and fairness monitor."""

    def __init__(self, config: ArbiterConfig) -> None:
        self.config = config
        self.ledger = Ledger(config)
        self.detector = ConflictDetector(self.ledger)
        self.fairness = FairnessMonitor(config)
        self.now = 0.0
        self.last_served: str | None = None
        self._deadlines: list[tuple[float, str]] = []
        self._sharing = config.strategy == "collaborative"

    # the pure face -------------------------------------------------------------------

    @classmethod
    def restore(cls, config: ArbiterConfig, snapshot: ArbiterSnapshot) -> Arbiter:
        arbiter = cls(config)
        arbiter.now = snapshot.now
        arbiter.last_served = snapshot.last_served
        for held in snapshot.granted:
            arbiter.ledger.grant(
                held.request, held.arrival, held.granted_at, arbiter._sharing, held.charged
            )
        for waiting in snapshot.waiting:
            arbiter._enqueue(waiting.request, waiting.arrival, waiting.deadline)
        snapshot.restore_fairness(arbiter.fairness)
        arbiter.detector.update(arbiter.ledger.take_touched())
        return arbiter

    def snapshot(self) -> ArbiterSnapshot:
        ledger = self.ledger
        return ArbiterSnapshot.capture(
            now=self.now,
            last_served=self.last_served,
            granted=[
                GrantRecord(
                    request=h.request,
                    arrival=h.arrival,
                    granted_at=h.granted_at,
                    charged=dict(h.charged),
                )
                for h in ledger.granted.values()
            ],
            waiting=[
                WaitRecord(request=w.request, arrival=w.arrival, deadline=w.deadline)
                for w in ledger.waiting.values()
            ],
            fairness=self.fairness,
        )

    # events --------------------------------------------------------------------------

    def apply(self, event: Event) -> StepResult:
        """Take one event; return the decisions it caused and the conflicts it revealed."""
        self.now = max(self.now, event.t)
        decisions = self._expire()
        conflicts: list[Conflict] = []
        submitted: Request | None = None
        if isinstance(event, Submit):
            rejected = self._refuse(event.request)
            if rejected is not None:
                decisions.append(rejected)
            else:
                submitted = event.request
                arrival = submitted.arrival if submitted.arrival is not None else self.now
                deadline = (
                    arrival + submitted.max_wait.total_seconds() if submitted.max_wait else None
                )
                self._enqueue(submitted, arrival, deadline)
        elif isinstance(event, Release):
            self._withdraw(event.request)
        touched_tenants: dict[str, None] = {}
        decisions.extend(self._settle(conflicts, touched_tenants))
        if submitted is not None and submitted.id in self.ledger.waiting:
            decisions.append(self._wait_decision(self.ledger.waiting[submitted.id]))
        self.fairness.observe(self.ledger, list(touched_tenants), self.now)
        return StepResult(decisions=decisions, conflicts=conflicts)

    def next_timer(self) -> float | None:
        """The earliest logical time at which a waiting request's max_wait runs out."""
        while self._deadlines and self._deadlines[0][1] not in self.ledger.waiting:
            heapq.heappop(self._deadlines)
        return self._deadlines[0][0] if self._deadlines else None

    def fairness_report(self) -> FairnessReport:
        return self.fairness.report(self.ledger, self.now)

    def is_granted(self, request_id: str) -> bool:
        return request_id in self.ledger.granted

    # steps of apply ------------------------------------------------------------------

    def _enqueue(self, request: Request, arrival: float, deadline: float | None) -> None:
        self.ledger.enqueue(request, arrival, deadline)
        if deadline is not None:
            heapq.heappush(self._deadlines, (deadline, request.id))

    def _refuse(self, request: Request) -> Decision | None:
        """A request that can never be granted is rejected at once, saying why."""
        ledger = self.ledger
        reason, numbers = "", {}
        if request.id in ledger.granted or request.id in ledger.waiting:
            reason = f"request id {request.id!r} is already held or waiting"
        for resource, amount in sorted(request.demands.items()):
            if reason:
                break
            if resource not in ledger.capacity:
                reason = f"no resource {resource!r} in this domain"
            elif amount > ledger.capacity[resource]:
                reason = f"demand on {resource} exceeds its capacity"
                numbers = {"demand": amount, "capacity": ledger.capacity[resource]}
            elif amount > self.config.tenant(request.tenant).quota.get(resource, amount):
                reason = f"demand on {resource} exceeds tenant {request.tenant}'s quota"
                quota = self.config.tenant(request.tenant).quota[resource]
                numbers = {"demand": amount, "quota": quota}
        if not reason:
            return None
        return Decision(
            t=self.now,
            request=request.id,
            action="reject",
            rationale=Rationale(
                strategy=self.config.strategy, reason=reason, numbers=dump_numbers(numbers)
            ),
        )

    def _withdraw(self, request_id: str) -> None:
        if request_id in self.ledger.granted:
            self.ledger.release(request_id)
        elif request_id in self.ledger.waiting:
            self.ledger.dequeue(request_id)

    def _expire(self) -> list[Decision]:
        decisions: list[Decision] = []
        while self._deadlines and self._deadlines[0][0] <= self.now:
            deadline, request_id = heapq.heappop(self._deadlines)
            if request_id not in self.ledger.waiting:
                continue
            entry = self.ledger.dequeue(request_id)
            waited = self.now - entry.arrival
            decisions.append(
                Decision(
                    t=self.now,
                    request=request_id,
                    action="reject",
                    rationale=Rationale(
                        strategy=self.config.strategy,
                        reason="still waiting when its max_wait ran out",
                        numbers=dump_numbers({"waited": waited, "deadline": deadline}),
                    ),
                )
            )
        return decisions

    def _settle(self, conflicts: list[Conflict], tenants: dict[str, None]) -> list[Decision]:
        """Grant what the strategy allows, detect conflicts, break deadlocks; repeat once
        per broken deadlock."""
        self.fairness.correct(self.ledger, self.now)
        touched = self.ledger.take_touched()
        tenants.update(touched.tenants)
        conflicts.extend(self._describe(self.detector.update(touched)))
        decisions = self._grant_ready()
        while True:
            touched = self.ledger.take_touched()
            tenants.update(touched.tenants)
            fresh = self.detector.update(touched)
            conflicts.extend(self._describe(fresh))
            if not (self.config.resolve_deadlocks and self.detector.cycles):
                return decisions
            decisions.extend(self._break_deadlocks())
            decisions.extend(self._grant_ready())

    def _describe(self, keys: list[ConflictKey]) -> list[Conflict]:
        return [self.detector.describe(key, self.now) for key in keys]

    def _break_deadlocks(self) -> list[Decision]:
        decisions: list[Decision] = []
        ledger = self.ledger
        for owners, resources in list(self.detector.cycles.items()):
            held = [ledger.granted[r] for o in owners for r in ledger.owner_held.get(o, {})]
            if not held:
                continue
            victim = max(held, key=lambda h: rank_of(h.request, h.arrival, self.config))
            ledger.release(victim.request.id)
            decisions.append(
                Decision(
                    t=self.now,
                    request=victim.request.id,
                    action="preempt",
                    rationale=Rationale(
                        strategy=self.config.strategy,
                        reason="deadlock: its owner holds what another on the cycle waits for; "
                        "the lowest-ranked grant on the cycle is preempted",
                        conflict=[f"deadlock:{','.join(owners)}"],
                        waiters=[o for o in owners if o != victim.request.holder],
                        numbers=dump_numbers(
                            {"owners": len(owners), "priority": victim.request.priority}
                            | {f"resource.{r}": ledger.free_of(r) for r in resources}
                        ),
                    ),
                )
            )
        return decisions

    def _grant_ready(self) -> list[Decision]:
        """Serve queue heads in the strategy's order. A head that does not fit reserves its
        resources for the rest of this pass, so nothing ranked below it can take them."""
        ledger = self.ledger
        pick = PICKERS[self.config.strategy]
        penalties = self.fairness.penalties
        reserved: dict[str, None] = {}
        closed: dict[QueueKey, None] = {}
        decisions: list[Decision] = []
        while True:
            open_queues = [q for q in ledger.queues if q not in closed]
            if not open_queues:
                return decisions
            queue = pick(ledger, open_queues, penalties, self.last_served)
            entry = ledger.waiting[ledger.queues[queue][0][2]]
            blocked = blocked_reason(ledger, entry.request, reserved, self._sharing)
            if blocked is None:
                decisions.append(self._grant(entry, open_queues))
                decisions.extend(self._grant_partners(entry.request, reserved))
                continue
            closed[queue] = None
            if blocked[0] == "capacity":
                reserved.update(dict.fromkeys(sorted(entry.request.demands)))

    def _grant(self, entry: Waiting, open_queues: list[QueueKey]) -> Decision:
        ledger = self.ledger
        request = entry.request
        before = ledger.dominant_share(request.tenant)
        ledger.dequeue(request.id)
        held = ledger.grant(request, entry.arrival, self.now, self._sharing)
        self.last_served = request.tenant
        return self._grant_decision(
            held, before, competing=len(open_queues) - 1, joined=self._partner_of(held)
        )

    def _partner_of(self, held: Held) -> str | None:
        """The request whose shared grant `held` joined at no cost, if any."""
        request = held.request
        if not (self._sharing and request.share):
            return None
        for resource, amount in held.charged.items():
            members = self.ledger.groups.get((resource, request.share), {})
            if amount == 0 and members:
                return next(iter(members))
        return None

    def _grant_partners(self, request: Request, reserved: dict[str, None]) -> list[Decision]:
        """Collaborative: waiting requests with the same share key join the grant now."""
        if not (self._sharing and request.share):
            return []
        ledger = self.ledger
        decisions = []
        for entry in list(ledger.waiting.values()):
            if entry.request.share != request.share:
                continue
            if blocked_reason(ledger, entry.request, reserved, self._sharing) is not None:
                continue
            ledger.dequeue(entry.request.id)
            held = ledger.grant(entry.request, entry.arrival, self.now, self._sharing)
            decisions.append(self._grant_decision(held, 0.0, competing=0, joined=request.id))
        return decisions

    def _grant_decision(
        self, held: Held, share_before: float, competing: int, joined: str | None = None
    ) -> Decision:
        rationale = grant_rationale(
            config=self.config,
            held=held,
            now=self.now,
            penalty=self.fairness.penalties.get(held.request.tenant, 0),
            share_before=share_before,
            competing=competing,
            joined=joined,
            free={r: self.ledger.free_of(r) for r in sorted(held.request.demands)},
        )
        return Decision(
            t=self.now,
            request=held.request.id,
            action="grant",
            rationale=rationale.model_copy(
                update={
                    "conflict": self._active_on(held.request),
                    "waiters": self._waiters_on(held.request),
                    "corrections": list(self.fairness.corrections.values()),
                }
            ),
        )

    def _wait_decision(self, entry: Waiting) -> Decision:
        ledger = self.ledger
        request = entry.request
        why = blocked_reason(ledger, request, {}, self._sharing)
        kind, detail, numbers = why if why is not None else _HELD_BACK
        corrections = [
            text for tenant, text in self.fairness.corrections.items() if tenant == request.tenant
        ]
        return Decision(
            t=self.now,
            request=request.id,
            action="wait",
            rationale=Rationale(
                strategy=self.config.strategy,
                reason=f"{kind}: {detail}",
                conflict=self._active_on(request),
                waiters=self._waiters_on(request, ahead_of=request.id),
                numbers=dump_numbers(
                    numbers
                    | {
                        "priority": request.priority,
                        "penalty": self.fairness.penalties.get(request.tenant, 0),
                        "waiting": len(ledger.waiting),
                    }
                ),
                corrections=corrections,
            ),
        )

    def _active_on(self, request: Request) -> list[str]:
        found: list[str] = []
        for kind, subject, tenant in self.detector.active:
            if subject in request.demands and tenant in ("", request.tenant):
                found.append(f"{kind}:{subject}" + (f":{tenant}" if tenant else ""))
            elif kind == "deadlock" and request.holder in subject.split(","):
                found.append(f"{kind}:{subject}")
        return sorted(found)

    def _waiters_on(self, request: Request, ahead_of: str | None = None) -> list[str]:
        shown: list[str] = []
        for resource in sorted(request.demands):
            for waiter in self.ledger.waiting_on[resource]:
                if waiter == ahead_of:
                    break
                if waiter not in shown and waiter != request.id:
                    shown.append(waiter)
                if len(shown) >= _SHOWN_WAITERS:
                    return shown
        return shown


def step(
    config: ArbiterConfig, snapshot: ArbiterSnapshot | None, event: Event
) -> tuple[StepResult, ArbiterSnapshot]:
    """The engine as a pure function: (config, state, event) -> (decisions, new state)."""
    arbiter = Arbiter.restore(config, snapshot) if snapshot else Arbiter(config)
    result = arbiter.apply(event)
    return result, arbiter.snapshot()
