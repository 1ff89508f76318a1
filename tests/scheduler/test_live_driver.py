"""The book as a live driver uses it: propose, commit, report back; rebuild; drain and remove."""

from __future__ import annotations

import json
import random

import pytest

from silkroute.model.tenant import TenantSpec
from silkroute.model.workload import JobPhase
from silkroute.scheduler.book import BookError, SchedulerBook, Snapshot
from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.decisions import Decision, Hold, Preempt, Start
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.scheduler.tenants import TenantBook
from silkroute.sim.truth import SimJob
from tests.builders import book_for, job, nodes


class Driver:
    """A control plane in miniature: runs each job for its duration, then reports it done."""

    def __init__(self, book: SchedulerBook, scheduler: Scheduler, seconds: dict[int, float]):
        self.book, self.scheduler, self.seconds = book, scheduler, seconds

    def tick(self, now: float, arrivals: list[SimJob], as_requests: bool = False) -> list[Decision]:
        for stopping in sorted(self.book.terminating):  # told to stop last tick: gone now
            self.book.stopped(stopping, now)
        for running in sorted(self.book.running.values(), key=lambda j: j.id):
            assert running.start_time is not None
            if running.start_time + self.seconds[running.id] <= now:
                self.book.finish(running.id, now)
        for arriving in arrivals:
            self.book.submit(arriving.request() if as_requests else arriving)
        decisions = self.scheduler.step(self.book, now)
        self.book.commit(decisions, now)
        return decisions


def _stream(seed: int, count: int) -> list[SimJob]:
    rng = random.Random(seed)
    jobs = []
    for i in range(count):
        share = rng.choice([0.25, 0.5, 1, 2, 4, 8])
        low = rng.random() < 0.3
        jobs.append(
            job(f"j{i}")
            .set(id=i)
            .gpus(share)
            .workers(rng.choice([1, 1, 2]) if share >= 1 else 1)
            .tenant(rng.choice(["t1", "t2", "t3"]))
            .priority(0 if low else rng.choice([200, 300]))
            .set(preemptible=low)
            .at(float(i * 5))
            .runs(rng.choice([20.0, 60.0, 300.0]), limit=rng.choice([None, 400.0]))
            .build()
        )
    return jobs


def _cluster() -> list[NodeInfo]:
    return nodes(3, gpus=8, accel="H100", site="a") + nodes(2, gpus=4, accel="A100", site="b")


TENANTS = [TenantSpec(name="t2", quota={"*": 8})]


@pytest.mark.parametrize("order", ["fifo", "priority", "fairshare", "las"])
@pytest.mark.parametrize("backfill", ["easy", "none"])
@pytest.mark.parametrize("graceful", [False, True], ids=["instant-stops", "graceful-stops"])
def test_a_book_rebuilt_mid_run_makes_the_same_decisions(
    order: str, backfill: str, graceful: bool
) -> None:
    jobs = _stream(seed=7, count=60)
    seconds = {j.id: j.run_seconds(None) for j in jobs}
    book, scheduler = book_for(_cluster(), tenants=TENANTS, order=order, backfill=backfill)
    book.graceful_stop = graceful
    lived = Driver(book, scheduler, seconds)
    rebuilt: Driver | None = None
    compared = 0
    for tick in range(0, 700, 10):
        now = float(tick)
        arrivals = [
            j for j in jobs if now - 10 < j.submit_time <= now or (tick == 0 and j.submit_time == 0)
        ]
        want = lived.tick(now, arrivals)
        if rebuilt is not None:
            assert rebuilt.tick(now, arrivals, as_requests=True) == want, f"t={now}"
            compared += len(want)
        # Snapshot mid-run; with graceful stops, at a moment a preempted job is still stopping.
        if rebuilt is None and tick >= 150 and (book.terminating or not graceful or tick >= 300):
            snapshotted_stopping = bool(book.terminating)
            # What a store would hold: plain values, through their dict form.
            saved = Snapshot.from_dict(json.loads(json.dumps(book.snapshot().to_dict())))
            stored = saved.jobs
            assert any(s.phase is JobPhase.RUNNING for _, s in stored)
            assert any(s.phase is JobPhase.PENDING for _, s in stored)
            fresh_scheduler = book_for(_cluster(), order=order, backfill=backfill)[1]
            again = SchedulerBook.rebuild(
                ClusterState(_cluster()),
                fresh_scheduler.order,
                Snapshot(
                    stored,
                    saved.tenant_consumed_gpu_s,
                    saved.drained,
                    saved.last_round,
                    saved.ready_preemptors,
                ),
                SiteCatalog([]),
                TenantBook(TENANTS),
                graceful_stop=graceful,
                now=now,
            )
            rebuilt = Driver(again, fresh_scheduler, seconds)
            assert again.cluster.allocated_milli == book.cluster.allocated_milli
    assert compared > 20  # the comparison saw real work after the rebuild
    if graceful and (order, backfill) == ("priority", "easy"):
        assert snapshotted_stopping  # this stream preempts at t=170: the snapshot holds it


