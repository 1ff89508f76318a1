"""EASY backfill: small jobs jump ahead only when the blocked head's start is not delayed."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from silkroute.scheduler.decisions import Decision, Hold, Start
from silkroute.scheduler.job import Job
from silkroute.sim.engine import Simulator
from tests.builders import book_for, job, nodes


def _head_blocked_by(long_limit: float) -> tuple[list[Job], Job]:
    running = job("running").gpus(6).runs(100.0, limit=100.0).build()
    head = job("head").gpus(8).at(1.0).runs(50.0, limit=50.0).build()
    small = job("small").gpus(2).at(2.0).runs(long_limit, limit=long_limit).build()
    return [running, head, small], small


def test_short_job_backfills_without_delaying_head() -> None:
    book, scheduler = book_for(nodes(1, gpus=8))
    jobs, small = _head_blocked_by(50.0)
    Simulator(book, scheduler, jobs).run("easy")
    head = jobs[1]
    assert small.first_start_time == 2.0, "fits before the head's reservation: backfilled"
    assert head.first_start_time == 100.0


def test_long_job_may_not_backfill_onto_reserved_nodes() -> None:
    book, scheduler = book_for(nodes(1, gpus=8))
    jobs, small = _head_blocked_by(500.0)
    holds: list[Hold] = []
    Simulator(book, scheduler, jobs).run(
        "easy",
        observer=lambda _, ds: holds.extend(
            d for d in ds if isinstance(d, Hold) and d.job_id == small.id
        ),
    )
    assert jobs[1].first_start_time == 100.0
    assert small.first_start_time == 150.0
    assert holds and holds[0].reason == "reserved"


def test_a_head_reserved_behind_a_job_without_limit_is_protected_once_that_job_ends() -> None:
    # While `unlimited` runs, the head has no finite start (a reservation at infinity, which
    # every job "ends before"). Once it ends early, the head's start is `limited`'s end: a
    # long job arriving then may not take the room the head needs (it did while the head's
    # first reservation was reused until the head started).
    unlimited = job("unlimited").gpus(4).runs(100.0).build()
    limited = job("limited").gpus(4).runs(1000.0, limit=1000.0).build()
    head = job("head").gpus(8).at(1.0).runs(50.0, limit=50.0).build()
    late = job("late").gpus(4).at(150.0).runs(5000.0, limit=5000.0).build()
    book, scheduler = book_for(nodes(1, gpus=8))
    Simulator(book, scheduler, [unlimited, limited, head, late]).run("easy")
    assert head.first_start_time == 1000.0
    assert late.first_start_time == 1050.0


def test_strict_order_does_not_backfill() -> None:
    book, scheduler = book_for(nodes(1, gpus=8), backfill="none")
    jobs, small = _head_blocked_by(50.0)
    Simulator(book, scheduler, jobs).run("strict")
    assert small.first_start_time == 150.0


@settings(max_examples=60, deadline=None)
@given(
    shapes=st.lists(
        st.tuples(
            st.sampled_from([1, 2, 4, 8]),  # gpus per worker
            st.integers(1, 3),  # workers
            st.sampled_from([5.0, 20.0, 60.0, 200.0]),  # run time
            st.sampled_from([1.0, 1.0, 1.5]),  # limit / run time (users over-estimate)
            st.sampled_from([0.0, 1.0, 10.0]),  # gap before arrival
        ),
        min_size=2,
        max_size=25,
    )
)
def test_easy_never_delays_the_head_reservation(
    shapes: list[tuple[int, int, float, float, float]],
) -> None:
    book, scheduler = book_for(nodes(3, gpus=8), order="fifo", backfill="easy", preemption="none")
    t = 0.0
    jobs = []
    for i, (g, w, run, over, gap) in enumerate(shapes):
        t += gap
        jobs.append(job(f"j{i}").gpus(g).workers(w).at(t).runs(run, limit=run * over).build())
    promised: dict[int, float] = {}

    def watch(now: float, _: list[Decision]) -> None:
        r = book.reservation
        if r is not None and math.isfinite(r.start_time):
            promised.setdefault(r.job_id, r.start_time)

    Simulator(book, scheduler, jobs).run("easy", observer=watch)
    by_id = {j.id: j for j in jobs}
    for job_id, start_by in promised.items():
        started = by_id[job_id].first_start_time
        assert started is not None and started <= start_by + 1e-9, (job_id, started, start_by)


def test_backfilled_start_is_marked() -> None:
    book, scheduler = book_for(nodes(1, gpus=8))
    jobs, small = _head_blocked_by(50.0)
    seen: list[Start] = []
    Simulator(book, scheduler, jobs).run(
        "easy", observer=lambda _, ds: seen.extend(d for d in ds if isinstance(d, Start))
    )
    assert [s.backfilled for s in seen if s.job_id == small.id] == [True]
