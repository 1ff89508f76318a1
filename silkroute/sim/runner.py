"""Run several policies over one workload, side by side, in one process."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.registry import make_scheduler
from silkroute.scheduler.state import ClusterState
from silkroute.scheduler.tenants import TenantBook
from silkroute.sim.engine import SimResult, Simulator
from silkroute.sim.workloads import Workload


@dataclass(frozen=True)
class PolicySpec:
    """`ORDER[:BACKFILL[:PLACEMENT]]`, e.g. `fifo`, `fifo:none`, `las:easy:packing`."""

    name: str
    order: str
    backfill: str = "easy"
    placement: str = "packing"
    preemption: str = "priority"

    @classmethod
    def parse(cls, text: str) -> PolicySpec:
        parts = text.strip().split(":")
        if not parts[0] or len(parts) > 3:
            raise ValueError(f"policy {text!r}: expected ORDER[:BACKFILL[:PLACEMENT]]")
        fields = dict(zip(("order", "backfill", "placement"), parts, strict=False))
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
        )


def run_policy(
    workload: Workload, policy: PolicySpec, progress: Callable[[int], None] | None = None
) -> SimResult:
    scheduler = policy.build()
    cluster = ClusterState(workload.nodes)
    book = SchedulerBook(cluster, scheduler.order, workload.sites, TenantBook(workload.tenants))
    jobs = [dataclasses.replace(j, extra={}) for j in workload.jobs]  # fresh mutable copies
    result = Simulator(book, scheduler, jobs).run(policy.name, progress)
    cluster.check_invariants()
    return result
