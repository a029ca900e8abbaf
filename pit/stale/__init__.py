"""The Stale Manager's pure domain: retention policies, value scores, tiers, cleanup plans.

policy = parse_policy(yaml.safe_load(text))          # or cli_support.load_policy_file
facts = [VersionFacts(...), ...]                      # access_counts for required_windows
plan = make_plan(facts, policy, now)                  # dry run, deterministic plan_id
still_due = recheck(plan, facts_now, policy, now)     # what apply may touch
"""

from pit.stale.corpus import aging_corpus
from pit.stale.evaluate import Action, CompiledPolicy, Decision, Evaluation, evaluate
from pit.stale.facts import Tier, VersionFacts, counts_in_windows, window_key, with_ranks
from pit.stale.plan import (
    MAX_DELETE_BATCH,
    DroppedItem,
    KeepSummary,
    Plan,
    PlanItem,
    Recheck,
    delete_batches,
    make_plan,
    plan_from_json,
    recheck,
)
from pit.stale.policy import (
    DEFAULT_POLICY_YAML,
    Policy,
    PolicyInvalidError,
    parse_policy,
    required_windows,
)
from pit.stale.score import ScoreConfig, ScoreExplanation, Scorer, ScoreWeights
from pit.stale.tiers import PriceTable, Savings, TierPrice, placement_savings, storage_cost

__all__ = [
    "DEFAULT_POLICY_YAML",
    "MAX_DELETE_BATCH",
    "Action",
    "CompiledPolicy",
    "Decision",
    "DroppedItem",
    "Evaluation",
    "KeepSummary",
    "Plan",
    "PlanItem",
    "Policy",
    "PolicyInvalidError",
    "PriceTable",
    "Recheck",
    "Savings",
    "ScoreConfig",
    "ScoreExplanation",
    "ScoreWeights",
    "Scorer",
    "Tier",
    "TierPrice",
    "VersionFacts",
    "aging_corpus",
    "counts_in_windows",
    "delete_batches",
    "evaluate",
    "make_plan",
    "parse_policy",
    "placement_savings",
    "plan_from_json",
    "recheck",
    "required_windows",
    "storage_cost",
    "window_key",
    "with_ranks",
]
