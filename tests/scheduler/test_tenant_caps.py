"""Per-tenant caps in the pure scheduler: `max_running_jobs` (admission `running-jobs`) and
the driver's budget hold (admission `budget`), in one step, over steps, and in the simulator."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkroute.model.tenant import TenantSpec
from silkroute.scheduler.decisions import Decision, Hold, Start
from silkroute.scheduler.state import NodeInfo
from silkroute.sim.engine import Simulator
from silkroute.sim.truth import SimJob
from tests.builders import book_for, job, nodes
from tests.scheduler.test_properties import clusters, job_streams
from tests.scheduler.test_shortcuts_exact import short_cuts_off


@dataclass(frozen=True)
class CapCase:
    name: str
    cap: int | None
    jobs: int
    workers: int
    started_in_one_step: int


CAP_CASES = [
    CapCase("a cap of one starts one of five jobs", 1, 5, 1, 1),
    CapCase("a cap of three starts three of five jobs", 3, 5, 1, 3),
    CapCase("a cap of zero starts none", 0, 5, 1, 0),
    CapCase("no cap starts every job that fits", None, 5, 1, 5),
    CapCase("a gang of four workers counts as one job", 2, 3, 4, 2),
    CapCase("a cap above the queue starts all", 10, 4, 1, 4),
]


@pytest.mark.parametrize("case", CAP_CASES, ids=lambda c: c.name)
def test_the_running_cap_holds_within_one_step(case: CapCase) -> None:
    capped = TenantSpec(name="capped", country="SG", max_running_jobs=case.cap)
    book, scheduler = book_for(nodes(4, gpus=8), [capped])
    for n in range(case.jobs):
        book.submit(job(f"j{n}").tenant("capped").gpus(1).workers(case.workers).build())
    decisions = scheduler.step(book, 0.0)
    starts = [d for d in decisions if isinstance(d, Start)]
    holds = [d for d in decisions if isinstance(d, Hold)]
    assert len(starts) == case.started_in_one_step
    assert len(holds) == case.jobs - len(starts)
    assert {h.reason for h in holds} <= {"max-running-jobs"}
    for hold in holds:
        assert f"at most {case.cap}" in hold.message and "max_running_jobs" in hold.message
    assert book.tenants.get("capped").jobs_holding == len(starts)


def test_a_capped_tenants_next_job_starts_when_one_ends_and_others_are_not_held() -> None:
    capped = TenantSpec(name="capped", country="SG", max_running_jobs=1)
    book, scheduler = book_for(nodes(2, gpus=8), [capped])
    mine = [job(f"c{n}").tenant("capped").gpus(1).build() for n in range(3)]
    theirs = [job(f"o{n}").tenant("other").gpus(1).build() for n in range(3)]
    for j in [*mine, *theirs]:
        book.submit(j)
    started = {d.job_id for d in scheduler.step(book, 0.0) if isinstance(d, Start)}
    # The other tenant is not capped: all of its jobs start beside the capped one's first.
    assert started == {mine[0].id, *(j.id for j in theirs)}
    assert scheduler.step(book, 1.0) == []  # nothing changed: nothing to say again
    book.finish(mine[0].id, 2.0)
    started = {d.job_id for d in scheduler.step(book, 2.0) if isinstance(d, Start)}
    assert started == {mine[1].id}
    assert book.tenants.get("capped").jobs_holding == 1


def test_a_budget_hold_stops_a_tenants_starts_until_lifted() -> None:
    book, scheduler = book_for(nodes(1, gpus=8))
    held = job("held").tenant("spent").gpus(1).build()
    free = job("free").tenant("other").gpus(1).build()
    book.submit(held)
    book.submit(free)
    assert book.tenants.hold_for_budget("spent", "budget spent")
    assert not book.tenants.hold_for_budget("spent", "budget spent")  # no change
    decisions = scheduler.step(book, 0.0)
    assert [d.job_id for d in decisions if isinstance(d, Start)] == [free.id]
    (hold,) = [d for d in decisions if isinstance(d, Hold)]
    assert (hold.job_id, hold.reason, hold.message) == (held.id, "budget-exhausted", "budget spent")
    assert scheduler.step(book, 1.0) == []  # still held: skipped without a word
    assert book.tenants.hold_for_budget("spent", None)
    assert [d.job_id for d in scheduler.step(book, 2.0) if isinstance(d, Start)] == [held.id]


def test_the_simulator_honours_a_workloads_running_cap() -> None:
    """The same admission under the simulator: a tenant capped at two runs its six jobs two
    at a time (100 s each: three waves), an uncapped tenant all of its at once."""
    capped = TenantSpec(name="capped", country="SG", max_running_jobs=2)
    book, scheduler = book_for(nodes(2, gpus=8), [capped])
    jobs: list[SimJob] = [
        *(job(f"c{n}").tenant("capped").gpus(1).runs(100.0).build() for n in range(6)),
        *(job(f"o{n}").tenant("other").gpus(1).runs(100.0).build() for n in range(6)),
    ]
    Simulator(book, scheduler, jobs).run("capped")
    starts = sorted(j.first_start_time for j in jobs if j.tenant == "capped")  # type: ignore[type-var]
    assert starts == [0.0, 0.0, 100.0, 100.0, 200.0, 200.0]
    assert [j.first_start_time for j in jobs if j.tenant == "other"] == [0.0] * 6
    assert all(j.end_time is not None for j in jobs)


CAPPED = [
    TenantSpec(name="t1", max_running_jobs=1),
    TenantSpec(name="t2", quota={"H100": 4}, max_running_jobs=2),
    TenantSpec(name="t3", quota={"*": 6}),
]


def _capped_run(
    cluster: list[NodeInfo], jobs: list[SimJob], order: str, backfill: str
) -> list[tuple[float | None, float | None, int]]:
    """Every job's first start, end and preemptions; after every step, each capped tenant
    holds at most its cap of jobs, and its count is what the book holds for it. Every job
    ends, but those that could never run on the cluster (dropped at submit)."""
    book, scheduler = book_for(cluster, tenants=CAPPED, order=order, backfill=backfill)

    def check(now: float, decisions: list[Decision]) -> None:
        held = [*book.running.values(), *book.terminating.values()]
        for spec in CAPPED:
            account = book.tenants.get(spec.name)
            assert account.jobs_holding == sum(1 for j in held if j.tenant == spec.name)
            if spec.max_running_jobs is not None:
                assert account.jobs_holding <= spec.max_running_jobs, (now, spec.name)

    fresh = [j.fresh() for j in jobs]
    sim = Simulator(book, scheduler, fresh)
    sim.run("capped", observer=check)
    dropped = {j.id for j in sim.dropped}
    assert all(j.end_time is not None for j in fresh if j.id not in dropped)
    return [(j.first_start_time, j.end_time, j.preemptions) for j in fresh]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cluster=clusters(),
    jobs=job_streams(),
    order=st.sampled_from(["fifo", "priority", "fairshare"]),
    backfill=st.sampled_from(["easy", "greedy", "none"]),
)
def test_caps_hold_after_every_step_and_short_cuts_do_not_change_decisions(
    cluster: list[NodeInfo], jobs: list[SimJob], order: str, backfill: str
) -> None:
    fast = _capped_run(cluster, jobs, order, backfill)
    with short_cuts_off():
        slow = _capped_run(cluster, jobs, order, backfill)
    assert fast == slow
