"""Why a request fits or waits, and the structured rationale of a grant."""

from __future__ import annotations

from pit.arbitration.ledger import Held, Ledger, RankKey, rank_key
from pit.arbitration.model import ArbiterConfig, Number, Rationale, Request, dump_numbers

Blocked = tuple[str, str, dict[str, Number]]
"""(kind: quota | capacity | reserved, a sentence, the numbers)."""


def rank_of(request: Request, arrival: float, config: ArbiterConfig) -> RankKey:
    return rank_key(request, arrival, config.aging_seconds)


def blocked_reason(
    ledger: Ledger, request: Request, reserved: dict[str, None], sharing: bool
) -> Blocked | None:
    """None when `request` can be granted now; else why not. Quota comes first: a tenant at
    its quota reserves nothing, so its waiting work never idles what others could use."""
    charged = ledger.charge_for(request, sharing)
    quota = ledger.config.tenant(request.tenant).quota
    held = ledger.tenant_held.get(request.tenant, {})
    for resource in sorted(charged):
        limit = quota.get(resource)
        after = held.get(resource, 0) + charged[resource]
        if limit is not None and after > limit:
            sentence = f"tenant {request.tenant} would hold {after} of {resource}, quota {limit}"
            return ("quota", sentence, {"held": held.get(resource, 0), "quota": limit})
    for resource in sorted(charged):
        amount = charged[resource]
        free = ledger.free_of(resource)
        if ledger.config.resources[resource].exclusive and ledger.holders[resource]:
            holder = next(iter(ledger.holders[resource]))
            return ("capacity", f"{resource} is exclusive and held by {holder}", {"free": free})
        if amount > free:
            sentence = f"{resource} needs {amount}, {free} free"
            return ("capacity", sentence, {"demand": amount, "free": free})
        if amount and resource in reserved:
            sentence = f"{resource} is kept for a higher-ranked request that does not fit yet"
            return ("reserved", sentence, {"demand": amount, "free": free})
    return None


def grant_rationale(
    *,
    config: ArbiterConfig,
    held: Held,
    now: float,
    penalty: int,
    share_before: float,
    competing: int,
    joined: str | None,
    free: dict[str, int],
) -> Rationale:
    request = held.request
    waited = now - held.arrival
    aging = config.aging_seconds
    aged = waited / aging if aging else 0.0
    effective = request.priority + aged - penalty
    weight = config.tenant(request.tenant).weight
    numbers: dict[str, Number] = {
        "priority": request.priority,
        "effective_priority": effective,
        "waited": waited,
        "penalty": penalty,
        "weight": weight,
        "competing_queues": competing,
    }
    strategy = config.strategy
    if joined is not None:
        reason = f"shares the grant of {joined} (share group {request.share!r})"
    elif competing == 0:
        reason = "nothing else was ready to compete: it fits"
    elif strategy == "round_robin":
        reason = f"round-robin turn of tenant {request.tenant}"
    elif strategy == "weighted_fair":
        weighted = share_before / weight
        numbers |= {"dominant_share": share_before, "weighted_dominant_share": weighted}
        reason = (
            f"tenant {request.tenant} has the lowest weighted dominant share "
            f"({share_before:.4f} / weight {weight:g} = {weighted:.4f})"
        )
    else:
        reason = (
            f"highest effective priority {effective:.3f} = priority {request.priority} "
            f"+ aging {aged:.3f} - penalty {penalty}"
        )
    numbers |= {f"demand.{r}": a for r, a in sorted(request.demands.items())}
    numbers |= {f"free_after.{r}": f for r, f in free.items()}
    return Rationale(
        strategy=strategy, reason=reason, winner=request.id, numbers=dump_numbers(numbers)
    )
