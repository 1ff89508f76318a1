"""A vouchers-only tenant starts only work its vouchers can pay for (Slurm's GrpTRESMins with
`AccountingStorageEnforce=safe`): what ended runs were charged, plus its running jobs'
accelerators x time limits, plus the job's own, must fit in its vouchers.

The running total (`TenantAccount.committed_micro_s`, `unlimited_runs`) moves only when runs
start and are gone; every event a book knows is checked against a count from scratch over
what holds resources, and a book rebuilt from its snapshot counts the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from silkroute.model.tenant import TenantSpec
from silkroute.scheduler.book import SchedulerBook, Snapshot
from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.decisions import Decision, Hold, Start
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState
from silkroute.scheduler.tenants import StoppingRun, TenantBook, commitment_of
from tests.builders import book_for, job, nodes

HOUR = 3600.0
TENANT = "startup"


def vouchers_only(hours: float) -> TenantSpec:
    return TenantSpec(name=TENANT, voucher_accelerator_hours=hours, pay_as_you_go=False)


# ----- the admission ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    name: str
    tenant: TenantSpec
    running: list[tuple[float, float | None]]  # (accelerators, time limit s), started at t=0
    job: tuple[float, float | None]  # the new job: accelerators, time limit (None: none)
    held: str | None  # its hold reason at t=100; None: it starts
    consumed_s: float = 0.0  # accelerator-seconds the ledger already charged ended runs
    says: tuple[str, ...] = ()  # what its hold message names


CASES = [
    Case("enough left beside a running job", vouchers_only(2), [(1, 1800)], (1, 1800), None),
    Case(
        "not enough beside a running job",
        vouchers_only(1),
        [(1, 3000)],
        (1, 1200),
        "voucher-insufficient",
        says=("needs 0.3333 accelerator-hours", "0.1667 are left", "0.8333 of them held"),
    ),
    Case(
        "exactly enough: charged, committed and its own make the grant",
        vouchers_only(2),
        [(1, 1800)],
        (1, 3600),
        None,
        consumed_s=1800,
    ),
    Case(
        "one accelerator-second short",
        vouchers_only(2),
        [(1, 1800)],
        (1, 3600),
        "voucher-insufficient",
        consumed_s=1801,
    ),
    Case(
        "a gang counts every accelerator for its whole limit",
        vouchers_only(7.9),
        [],
        (16, 1800),
        "voucher-insufficient",
        says=("needs 8 accelerator-hours", "16 accelerators x its time limit of 1800 s"),
    ),
    Case(
        "nothing left: exhausted, whatever the job",
        vouchers_only(1),
        [],
        (1, 60),
        "voucher-exhausted",
        consumed_s=HOUR,
    ),
    Case(
        "all left is held for running jobs: insufficient, not exhausted",
        vouchers_only(1),
        [(2, 1800)],
        (1, 1),
        "voucher-insufficient",
    ),
    Case(
        "pay-as-you-go with no vouchers at all: unaffected",
        TenantSpec(name=TENANT),
        [(8, 24 * HOUR)],
        (8, 24 * HOUR),
        None,
    ),
    Case(
        "pay-as-you-go without a time limit: unaffected",
        TenantSpec(name=TENANT, voucher_accelerator_hours=1),
        [(1, None)],
        (1, None),
        None,
    ),
    Case(
        "a job without a time limit waits for one",
        vouchers_only(100),
        [],
        (1, None),
        "voucher-needs-time-limit",
        says=("resubmit it with time_limit_s", "100 accelerator-hours left"),
    ),
    Case(
        "a job without a time limit, nothing left: exhausted",
        vouchers_only(1),
        [],
        (1, None),
        "voucher-exhausted",
        consumed_s=2 * HOUR,
    ),
    Case("CPU-only work is free", vouchers_only(0), [], (0, None), None),
]


def _book_with_running(case: Case) -> tuple[SchedulerBook, Scheduler]:
    book, scheduler = book_for(nodes(4, gpus=8), tenants=[case.tenant], preemption="none")
    book.tenants.bill(TENANT, case.consumed_s)
    for gpus, limit in case.running:
        # Started while the tenant paid as it went (a job without a limit may run only so).
        book.tenants.get(TENANT).pay_as_you_go = True
        running = job("running").tenant(TENANT).gpus(gpus).set(time_limit_s=limit).build()
        book.submit(running)
        book.commit(scheduler.step(book, 0.0), 0.0)
        book.tenants.get(TENANT).pay_as_you_go = case.tenant.pay_as_you_go
        assert running.id in book.running
    return book, scheduler


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_a_vouchers_only_job_starts_only_if_its_vouchers_cover_it(case: Case) -> None:
    book, scheduler = _book_with_running(case)
    gpus, limit = case.job
    build = job("new").tenant(TENANT).set(time_limit_s=limit).at(50.0)
    workers = max(1, int(gpus // 8))  # more than a node's eight: a gang of whole nodes
    new = (build.gpus(gpus / workers).workers(workers) if gpus else build.gpus(0)).build()
    book.submit(new)
    decisions = scheduler.step(book, 100.0)
    started = [d.job_id for d in decisions if isinstance(d, Start)]
    holds = {d.job_id: d for d in decisions if isinstance(d, Hold)}
    if case.held is None:
        assert started == [new.id], holds
    else:
        assert started == [] and holds[new.id].reason == case.held, decisions
        for words in case.says:
            assert words in holds[new.id].message, holds[new.id].message


def test_a_running_job_without_a_time_limit_holds_the_rest_of_a_vouchers_only_tenant() -> None:
    """A tenant that turned vouchers-only while a job without a limit runs: nothing bounds
    what that job will use, so nothing else of the tenant starts until it ends."""
    case = Case("", vouchers_only(100), [(1, None)], (1, 60), "voucher-insufficient")
    book, scheduler = _book_with_running(case)
    new = job("new").tenant(TENANT).gpus(1).set(time_limit_s=60.0).at(50.0).build()
    book.submit(new)
    hold = [d for d in scheduler.step(book, 100.0) if isinstance(d, Hold)]
    assert [(h.job_id, h.reason) for h in hold] == [(new.id, "voucher-insufficient")]
    assert "1 of its running jobs have no time limit" in hold[0].message
    (running,) = [j for j in book.running.values() if j.time_limit_s is None]
    book.finish(running.id, 200.0)
    assert [d.job_id for d in scheduler.step(book, 200.0) if isinstance(d, Start)] == [new.id]


def test_one_voucher_hour_left_starts_none_of_a_hundred_day_long_8_gpu_jobs() -> None:
    """The hole this closes: `left > 0` let each of them start, billing 1,920 hours."""
    book, scheduler = book_for(nodes(100, gpus=8), tenants=[vouchers_only(1)])
    for i in range(100):
        book.submit(job(f"big{i}").tenant(TENANT).gpus(8).set(time_limit_s=24 * HOUR).build())
    decisions = scheduler.step(book, 0.0)
    assert not [d for d in decisions if isinstance(d, Start)]
    assert {d.reason for d in decisions if isinstance(d, Hold)} == {"voucher-insufficient"}
    book.submit(job("fits").tenant(TENANT).gpus(8).set(time_limit_s=HOUR / 8).at(1).build())
    assert [book.job(d.job_id).name for d in scheduler.step(book, 1.0) if isinstance(d, Start)] == [
        "fits"
    ]


def test_a_held_jobs_message_follows_the_hours_left() -> None:
    """`voucher-insufficient` names figures that move while the job waits: told again when
    they change, and not at every step when they do not."""
    book, scheduler = book_for(nodes(2, gpus=8), tenants=[vouchers_only(1)], preemption="none")
    first = job("first").tenant(TENANT).gpus(1).set(time_limit_s=3000.0).build()
    second = job("second").tenant(TENANT).gpus(1).set(time_limit_s=700.0).at(1).build()
    waiting = job("waiting").tenant(TENANT).gpus(1).set(time_limit_s=3000.0).at(2).build()
    for record in (first, second, waiting):
        book.submit(record)
    decisions = scheduler.step(book, 10.0)
    assert {d.job_id for d in decisions if isinstance(d, Start)} == {first.id}
    told = {d.job_id: d.message for d in decisions if isinstance(d, Hold)}
    assert "0.1667 are left" in told[second.id] and "0.1667 are left" in told[waiting.id]
    assert not [d for d in scheduler.step(book, 20.0) if isinstance(d, Hold)]  # nothing moved
    book.finish(first.id, 130.0)  # ran 120 s of its 3,000: the second's 700 s fit now
    decisions = scheduler.step(book, 130.0)
    assert [d.job_id for d in decisions if isinstance(d, Start)] == [second.id]
    (again,) = [d for d in decisions if isinstance(d, Hold)]
    assert again.job_id == waiting.id and "0.7722 are left" in again.message, again.message


# ----- the running total -----------------------------------------------------------------------
def recount(book: SchedulerBook) -> dict[str, tuple[int, int]]:
    """Each tenant's commitment counted from scratch: every job holding resources in the
    book (running, starting, stopping) and every run stopping outside it."""
    totals: dict[str, list[int]] = {a.name: [0, 0] for a in book.tenants.all()}
    held = [
        (j.tenant, commitment_of(j.gpus, j.time_limit_s))
        for j in [*book.running.values(), *book.terminating.values()]
    ]
    held += [(r.tenant, r.commitment) for r in book.tenants.stopping_runs()]
    for tenant, commitment in held:
        if commitment is None:
            totals[tenant][1] += 1
        else:
            totals[tenant][0] += commitment
    return {name: (m, u) for name, (m, u) in totals.items()}


def kept(book: SchedulerBook) -> dict[str, tuple[int, int]]:
    return {a.name: (a.committed_micro_s, a.unlimited_runs) for a in book.tenants.all()}


@dataclass
class Play:
    """A small history on two nodes of eight: a, b, c of tenant t1 (limits 100 s x 2 GPUs,
    none x 1 GPU, 0.7 s x 0.5 GPU), d of t2 (33.3 s x 8 GPUs, preemptible)."""

    book: SchedulerBook
    scheduler: Scheduler
    ids: dict[str, int] = field(default_factory=dict)

    def step(self, now: float) -> list[Decision]:
        decisions = self.scheduler.step(self.book, now)
        self.book.commit(decisions, now)
        return decisions


def _play(graceful: bool) -> Play:
    book, scheduler = book_for(nodes(2, gpus=8))
    book.graceful_stop = graceful
    play = Play(book, scheduler)
    shapes = {
        "a": job("a").tenant("t1").gpus(2).set(time_limit_s=100.0),
        "b": job("b").tenant("t1").gpus(1),
        "c": job("c").tenant("t1").gpus(0.5).set(time_limit_s=0.7),
        "d": job("d").tenant("t2").gpus(8).set(time_limit_s=33.3, preemptible=True, priority=0),
    }
    for name, build in shapes.items():
        record = build.build()
        play.ids[name] = record.id
        book.submit(record)
    play.step(0.0)
    assert {book.job(i).name for i in book.running} == {"a", "b", "c", "d"}
    return play


def starts(play: Play) -> None:
    pass  # what `_play` did


def finishes(play: Play) -> None:
    play.book.finish(play.ids["a"], 50.0)
    play.book.finish(play.ids["b"], 60.0)


def is_preempted_then_gone(play: Play) -> None:
    urgent = job("urgent").tenant("t3").gpus(8).workers(2).set(time_limit_s=10.0, priority=900)
    play.book.submit(urgent.at(5).build())
    play.step(10.0)  # every job is told to stop: graceful stops keep them counted till gone
    for job_id in sorted(play.book.terminating):
        play.book.stopped(job_id, 12.0)


def is_cancelled(play: Play) -> None:
    play.book.cancel(play.ids["b"], 20.0)
    if play.book.graceful_stop:
        play.book.stopped(play.ids["b"], 25.0)


def fails_to_start(play: Play) -> None:
    extra = job("late").tenant("t1").gpus(1).set(time_limit_s=9.0).at(1).build()
    play.book.submit(extra)
    play.scheduler.step(play.book, 1.0)  # proposed, not committed
    play.book.start_failed(extra.id, 2.0)


def loses_its_node(play: Play) -> None:
    node = play.book.placement_of(play.ids["d"])[0][0]
    play.book.remove_nodes([node], 30.0)


def stops_outside_the_book(play: Play) -> None:
    tenants = play.book.tenants
    tenants.hold_stopping(StoppingRun(901, "t1", "H100", 4.0, 0, 10.0, commitment_of(4, 50)))
    tenants.hold_stopping(StoppingRun(902, "t2", "H100", 1.0, 0, 10.0, None))
    tenants.release_stopping(902, 0.0, 20.0)


PLAYS: list[tuple[str, Callable[[Play], None]]] = [
    ("after the starts", starts),
    ("after two finish", finishes),
    ("after a preemption of every job, once they are gone", is_preempted_then_gone),
    ("after a cancel", is_cancelled),
    ("after a start that failed", fails_to_start),
    ("after a node is removed under a running job", loses_its_node),
    ("with runs stopping outside the book", stops_outside_the_book),
]


@pytest.mark.parametrize("graceful", [False, True], ids=["instant-stops", "graceful-stops"])
@pytest.mark.parametrize("name, play", PLAYS, ids=[p[0] for p in PLAYS])
def test_the_running_total_is_what_holds_resources_and_a_rebuild_counts_it_alike(
    name: str, play: Callable[[Play], None], graceful: bool
) -> None:
    lived = _play(graceful)
    play(lived)
    assert kept(lived.book) == recount(lived.book)
    if name == "after the starts":  # a, c for t1 (and b without a limit); d for t2
        expected_t1 = commitment_of(2, 100.0) + (commitment_of(0.5, 0.7) or 0)
        assert kept(lived.book) == {"t1": (expected_t1, 1), "t2": (commitment_of(8, 33.3), 0)}
    saved = Snapshot.from_dict(json.loads(json.dumps(lived.book.snapshot().to_dict())))
    rebuilt = SchedulerBook.rebuild(
        ClusterState(lived.book.node_infos()),
        lived.scheduler.order,
        saved,
        SiteCatalog([]),
        TenantBook(),
        graceful_stop=graceful,
        now=40.0,
    )
    assert kept(rebuilt) == kept(lived.book)
    for book in (lived.book, rebuilt):  # everything ends: nothing is left committed
        for job_id in sorted(book.terminating):
            book.stopped(job_id, 50.0)
        for job_id in sorted(book.running):
            book.finish(job_id, 50.0)
        for run in book.tenants.stopping_runs():
            book.tenants.release_stopping(run.job_id, None, None)
        assert all(total == (0, 0) for total in kept(book).values()), kept(book)


def test_an_old_snapshots_stopping_run_counts_nothing_committed() -> None:
    """A snapshot from before runs kept their commitment: read as none (0), not refused."""
    run = StoppingRun(5, "t1", "H100", 2.0, 0, 1.0, commitment_of(2, 60))
    old = {k: v for k, v in run.to_dict().items() if k != "commitment"}
    assert StoppingRun.from_dict(old).commitment == 0
    assert StoppingRun.from_dict(json.loads(json.dumps(run.to_dict()))) == run
    unlimited = StoppingRun(6, "t1", "H100", 2.0, 0, 1.0, None)
    assert StoppingRun.from_dict(json.loads(json.dumps(unlimited.to_dict()))) == unlimited
