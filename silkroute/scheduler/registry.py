"""One registry for every policy, by name. Unknown names list the valid ones.

Built-ins register themselves below; a plug-in adds one entry. A policy that needs loaded data
(the data-governance rules) is passed as an instance where a name would go:

    make_scheduler(pool_filters=["quota", "latency-slo", DataLawFilter(governance)])

Kinds: `order`, `admission`, `pool-filter`, `node-scorer`, `pool-scorer`, `preemption`,
`rounds` (a factory taking the round length), `preset` (a whole policy by one name) and
`backfill` (a fixed set: easy, greedy, none). Interfaces: `silkroute.scheduler.policies.base`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.placement import PlacementPolicy
from silkroute.scheduler.policies.admission_budget import BudgetAdmission
from silkroute.scheduler.policies.admission_running_jobs import RunningJobsAdmission
from silkroute.scheduler.policies.admission_vouchers import VoucherAdmission
from silkroute.scheduler.policies.base import (
    BACKFILL_MODES,
    Admission,
    NodeScorer,
    PoolFilter,
    PoolScorer,
    PreemptionPolicy,
    QueueOrder,
    RoundPolicy,
)
from silkroute.scheduler.policies.filter_data_law import DataLawFilter
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
from silkroute.scheduler.policies.node_silk_classic import SilkClassicScorer
from silkroute.scheduler.policies.node_silk_r5 import SilkR5Scorer, SilkR5TieScorer
from silkroute.scheduler.policies.node_silk_r6 import SilkR6Scorer
from silkroute.scheduler.policies.node_silk_r7 import SilkR7Scorer
from silkroute.scheduler.policies.node_silk_r8 import SilkR8Scorer
from silkroute.scheduler.policies.node_silk_r10 import SilkR10Scorer
from silkroute.scheduler.policies.node_spread import SpreadScorer
from silkroute.scheduler.policies.order_fairshare import FairShareOrder
from silkroute.scheduler.policies.order_fifo import FifoOrder
from silkroute.scheduler.policies.order_hetero_las import HeteroLasOrder
from silkroute.scheduler.policies.order_las import LasOrder
from silkroute.scheduler.policies.order_priority import PriorityOrder
from silkroute.scheduler.policies.pool_latency import LatencyScorer
from silkroute.scheduler.policies.pool_locality import LocalityScorer
from silkroute.scheduler.policies.pool_price import PriceScorer
from silkroute.scheduler.policies.pool_speed import SpeedScorer
from silkroute.scheduler.policies.preempt_priority import PriorityPreemption
from silkroute.scheduler.policies.rounds_gavel_mmf import GavelMaxMinFairness
from silkroute.scheduler.policies.rounds_hetero_las import HeteroLasRounds
from silkroute.scheduler.policies.rounds_hetero_srtf import HeteroSrtfRounds
from silkroute.scheduler.policies.rounds_hetero_srtf_swap import HeteroSrtfSwapRounds

T = TypeVar("T")
RoundFactory = Callable[[float], tuple[RoundPolicy, list[Admission]]]


class Registry:
    """Policy factories by kind and name."""

    def __init__(self) -> None:
        self.orders: dict[str, Callable[[], QueueOrder]] = {}
        self.admissions: dict[str, Callable[[], Admission]] = {}
        self.pool_filters: dict[str, Callable[[], PoolFilter]] = {}
        self.node_scorers: dict[str, Callable[[], NodeScorer]] = {}
        self.pool_scorers: dict[str, Callable[[], PoolScorer]] = {}
        self.preemptions: dict[str, Callable[[], PreemptionPolicy] | None] = {}
        # Each round factory gives the round policy and any admission it needs.
        self.rounds: dict[str, RoundFactory] = {}
        self.presets: dict[str, str] = {}  # name -> ORDER:BACKFILL:PLACEMENT:ROUNDS
        self.backfill_modes: dict[str, str] = {m: m for m in BACKFILL_MODES}

    def _table(self, kind: str) -> dict[str, Any]:
        tables: dict[str, dict[str, Any]] = {
            "order": self.orders,
            "admission": self.admissions,
            "pool-filter": self.pool_filters,
            "node-scorer": self.node_scorers,
            "pool-scorer": self.pool_scorers,
            "preemption": self.preemptions,
            "rounds": self.rounds,
            "preset": self.presets,
            "backfill": self.backfill_modes,
        }
        if kind not in tables:
            raise ValueError(f"unknown policy kind {kind!r}; valid: {', '.join(tables)}")
        return tables[kind]

    def register(self, kind: str, name: str, factory: Any, *, replace: bool = False) -> None:
        """Add a policy; a name already taken is an error unless `replace`."""
        if kind == "backfill":
            raise ValueError("backfill modes are fixed: easy, greedy, none")
        table = self._table(kind)
        if name in table and not replace:
            raise ValueError(f"{kind} {name!r} is already registered")
        table[name] = factory

    def names(self, kind: str) -> list[str]:
        return sorted(self._table(kind))

    def lookup(self, kind: str, name: str) -> Any:
        return _lookup(kind, self._table(kind), name)


def _lookup(kind: str, table: dict[str, T], name: str) -> T:
    if name not in table:
        raise ValueError(f"unknown {kind} {name!r}; valid: {', '.join(sorted(table))}")
    return table[name]


REGISTRY = Registry()
for _name, _order in {
    "fifo": FifoOrder,
    "priority": PriorityOrder,
    "fairshare": FairShareOrder,
    "las": LasOrder,
    "speed-las": HeteroLasOrder,  # LAS with service in fastest-type GPU-seconds
}.items():
    REGISTRY.register("order", _name, _order)
REGISTRY.register("admission", "vouchers", VoucherAdmission)
REGISTRY.register("admission", "running-jobs", RunningJobsAdmission)
REGISTRY.register("admission", "budget", BudgetAdmission)
REGISTRY.register("pool-filter", "quota", QuotaFilter)
REGISTRY.register("pool-filter", "latency-slo", LatencySloFilter)
for _name, _node in {
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
    # Ours: the tenth round's rule of issue 15 (docs/packing.md, "Tenth round").
    "silk": SilkR10Scorer,
    # The eighth round's rule, `silk` from the ninth round to the tenth.
    "silk-r8": SilkR8Scorer,
    # The seventh round's rule, `silk` until the ninth: earlier tables name it `silk`.
    "silk-r7": SilkR7Scorer,
    # The fourth round's rule, `silk` until the seventh: earlier tables name it `silk`.
    "silk-r4": SilkScorer,
    # The first adopted silk (issue 15, first round): earlier tables name it `silk`.
    "silk-classic": SilkClassicScorer,
    # The fifth round's candidates (issue 15): silk with memory counted (docs/packing.md).
    "silk-r5": SilkR5Scorer,
    "silk-r5t": SilkR5TieScorer,
    # The sixth round's candidate: silk's hostable demand over every shape (docs/packing.md).
    "silk-r6": SilkR6Scorer,
}.items():
    REGISTRY.register("node-scorer", _name, _node)
for _name, _pool in {
    "price": PriceScorer,
    "speed": SpeedScorer,
    # Old names of the speed scorer (it replaced `throughput` and `fastest`).
    "throughput": SpeedScorer,
    "fastest": SpeedScorer,
    "locality": LocalityScorer,
    "latency": LatencyScorer,
}.items():
    REGISTRY.register("pool-scorer", _name, _pool)
REGISTRY.register("preemption", "priority", PriorityPreemption)
REGISTRY.register("preemption", "none", None)
REGISTRY.register("rounds", "gavel-mmf", GavelMaxMinFairness.with_gate)
REGISTRY.register("rounds", "hetero-las", lambda s: (HeteroLasRounds(s), []))
REGISTRY.register("preset", "gavel-mmf", "fifo:none:packing+speed:gavel-mmf")
REGISTRY.register("preset", "hetero-las", "speed-las:greedy:packing+speed:hetero-las")
REGISTRY.register("rounds", "hetero-srtf", lambda s: (HeteroSrtfRounds(s), []))
REGISTRY.register("preset", "hetero-srtf", "speed-las:greedy:packing+speed:hetero-srtf")
REGISTRY.register("rounds", "hetero-srtf-swap", lambda s: (HeteroSrtfSwapRounds(s), []))
REGISTRY.register("preset", "hetero-srtf-swap", "speed-las:greedy:packing+speed:hetero-srtf-swap")

# Views by kind (the names older code and tests use).
QUEUE_ORDERS = REGISTRY.orders
NODE_SCORERS = REGISTRY.node_scorers
POOL_SCORERS = REGISTRY.pool_scorers
PREEMPTIONS = REGISTRY.preemptions
ROUND_POLICIES = REGISTRY.rounds
PRESETS = REGISTRY.presets
# Pool filters that need loaded data (rules, catalogues): the driver builds the instance and
# passes it to `make_scheduler` in place of a name.
CONFIGURED_POOL_FILTERS: dict[str, type[PoolFilter]] = {"data-law": DataLawFilter}

# Pool scoring used unless a placement names its own: data first, then speed, then price.
DEFAULT_POOL_SCORERS = (("locality", 4.0), ("latency", 2.0), ("speed", 1.0), ("price", 0.01))
# Each passes every job of a tenant without the limit it checks (no cap, no hold).
DEFAULT_ADMISSION = ("vouchers", "budget", "running-jobs")
DEFAULT_POOL_FILTERS = ("quota", "latency-slo")


def make_placement(spec: str) -> PlacementPolicy:
    """`packing`, `packing+price:2+speed` (node scorer, then weighted pool scorers), or
    `packing+` (no pool scorers: pools in index order)."""
    node_name, *pool_parts = spec.split("+")
    node = _lookup("node scorer", NODE_SCORERS, node_name)()
    if not pool_parts:
        return PlacementPolicy(node, [(POOL_SCORERS[n](), w) for n, w in DEFAULT_POOL_SCORERS])
    pool_scorers = []
    for part in pool_parts:
        if not part:
            continue
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
    admission: Sequence[str] = DEFAULT_ADMISSION,
    pool_filters: Sequence[str | PoolFilter] = DEFAULT_POOL_FILTERS,
) -> Scheduler:
    """A scheduler from policy names (see `REGISTRY`); admissions and pool filters run in
    the order given."""
    _lookup("backfill mode", REGISTRY.backfill_modes, backfill)
    preempt_factory = _lookup("preemption policy", PREEMPTIONS, preemption)
    round_policy, round_admission = make_rounds(rounds) if rounds else (None, [])
    admissions = [_lookup("admission", REGISTRY.admissions, n)() for n in admission]
    filters = [_pool_filter(f) for f in pool_filters]
    return Scheduler(
        order=_lookup("queue order", QUEUE_ORDERS, order)(),
        placement=make_placement(placement),
        admission=[*admissions, *round_admission],
        pool_filters=filters,
        preemption=preempt_factory() if preempt_factory else None,
        backfill=backfill,
        max_candidates=max_candidates,
        rounds=round_policy,
    )


def _pool_filter(spec: str | PoolFilter) -> PoolFilter:
    if not isinstance(spec, str):
        return spec
    if spec in CONFIGURED_POOL_FILTERS:
        cls = CONFIGURED_POOL_FILTERS[spec].__name__
        raise ValueError(f"pool filter {spec!r} needs loaded data: pass a {cls} instance")
    return _lookup("pool filter", REGISTRY.pool_filters, spec)()
