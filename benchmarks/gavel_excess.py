"""Where the average JCT above the no-wait bound comes from, on points of the Gavel load sweep.

For every job, JCT minus its run time alone on its fastest type (the bound) splits into:
waiting before its first start, waiting after a preemption, and running on a slower type (wall
seconds run minus the fastest-type seconds of work they did). Waiting is further split by
whether some accelerator type had room for the job's whole gang at that moment (round
granularity, fragmentation, a policy holding a job back) or none did (the cluster was full for
that width). Also: moves (preemptions), and the excess of the jobs that arrived on the single
worst day (bursts).

Run: python -m benchmarks.gavel_excess [TRACE CLUSTER LOAD ...]   (default: the points where
hetero-srtf misses 0.9x gavel-mmf; hetero-srtf and hetero-srtf-swap with noise seed 1, and
gavel-mmf, at each)
"""

from __future__ import annotations

import dataclasses
import sys
from collections import defaultdict
from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from benchmarks.gavel_bench import CLUSTERS, GAVEL_DIR, noisy_limits
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.decisions import Decision, Preempt
from silkroute.scheduler.state import ClusterState
from silkroute.scheduler.tenants import TenantBook
from silkroute.sim.engine import Simulator
from silkroute.sim.runner import PolicySpec
from silkroute.sim.truth import SimJob
from silkroute.sim.workloads import load_workload

MISSES = (
    ("seed1-11cb48", "36+36+36", 1.0),
    ("seed1-11cb48", "36+36+36", 2.0),
    ("seed1-103959", "12+12+12", 1.0),
    ("seed1-103959", "36+36+36", 4.0),
)
# (spec, noise seed of the limits)
POLICIES = (("hetero-srtf", 1), ("hetero-srtf-swap", 1), ("gavel-mmf", None))
console = Console(width=170)


@dataclasses.dataclass(frozen=True)
class Excess:
    """One job's seconds above its fastest run time, by cause."""

    first_wait_s: float
    later_wait_s: float
    slower_type_s: float

    @property
    def total_s(self) -> float:
        return self.first_wait_s + self.later_wait_s + self.slower_type_s


def job_excess(job: SimJob) -> Excess:
    """Split a finished job's JCT above its fastest run time into waiting and slow running."""
    assert job.end_time is not None and job.duration_s
    fastest = min(job.duration_s.values())
    ran = sum((job.elapsed_s or {}).values())
    first_start = job.first_start_time if job.first_start_time is not None else job.submit_time
    first_wait = first_start - job.submit_time
    waited = job.end_time - job.submit_time - ran
    return Excess(first_wait, waited - first_wait, ran - fastest)


class WatchedBook(SchedulerBook):
    """A book that adds up, after every step, how long each waiting job waits with or without
    room for its gang on some type (until the next step)."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.wait_s = {"room": 0.0, "full": 0.0}
        self._since = 0.0
        self._waiting: list[bool] = []  # per waiting job: did some type have room for it?

    def commit(self, decisions: Iterable[Decision], now: float) -> None:
        for had_room in self._waiting:
            self.wait_s["room" if had_room else "full"] += now - self._since
        super().commit(decisions, now)
        used: dict[str, int] = defaultdict(int)
        for job in self.running.values():
            used[job.running_type or ""] += job.workers
        free = {t: n - used[t] for t, n in self.cluster.capacity_by_type.items()}
        self._since = now
        self._waiting = [any(f >= j.workers for f in free.values()) for j in self.pending.jobs()]


def measure(trace: str, cluster: str, load: float, spec: str, seed: int | None) -> list[str]:
    workload = load_workload(
        str(GAVEL_DIR / f"{trace}.trace"),
        cluster=str(dict(CLUSTERS)[cluster]),
        load=load,
        estimates="none" if seed is None else "exact",
    )
    if seed is not None:
        workload.jobs = noisy_limits(workload.jobs, seed)
    policy = PolicySpec.parse(spec)
    scheduler = policy.build()
    book = WatchedBook(
        ClusterState(workload.nodes), scheduler.order, workload.sites, TenantBook(workload.tenants)
    )
    jobs = [j.fresh() for j in workload.jobs]
    moves = 0

    def count_moves(_: float, decisions: list[Decision]) -> None:
        nonlocal moves
        moves += sum(isinstance(d, Preempt) for d in decisions)

    Simulator(book, scheduler, jobs).run(policy.name, observer=count_moves)
    parts = [job_excess(j) for j in jobs]
    by_day: dict[int, float] = defaultdict(float)
    for job, part in zip(jobs, parts, strict=True):
        by_day[int(job.submit_time // 86400)] += part.total_s
    n = len(jobs)
    fastest = sum(min((j.duration_s or {}).values()) for j in jobs) / n

    def hours(seconds: float) -> str:
        return f"{seconds / 3600:.0f}"

    total = sum(p.total_s for p in parts)
    return [
        f"{trace} {cluster} {load:g}x",
        spec if seed is None else f"{spec} (noise seed {seed})",
        f"{(fastest + total / n) / 3600:.2f}",
        f"{fastest / 3600:.2f}",
        hours(total),
        hours(sum(p.first_wait_s for p in parts)),
        hours(sum(p.later_wait_s for p in parts)),
        hours(sum(p.slower_type_s for p in parts)),
        hours(book.wait_s["room"]),
        hours(book.wait_s["full"]),
        hours(max(by_day.values())),
        str(moves),
    ]


def main() -> None:
    args = sys.argv[1:]
    points = (
        [(args[i], args[i + 1], float(args[i + 2])) for i in range(0, len(args), 3)]
        if args
        else list(MISSES)
    )
    out = Table(title="Excess over the no-wait bound, job-hours (sum over jobs)")
    headers = (
        "point",
        "policy",
        "avg JCT h",
        "bound h",
        "excess",
        "first wait",
        "wait after preempt",
        "slower type",
        "waiting, a type had room",
        "waiting, no room",
        "worst arrival day",
        "moves",
    )
    for header in headers:
        out.add_column(header, justify="left" if header in ("point", "policy") else "right")
    for trace, cluster, load in points:
        for spec, seed in POLICIES:
            out.add_row(*measure(trace, cluster, load, spec, seed))
    console.print(out)


if __name__ == "__main__":
    main()
