"""Resolution strategies: which waiting queue's head is considered next.

Requests wait in queues of one tenant and one resource shape, each in rank order (priority
with linear aging, then arrival, then id). A strategy only chooses among queue heads:

    priority       the best effective rank (aged priority minus fairness penalty)
    round_robin    the next tenant in name order after the last one served
    weighted_fair  the tenant with the lowest dominant share / weight (DRF, Ghodsi et al. 2011)
    collaborative  as priority; besides, requests with the same `share` key share one grant
                   of shareable resources and are granted together
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from pit.arbitration.ledger import Ledger, QueueKey, RankKey
from pit.arbitration.model import Strategy

Picker = Callable[[Ledger, list[QueueKey], Mapping[str, int], str | None], QueueKey]
"""(ledger, open queues, penalties by tenant, tenant served last) -> the queue to serve next."""


def _head(ledger: Ledger, queue: QueueKey) -> RankKey:
    return ledger.queues[queue][0]


def _best_head(ledger: Ledger, queues: list[QueueKey]) -> QueueKey:
    return min(queues, key=lambda q: _head(ledger, q))


def pick_priority(
    ledger: Ledger, queues: list[QueueKey], penalties: Mapping[str, int], turn: str | None
) -> QueueKey:
    def effective(queue: QueueKey) -> RankKey:
        minus_rank, arrival, request_id = _head(ledger, queue)
        return (minus_rank + penalties.get(queue[0], 0), arrival, request_id)

    return min(queues, key=effective)


def pick_round_robin(
    ledger: Ledger, queues: list[QueueKey], penalties: Mapping[str, int], turn: str | None
) -> QueueKey:
    tenants = sorted({queue[0] for queue in queues})
    # `turn` is the tenant served last: the next one in name order goes, wrapping round
    chosen = next((t for t in tenants if turn is None or t > turn), tenants[0])
    return _best_head(ledger, [q for q in queues if q[0] == chosen])


def dominant_key(ledger: Ledger, tenant: str) -> float:
    """The tenant's dominant share divided by its weight: DRF serves the smallest first."""
    return ledger.dominant_share(tenant) / ledger.config.tenant(tenant).weight


def pick_weighted_fair(
    ledger: Ledger, queues: list[QueueKey], penalties: Mapping[str, int], turn: str | None
) -> QueueKey:
    tenants = sorted({queue[0] for queue in queues})
    chosen = min(tenants, key=lambda t: (dominant_key(ledger, t), t))
    return _best_head(ledger, [q for q in queues if q[0] == chosen])


PICKERS: dict[Strategy, Picker] = {
    "priority": pick_priority,
    "round_robin": pick_round_robin,
    "weighted_fair": pick_weighted_fair,
    "collaborative": pick_priority,
}
