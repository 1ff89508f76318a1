"""Every built-in policy, by name, in one visible list. Unknown names list the valid ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from silkroute.scheduler.core import BACKFILL_MODES, Scheduler
from silkroute.scheduler.placement import NodeScorer, PlacementPolicy, PoolScorer
from silkroute.scheduler.policies.admission_vouchers import VoucherAdmission
from silkroute.scheduler.policies.base import Admission, PreemptionPolicy, QueueOrder
from silkroute.scheduler.policies.filter_latency import LatencySloFilter
from silkroute.scheduler.policies.filter_quota import QuotaFilter
from silkroute.scheduler.policies.node_bestfit import BestFitScorer
from silkroute.scheduler.policies.node_dotprod import DotProductScorer
from silkroute.scheduler.policies.node_fgd import FgdExactScorer, FgdScorer
from silkroute.scheduler.policies.node_gpuclustering import GpuClusteringScorer
from silkroute.scheduler.policies.node_gpupacking import GpuPackingScorer
from silkroute.scheduler.policies.node_packing import PackingScorer
from silkroute.scheduler.policies.node_random import RandomScorer
from silkroute.scheduler.policies.node_silk import SilkScorer
from silkroute.scheduler.policies.node_spread import SpreadScorer
from silkroute.scheduler.policies.order_fairshare import FairShareOrder
from silkroute.scheduler.policies.order_fifo import FifoOrder
from silkroute.scheduler.policies.order_hetero_las import HeteroLasOrder
from silkroute.scheduler.policies.order_las import LasOrder
from silkroute.scheduler.policies.order_priority import PriorityOrder
from silkroute.scheduler.policies.pool_fastest import FastestTypeScorer
from silkroute.scheduler.policies.pool_latency import LatencyScorer
from silkroute.scheduler.policies.pool_locality import LocalityScorer
from silkroute.scheduler.policies.pool_price import PriceScorer
from silkroute.scheduler.policies.pool_throughput import ThroughputScorer
from silkroute.scheduler.policies.preempt_priority import PriorityPreemption
from silkroute.scheduler.policies.rounds_gavel_mmf import GavelMaxMinFairness
from silkroute.scheduler.policies.rounds_hetero_las import HeteroLasRounds
from silkroute.scheduler.rounds import RoundPolicy

QUEUE_ORDERS: dict[str, Callable[[], QueueOrder]] = {
    "fifo": FifoOrder,
    "priority": PriorityOrder,
    "fairshare": FairShareOrder,
    "las": LasOrder,
    "speed-las": HeteroLasOrder,  # LAS with service in fastest-type GPU-seconds
}
NODE_SCORERS: dict[str, Callable[[], NodeScorer]] = {
    "packing": PackingScorer,
    "spread": SpreadScorer,
    # GPU-sharing placement (the FGD packing experiment): FGD, its baselines, and ours.
    "fgd": FgdScorer,
    "fgd-exact": FgdExactScorer,
    "bestfit": BestFitScorer,
    "dotprod": DotProductScorer,
    "gpupacking": GpuPackingScorer,
    "gpuclustering": GpuClusteringScorer,
    "random": RandomScorer,
    "silk": SilkScorer,
}
POOL_SCORERS: dict[str, Callable[[], PoolScorer]] = {
    "price": PriceScorer,
    "throughput": ThroughputScorer,
    "locality": LocalityScorer,
    "latency": LatencyScorer,
    "fastest": FastestTypeScorer,
}
PREEMPTIONS: dict[str, Callable[[], PreemptionPolicy] | None] = {
    "priority": PriorityPreemption,
    "none": None,
}
# Round-based time slicing, by name; `NAME@SECONDS` sets the round length. Each factory gives
# the round policy and any admission it needs (Gavel's only lets planned jobs start).
ROUND_POLICIES: dict[str, Callable[[float], tuple[RoundPolicy, list[Admission]]]] = {
    "gavel-mmf": GavelMaxMinFairness.with_gate,
    "hetero-las": lambda s: (HeteroLasRounds(s), []),
}
# Whole policies by one name (`--policy gavel-mmf`): ORDER:BACKFILL:PLACEMENT:ROUNDS.
PRESETS: dict[str, str] = {
    "gavel-mmf": "fifo:none:packing+fastest:gavel-mmf",
    "hetero-las": "speed-las:greedy:packing+fastest:hetero-las",
}
# Pool scoring used unless a placement names its own: data first, then speed, then price.
T = TypeVar("T")

DEFAULT_POOL_SCORERS = (("locality", 4.0), ("latency", 2.0), ("throughput", 1.0), ("price", 0.01))


def _lookup(kind: str, table: dict[str, T], name: str) -> T:
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(table))}")
    return table[name]


def make_placement(spec: str) -> PlacementPolicy:
    """`packing` or `packing+price:2+throughput` (node scorer, then weighted pool scorers)."""
    node_name, *pool_parts = spec.split("+")
    node = _lookup("node scorer", NODE_SCORERS, node_name)()
    if not pool_parts:
        return PlacementPolicy(node, [(POOL_SCORERS[n](), w) for n, w in DEFAULT_POOL_SCORERS])
    pool_scorers = []
    for part in pool_parts:
        name, _, weight = part.partition(":")
        pool_scorers.append((_lookup("pool scorer", POOL_SCORERS, name)(), float(weight or 1.0)))
    return PlacementPolicy(node, pool_scorers)


def make_rounds(spec: str) -> tuple[RoundPolicy, list[Admission]]:
    """`gavel-mmf` or `hetero-las@120` (round length in seconds, default 360)."""
    name, _, seconds = spec.partition("@")
    factory = _lookup("round policy", ROUND_POLICIES, name)
    try:
        return factory(float(seconds) if seconds else 360.0)
    except ValueError as exc:
        raise ValueError(f"round policy {spec!r}: {exc}") from None


def make_scheduler(
    order: str = "fifo",
    placement: str = "packing",
    preemption: str = "priority",
    backfill: str = "easy",
    max_candidates: int = 256,
    rounds: str | None = None,
) -> Scheduler:
    _lookup("backfill mode", {m: m for m in BACKFILL_MODES}, backfill)
    preempt_factory = _lookup("preemption policy", PREEMPTIONS, preemption)
    round_policy, round_admission = make_rounds(rounds) if rounds else (None, [])
    return Scheduler(
        order=_lookup("queue order", QUEUE_ORDERS, order)(),
        placement=make_placement(placement),
        admission=[VoucherAdmission(), *round_admission],
        pool_filters=[QuotaFilter(), LatencySloFilter()],
        preemption=preempt_factory() if preempt_factory else None,
        backfill=backfill,
        max_candidates=max_candidates,
        rounds=round_policy,
    )
