"""Old runs still stopping outside the book (their nodes were taken away while they ran):
the driver counts them in (`TenantBook.hold_stopping`), and the pure scheduler counts them
toward the tenant's running cap and quota until the driver reports them gone."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from silkroute.model.tenant import TenantSpec
from silkroute.scheduler.book import SchedulerBook, Snapshot
from silkroute.scheduler.decisions import Hold, Start
from silkroute.scheduler.state import ClusterState
from silkroute.scheduler.tenants import StoppingRun, TenantBook
from tests.builders import book_for, job, nodes


@dataclass(frozen=True)
class LimitCase:
    name: str
    tenant: TenantSpec
    reason: str
    says: str


LIMITS = [
    LimitCase(
        "a cap of one",
        TenantSpec(name="acme", max_running_jobs=1),
        "max-running-jobs",
        "has 1 jobs running, 1 of them an old run still stopping on a node taken away",
    ),
    LimitCase(
        "a quota of four H100s",
        TenantSpec(name="acme", quota={"H100": 4}),
        "quota-exceeded",
        "4 in use (4 by old runs still stopping on nodes taken away",
    ),
]


@pytest.mark.parametrize("case", LIMITS, ids=lambda c: c.name)
def test_a_stopping_run_holds_its_tenants_limit_until_it_is_released(case: LimitCase) -> None:
    book, scheduler = book_for(nodes(2, gpus=8), [case.tenant])
    waiting = job("next").tenant("acme").gpus(4).build()
    book.submit(waiting)
    book.tenants.hold_stopping(StoppingRun(99, "acme", "H100", 4.0, 1000, since=10.0))
    (hold,) = scheduler.step(book, 20.0)
    assert isinstance(hold, Hold) and hold.reason == case.reason, hold
    assert case.says in hold.message, hold.message
    assert scheduler.step(book, 21.0) == []  # nothing changed: nothing said again
    released = book.tenants.release_stopping(99, started_at=2.0, ended_at=30.0)
    assert released is not None and book.tenants.release_stopping(99, 2.0, 31.0) is None
    # The service it gave from `since` to its end is counted, no more.
    assert book.tenants.get("acme").consumed_gpu_s == pytest.approx(20.0 * 4)
    (start,) = scheduler.step(book, 40.0)
    assert isinstance(start, Start) and start.job_id == waiting.id


@pytest.mark.parametrize(
    ("started_at", "ended_at", "billed_s"),
    [
        (2.0, 30.0, 20.0),  # counted by the book up to `since` (10), the rest now
        (15.0, 30.0, 15.0),  # it started after `since`: from its start
        (None, 30.0, 0.0),  # it never ran: nothing
        (2.0, 8.0, 0.0),  # it ended before `since`: nothing more
    ],
)
def test_a_released_stopping_run_bills_only_the_time_it_ran(
    started_at: float | None, ended_at: float, billed_s: float
) -> None:
    tenants = TenantBook([TenantSpec(name="acme")])
    tenants.hold_stopping(StoppingRun(1, "acme", "H100", 4.0, 0, since=10.0))
    tenants.release_stopping(1, started_at, ended_at)
    account = tenants.get("acme")
    assert account.consumed_gpu_s == pytest.approx(billed_s * 4)
    assert (account.jobs_holding, account.in_use(None), account.jobs_stopping) == (0, 0.0, 0)


def test_a_hold_is_told_again_when_the_stopping_run_joins_what_fills_the_cap() -> None:
    book, scheduler = book_for(nodes(3, gpus=8), [TenantSpec(name="acme", max_running_jobs=2)])
    first, second, third = (job(n).tenant("acme").gpus(8).build() for n in ("a", "b", "c"))
    for j in (first, second, third):
        book.submit(j)
    decisions = scheduler.step(book, 0.0)
    (hold,) = [d for d in decisions if isinstance(d, Hold)]
    assert "still stopping" not in hold.message
    # The first's node is taken away: its run stops outside the book, still counted.
    book.remove_nodes([book.placement_of(first.id)[0][0]], 1.0)
    book.cancel(first.id, 1.0)  # (the driver holds it out of the queue meanwhile)
    book.tenants.hold_stopping(StoppingRun(first.id, "acme", "H100", 8.0, 1000, since=1.0))
    assert book.tenants.get("acme").jobs_holding == 2
    (again,) = [d for d in scheduler.step(book, 2.0) if isinstance(d, Hold)]
    assert again.job_id == third.id and "1 of them an old run still stopping" in again.message


def test_taking_nodes_away_counts_the_tenants_jobs_once() -> None:
    """Reshaping the cluster counts every job that holds resources again, from nothing."""
    book, scheduler = book_for(nodes(3, gpus=8), [TenantSpec(name="acme", max_running_jobs=3)])
    jobs = [job(f"j{n}").tenant("acme").gpus(8).build() for n in range(3)]
    for j in jobs:
        book.submit(j)
    assert len([d for d in scheduler.step(book, 0.0) if isinstance(d, Start)]) == 3
    gone = book.placement_of(jobs[0].id)[0][0]
    assert book.remove_nodes([gone], 1.0) == [jobs[0].id]
    account = book.tenants.get("acme")
    assert account.jobs_holding == 2 and account.in_use("H100") == 16


def test_a_snapshot_keeps_the_stopping_runs() -> None:
    book, _ = book_for(nodes(1, gpus=8), [TenantSpec(name="acme", quota={"*": 8})])
    run = StoppingRun(7, "acme", "H100", 8.0, 2000, since=5.0)
    book.tenants.hold_stopping(run)
    saved = Snapshot.from_dict(book.snapshot().to_dict())
    assert saved.stopping_runs == (run,)
    rebuilt = SchedulerBook.rebuild(
        ClusterState(nodes(1, gpus=8)),
        book.order,
        saved,
        tenants=TenantBook([TenantSpec(name="acme", quota={"*": 8})]),
    )
    account = rebuilt.tenants.get("acme")
    assert (account.jobs_holding, account.in_use(None), account.stopping(None)) == (1, 8.0, 8.0)
