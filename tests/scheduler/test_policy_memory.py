"""Policy memory that outlives a step lives in the book: a rebuilt book decides as the original.

For every registered node scorer and round policy with memory (fgd and silk's learnt target,
gpuclustering's node tags, the random scorer's generator, Gavel's time shares and LP plan; the
hetero rounds' round clock), a book is snapshotted mid-run through its JSON form and rebuilt
with a fresh scheduler; both then see the same arrivals and must make the same decisions, and
hold the same memory, to the end of the run.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from silkroute.model.workload import JobPhase
from silkroute.scheduler.backfill import reservation_for
from silkroute.scheduler.book import SchedulerBook, Snapshot
from silkroute.scheduler.core import Scheduler
from silkroute.scheduler.decisions import Decision, Preempt, Start
from silkroute.scheduler.memory import ArrivalShapes
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.scheduler.tenants import TenantBook
from silkroute.sim.truth import SimJob
from tests.builders import book_for, job, nodes


class Driver:
    """Runs each job until its work is done, across preemptions (rounds suspend jobs)."""

    def __init__(self, book: SchedulerBook, scheduler: Scheduler, work: dict[int, float]):
        self.book, self.scheduler, self.left = book, scheduler, dict(work)
        self.since: dict[int, float] = {}

    def tick(self, now: float, arrivals: list[SimJob], as_requests: bool) -> list[Decision]:
        for stopping in sorted(self.book.terminating):  # told to stop last tick: gone now
            self.book.stopped(stopping, now)
        for running in sorted(self.book.running.values(), key=lambda j: j.id):
            if running.id in self.since and self.since[running.id] + self.left[running.id] <= now:
                del self.since[running.id]
                self.book.finish(running.id, now)
        for arriving in arrivals:
            self.book.submit(arriving.request() if as_requests else arriving)
        decisions = self.scheduler.step(self.book, now)
        self.book.commit(decisions, now)
        for d in decisions:
            if isinstance(d, Start):
                self.since[d.job_id] = now
            elif isinstance(d, Preempt) and d.job_id in self.since:
                self.left[d.job_id] -= now - self.since.pop(d.job_id)
        return decisions

    def restarted(self, book: SchedulerBook, scheduler: Scheduler) -> Driver:
        again = Driver(book, scheduler, self.left)
        again.since = dict(self.since)
        return again


def _stream(seed: int, count: int, speeds: bool) -> list[SimJob]:
    rng = random.Random(seed)
    jobs = []
    for i in range(count):
        share = rng.choice([1, 2, 4] if speeds else [0.25, 0.5, 0.5, 1, 2, 4, 8])
        low = rng.random() < 0.3
        seconds = rng.choice([40.0, 200.0, 900.0])
        build = (
            job(f"j{i}")
            .set(id=i)
            .gpus(share)
            .workers(rng.choice([1, 1, 2]) if share >= 1 else 1)
            .tenant(rng.choice(["t1", "t2"]))
            .priority(0 if low else rng.choice([200, 300]))
            .set(preemptible=low)
            .at(float(i * 15))
            .runs(seconds, limit=rng.choice([None, 2 * seconds]))
        )
        if speeds:
            build.set(speed={"V100": 1.0, "K80": rng.choice([0.2, 0.5, 0.9])})
        jobs.append(build.build())
    return jobs


def _cluster(speeds: bool) -> list[NodeInfo]:
    if speeds:
        return nodes(2, gpus=4, accel="V100") + nodes(2, gpus=4, accel="K80")
    return nodes(3, gpus=8, accel="H100", site="a") + nodes(2, gpus=4, accel="A100", site="b")


def _commitments(book: SchedulerBook) -> dict[str, tuple[int, int]]:
    """What each tenant's runs in progress may still be charged (the vouchers' running
    total): a rebuilt book must count the same, to the last unit."""
    return {a.name: (a.committed_micro_s, a.unlimited_runs) for a in book.tenants.all()}


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


# (scheduler arguments, jobs with speeds per type?) for every policy that remembers something.
WITH_MEMORY = {
    "fgd": ({"placement": "fgd+", "backfill": "easy"}, False),
    "silk": ({"placement": "silk+", "backfill": "easy"}, False),
    "gpuclustering": ({"placement": "gpuclustering+", "backfill": "easy"}, False),
    "random": ({"placement": "random+", "backfill": "easy"}, False),
    "gavel-mmf": (
        {"placement": "packing+speed", "backfill": "none", "rounds": "gavel-mmf@60"},
        True,
    ),
    "hetero-las": (
        {"order": "speed-las", "backfill": "greedy", "rounds": "hetero-las@60"},
        True,
    ),
    "hetero-srtf": (
        {"order": "speed-las", "backfill": "greedy", "rounds": "hetero-srtf@60"},
        True,
    ),
}


def _run(policy: str, graceful: bool, keep_memory: bool = True, seed: int = 11) -> tuple[int, bool]:
    """Run a stream with a rebuild at t=1500 s; (decisions compared, all equal)."""
    args, speeds = WITH_MEMORY[policy]
    jobs = _stream(seed=seed, count=160, speeds=speeds)
    book, scheduler = book_for(_cluster(speeds), **args)
    book.graceful_stop = graceful
    lived = Driver(book, scheduler, {j.id: j.run_seconds(None) for j in jobs})
    rebuilt: Driver | None = None
    compared, same = 0, True
    for tick in range(0, 4000, 10):
        now = float(tick)
        arrivals = [j for j in jobs if now - 10 < j.submit_time <= now or j.submit_time == now == 0]
        want = lived.tick(now, arrivals, as_requests=False)
        if rebuilt is not None:
            got = rebuilt.tick(now, arrivals, as_requests=True)
            same = same and got == want and _commitments(rebuilt.book) == _commitments(book)
            compared += len(want)
        if tick == 1500:
            saved = Snapshot.from_dict(_as_json(book.snapshot().to_dict()))
            if not keep_memory:
                saved.arrivals, saved.policy_memory = None, {}
            fresh = book_for(_cluster(speeds), **args)[1]
            again = SchedulerBook.rebuild(
                ClusterState(_cluster(speeds)),
                fresh.order,
                saved,
                SiteCatalog([]),
                TenantBook(),
                graceful_stop=graceful,
                now=now,
            )
            rebuilt = lived.restarted(again, fresh)
    if keep_memory:
        assert rebuilt is not None
        end = lived.book.snapshot(), rebuilt.book.snapshot()
        assert _as_json(end[0].policy_memory) == _as_json(end[1].policy_memory)
        assert end[0].arrivals == end[1].arrivals
    return compared, same


@pytest.mark.parametrize("policy", sorted(WITH_MEMORY))
@pytest.mark.parametrize("graceful", [False, True], ids=["instant-stops", "graceful-stops"])
def test_a_book_rebuilt_mid_run_keeps_each_policys_memory(policy: str, graceful: bool) -> None:
    compared, same = _run(policy, graceful)
    assert same, f"{policy}: the rebuilt book decided differently"
    assert compared > 30  # the comparison saw real work after the rebuild


# (fgd is left out: on these streams a target re-derived from the live jobs happens to give
# the same choices; the test above still compares its memory at the end. silk's stream is
# another seed for the same reason: on seeds 1-11 its re-derived target decides alike.)
@pytest.mark.parametrize(
    "policy, seed", [("silk", 12), ("gpuclustering", 11), ("random", 11), ("gavel-mmf", 11)]
)
def test_without_its_memory_a_rebuilt_book_decides_differently(policy: str, seed: int) -> None:
    # The test above can fail: this stream needs the memory to come back the same.
    assert _run(policy, graceful=False, seed=seed)[1]
    assert not _run(policy, graceful=False, keep_memory=False, seed=seed)[1]


def test_the_learnt_target_counts_each_arrival_once_whatever_the_steps() -> None:
    shapes = ArrivalShapes()
    busy, idle = book_for(nodes(1, gpus=1), placement="fgd+"), book_for(nodes(1, gpus=8))
    for (book, scheduler), steps in ((busy, 20), (idle, 1)):
        for i in range(5):
            book.submit(job(f"j{i}").gpus(0.5 if i % 2 else 1).workers(1 + i % 2).build())
        for now in range(steps):  # the one-GPU cluster re-scores the waiting jobs every step
            book.commit(scheduler.step(book, float(now)), float(now))
    for i in range(5):
        shapes.arrived(job("x").gpus(0.5 if i % 2 else 1).build().demand, 1 + i % 2)
    assert busy[0].arrivals.to_dict() == idle[0].arrivals.to_dict() == shapes.to_dict()
    assert busy[0].arrivals.tasks == 7  # gangs count each worker: 1 + 2 + 1 + 2 + 1


@pytest.mark.parametrize("policy", ["random", "gpuclustering", "silk"])
def test_what_if_placements_leave_policy_memory_as_it_was(policy: str) -> None:
    book, scheduler = book_for(nodes(2, gpus=8), placement=f"{policy}+")
    for i in range(4):
        book.submit(job(f"r{i}").gpus(0.5 if i % 2 else 4).runs(100.0, limit=100.0).build())
    book.commit(scheduler.step(book, 0.0), 0.0)
    big = job("big").gpus(8).workers(2).build()
    book.submit(big)
    before = _as_json(book.snapshot().to_dict())
    # EASY's reservation: placements on the cluster as it will be once running jobs end.
    reservation = reservation_for(scheduler.placement, book, big, [0], 1.0)
    assert reservation.start_time == 100.0 and big.phase is JobPhase.PENDING
    assert _as_json(book.snapshot().to_dict()) == before


def test_memory_of_a_kind_not_imported_is_kept_and_saved_again() -> None:
    book, scheduler = book_for(nodes(1, gpus=8), placement="random+")
    book.submit(job("a").gpus(1).build())
    book.commit(scheduler.step(book, 0.0), 0.0)
    saved = _as_json(book.snapshot().to_dict())
    saved["policy_memory"]["someone-elses"] = {"kind": "not-imported", "data": {"x": [1, 2]}}
    again = SchedulerBook.rebuild(
        ClusterState(nodes(1, gpus=8)), scheduler.order, Snapshot.from_dict(saved)
    )
    assert _as_json(again.snapshot().to_dict())["policy_memory"] == saved["policy_memory"]


def test_arrival_shapes_stay_bounded_and_round_trip() -> None:
    shapes = ArrivalShapes()
    for cpu in range(1, 10_050):  # more distinct shapes than it keeps
        shapes.arrived(job("x").cpu(cpu / 1000).build().demand, 1 + (cpu % 3 == 0))
    assert len(shapes.counts) <= 10_000
    again = ArrivalShapes.from_dict(_as_json(shapes.to_dict()))
    assert again.to_dict() == shapes.to_dict()
    target, restored = shapes.target(), again.target()
    assert target is not None and restored is not None
    assert target.shapes == restored.shapes and target.weight.tolist() == restored.weight.tolist()
