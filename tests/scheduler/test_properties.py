"""Property-based tests over random clusters and job streams, driven by the real simulator."""

from __future__ import annotations

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkroute.model.tenant import TenantSpec
from silkroute.model.workload import (
    Demand,  # FIXME
    JobPhase,
)
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.decisions import Decision, Start
from silkroute.scheduler.job import Job
from silkroute.scheduler.state import NodeInfo
from silkroute.sim.engine import Simulator
from tests.builders import book_for, job

TYPES = ["H100", "Ascend910B"]
SHARES = [0.0, 0.1, 0.25, 0.5, 0.75, 1, 2, 4, 8]


@st.composite
def clusters(draw: st.DrawFn) -> list[NodeInfo]:
    count = draw(st.integers(1, 6))
    out = []
    for i in range(count):
        gpus = draw(st.sampled_from([0, 1, 2, 4, 8]))
        out.append(
            NodeInfo(
                name=f"n{i}",
                site=draw(st.sampled_from(["a", "b"])),
                accelerator=draw(st.sampled_from(TYPES)) if gpus else None,
                accelerators=gpus,
                cpu_milli=draw(st.sampled_from([8_000, 32_000, 64_000])),
                mem_mib=draw(st.sampled_from([65_536, 262_144])),
            )
        )
    return out


@st.composite
def job_streams(draw: st.DrawFn) -> list[Job]:
    count = draw(st.integers(1, 25))
    jobs = []
    t = 0.0
    for i in range(count):
        t += draw(st.sampled_from([0.0, 1.0, 5.0, 30.0]))
        share = draw(st.sampled_from(SHARES))
        run = draw(st.sampled_from([10.0, 60.0, 300.0]))
        jobs.append(
            job(f"j{i}")
            .set(id=i)
            .workers(draw(st.integers(1, 4)) if share >= 1 or share == 0 else 1)
            .gpus(share)
            .cpu(draw(st.sampled_from([0.5, 2, 8])))
            .tenant(draw(st.sampled_from(["t1", "t2", "t3"])))
            .priority(draw(st.sampled_from([0, 200, 300])))
            .set(
                preemptible=draw(st.booleans()),
                checkpoint_interval_s=draw(st.sampled_from([None, 20.0])),
                accelerator_types=draw(st.sampled_from([None, ("H100",), ("Ascend910B",)]))
                if share
                else None,
            )
            .at(t)
            .runs(run, limit=draw(st.sampled_from([None, run, 2 * run])))
            .build()
        )
    return jobs


QUOTAS = [TenantSpec(name="t2", quota={"H100": 4}), TenantSpec(name="t3", quota={"*": 6})]


class Checker:
    """Asserts the scheduler's invariants after every step."""

    def __init__(self, book: SchedulerBook) -> None:
        self.book = book
        self.steps = 0

    def __call__(self, now: float, decisions: list[Decision]) -> None:
        self.steps += 1
        self.book.cluster.check_invariants()
        for d in decisions:
            if isinstance(d, Start):
                # Gang: every worker placed, all in one pool.
                assert len(d.allocation.workers) == self.book.job(d.job_id).workers
                pools = {int(self.book.cluster.pool_of_node[n]) for n, _ in d.allocation.workers}
                assert pools == {d.allocation.pool}
        for spec in QUOTAS:
            account = self.book.tenants.get(spec.name)
            for key, limit in spec.quota.items():
                used = account.in_use(None if key == "*" else key)
                assert used <= limit + 1e-9, f"{spec.name} holds {used} > quota {limit} of {key}"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cluster=clusters(),
    jobs=job_streams(),
    order=st.sampled_from(["fifo", "priority", "fairshare", "las"]),
    backfill=st.sampled_from(["easy", "greedy", "none"]),
)
def test_random_streams_keep_every_invariant(
    cluster: list[NodeInfo], jobs: list[Job], order: str, backfill: str
) -> None:
    book, scheduler = book_for(cluster, tenants=QUOTAS, order=order, backfill=backfill)
    checker = Checker(book)
    sim = Simulator(book, scheduler, jobs)
    sim.run("prop", observer=checker)
    dropped = {j.id for j in sim.dropped}
    for j in jobs:
        if j.id in dropped:
            assert scheduler.unsatisfiable(book, j) is not None
        else:
            # Every satisfiable job finishes: no job is starved forever.
            assert j.phase is JobPhase.SUCCEEDED, (j.name, j.hold_reason)
    assert book.cluster.allocated_milli == 0
    assert all(
        math.isclose(v, 0.0, abs_tol=1e-9)
        for t in book.tenants.all()
        for v in t.gpus_in_use.values()
    )


@settings(max_examples=40, deadline=None)
@given(
    gpus=st.lists(st.sampled_from([1, 2, 4, 8]), min_size=1, max_size=5),
    demands=st.lists(st.sampled_from([0.1, 0.2, 0.3, 0.5, 0.7, 1, 2]), min_size=1, max_size=40),
)
def test_fractional_shares_never_exceed_a_device(gpus: list[int], demands: list[float]) -> None:
    cluster = [NodeInfo(f"n{i}", "s", "T4", g, 64_000, 262_144) for i, g in enumerate(gpus)]
    book, scheduler = book_for(cluster, backfill="greedy")
    for i, share in enumerate(demands):
        book.submit(job(f"j{i}").gpus(share).set(demand=Demand.of(share, 0.1, 0.1)).build())
    scheduler.step(book, 0.0)
    book.cluster.check_invariants()
    held = sum(j.gpus for j in book.running.values())
    assert math.isclose(held * 1000, book.cluster.allocated_milli)