def test_a_failed_start_returns_the_job_to_the_queue_with_its_resources_released() -> None:
    book, scheduler = book_for(nodes(1, gpus=8))
    first = job("first").gpus(8).build()
    book.submit(first)
    (start,) = scheduler.step(book, 0.0)
    assert isinstance(start, Start) and first.phase is JobPhase.STARTING
    assert book.cluster.allocated_milli == 8000
    book.start_failed(first.id, 1.0)  # the back end could not launch it
    assert first.phase is JobPhase.PENDING and first.start_failures == 1
    assert first.first_start_time is None and not first.elapsed_s  # it never ran
    assert book.cluster.allocated_milli == 0 and first.id not in book.running
    book.cluster.check_invariants()
    # Back in the queue: the next step places it again on the released capacity.
    again = scheduler.step(book, 2.0)
    assert [d.job_id for d in again if isinstance(d, Start)] == [first.id]
    book.commit(again, 2.0)
    assert first.phase is JobPhase.RUNNING


def test_a_drained_node_finishes_its_jobs_and_takes_no_new_ones() -> None:
    book, scheduler = book_for(nodes(2, gpus=8))
    running = job("running").gpus(4).build()
    book.submit(running)
    book.commit(scheduler.step(book, 0.0), 0.0)
    node = book.placement_of(running.id)[0][0]
    book.drain_nodes([node])
    # Room for a 4-GPU job is left on the drained node, yet new work goes to the other one.
    newcomers = [job(f"new{i}").gpus(4).build() for i in range(3)]
    for newcomer in newcomers:
        book.submit(newcomer)
    decisions = scheduler.step(book, 1.0)
    book.commit(decisions, 1.0)
    placed = {book.placement_of(d.job_id)[0][0] for d in decisions if isinstance(d, Start)}
    assert node not in placed and len(placed) == 1
    assert running.phase is JobPhase.RUNNING  # it keeps running there
    held = [d for d in decisions if isinstance(d, Hold)]
    assert [d.reason for d in held] == ["insufficient-capacity"]
    book.finish(running.id, 5.0)
    assert scheduler.step(book, 6.0) == []  # its room stays closed: the third still waits
    book.undrain_nodes([node])
    assert [type(d) for d in scheduler.step(book, 7.0)] == [Start]
    book.cluster.check_invariants()


def test_a_preempted_jobs_resources_stay_busy_until_it_reports_it_has_stopped() -> None:
    book, scheduler = book_for(nodes(1, gpus=8))
    book.graceful_stop = True  # a live platform: SIGTERM, then a grace period
    low = job("low").gpus(8).priority(0).set(preemptible=True).build()
    book.submit(low)
    book.commit(scheduler.step(book, 0.0), 0.0)
    high = job("high").gpus(8).priority(300).build()
    book.submit(high)
    decisions = scheduler.step(book, 10.0)
    book.commit(decisions, 10.0)
    assert [(type(d), d.job_id) for d in decisions if not isinstance(d, Hold)] == [
        (Preempt, low.id)
    ]
    assert low.phase is JobPhase.TERMINATING
    assert book.cluster.allocated_milli == 8000  # still held by the stopping job
    # Steps while it stops: the preemptor waits, and nothing preempts again for it.
    for now in (11.0, 12.0):
        assert not [d for d in scheduler.step(book, now) if not isinstance(d, Hold)]
    assert book.cluster.allocated_milli == 8000
    book.stopped(low.id, 13.0)
    assert low.phase is JobPhase.PENDING and book.cluster.allocated_milli == 0
    assert low.preemptions == 1 and low.elapsed_s == {"H100": 13.0 - 0.0 - 3.0}
    starts = [d.job_id for d in scheduler.step(book, 13.0) if isinstance(d, Start)]
    assert starts == [high.id]


def test_removing_a_site_requeues_its_jobs_and_adding_nodes_gives_room() -> None:
    book, scheduler = book_for(nodes(1, gpus=8, site="a") + nodes(1, gpus=8, site="b"))
    jobs = [job(f"j{i}").gpus(8).build() for i in range(2)]
    for j in jobs:
        book.submit(j)
    book.commit(scheduler.step(book, 0.0), 0.0)
    on_b = next(j for j in jobs if book.placement_of(j.id)[0][0].startswith("b-"))
    assert book.remove_site("b", 5.0) == [on_b.id]
    assert on_b.phase is JobPhase.PENDING and on_b.preemptions == 1
    assert not [d for d in scheduler.step(book, 6.0) if isinstance(d, Start)]
    book.add_nodes(nodes(1, gpus=8, site="c"), 7.0)
    assert [d.job_id for d in scheduler.step(book, 8.0) if isinstance(d, Start)] == [on_b.id]
    book.cluster.check_invariants()
    with pytest.raises(BookError, match="not in the cluster"):
        book.remove_site("b", 9.0)


def test_a_job_is_in_the_book_once() -> None:
    book, scheduler = book_for(nodes(1, gpus=8))
    first = job("first").gpus(1).build()
    book.submit(first)
    with pytest.raises(ValueError, match="already queued"):
        book.submit(first.request())
    book.commit(scheduler.step(book, 0.0), 0.0)
    with pytest.raises(BookError, match="already in the book"):
        book.submit(first.request())
    with pytest.raises(BookError, match="not starting"):
        book.start_failed(first.id, 1.0)  # it was committed: running, not starting
