"""Run several policies over one workload, side by side, in one process."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.registry import PRESETS, make_scheduler
from silkroute.scheduler.state import ClusterState
from silkroute.scheduler.tenants import TenantBook
from silkroute.sim.engine import SimResult, Simulator
from silkroute.sim.metrics import heterogeneity_metrics
from silkroute.sim.workloads import Workload


@dataclass(frozen=True)
class PolicySpec:
    """`ORDER[:BACKFILL[:PLACEMENT[:ROUNDS]]]`, e.g. `fifo`, `fifo:none`, `las:easy:packing`,
    or a preset name from the registry (`gavel-mmf`, `hetero-las`)."""

    name: str
    order: str
    backfill: str = "easy"
    placement: str = "packing"
    preemption: str = "priority"
    rounds: str | None = None  # round-based time slicing, e.g. `gavel-mmf` or `hetero-las@120`

    @classmethod
    def parse(cls, text: str) -> PolicySpec:
        parts = text.strip().split(":")
        if len(parts) == 1 and parts[0].partition("@")[0] in PRESETS:
            name, _, seconds = parts[0].partition("@")
            parts = PRESETS[name].split(":")
            parts[-1] += f"@{seconds}" if seconds else ""
        names = ("ORDER", "BACKFILL", "PLACEMENT", "ROUNDS")
        if len(parts) > len(names):
            raise ValueError(f"policy {text!r}: expected ORDER[:BACKFILL[:PLACEMENT[:ROUNDS]]]")
        empty = [name for name, part in zip(names, parts, strict=False) if not part.strip()]
        if empty:  # `fifo:easy:` said "unknown node scorer ''"
            raise ValueError(
                f"policy {text!r}: {' and '.join(empty)} empty; "
                "expected ORDER[:BACKFILL[:PLACEMENT[:ROUNDS]]]"
            )
        fields = dict(zip(("order", "backfill", "placement", "rounds"), parts, strict=False))
        spec = cls(name=text.strip(), **fields)
        spec.build()  # unknown names fail now, with the valid ones listed
        return spec

    def build(self, max_candidates: int = 256):  # type: ignore[no-untyped-def]
        return make_scheduler(
            order=self.order,
            placement=self.placement,
            preemption=self.preemption,
            backfill=self.backfill,
            max_candidates=max_candidates,
            rounds=self.rounds,
        )


def run_policy(
    workload: Workload,
    policy: PolicySpec,
    progress: Callable[[int], None] | None = None,
    step_interval_s: float = 0.0,
) -> SimResult:
    scheduler = policy.build()
    cluster = ClusterState(workload.nodes)
    book = SchedulerBook(cluster, scheduler.order, workload.sites, TenantBook(workload.tenants))
    jobs = [j.fresh() for j in workload.jobs]  # copies that have not run
    sim = Simulator(book, scheduler, jobs, step_interval_s=step_interval_s)
    result = sim.run(policy.name, progress)
    result.metrics.update(heterogeneity_metrics(jobs, cluster.capacity_by_type))
    cluster.check_invariants()
    return result
