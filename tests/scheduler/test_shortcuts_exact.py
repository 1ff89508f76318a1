"""The hot-loop short-cuts (skip keys, no-room checks on released nodes) are optimisations
only: with them switched off, every job starts at the same time on the same run."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkroute.scheduler import core
from silkroute.scheduler.decisions import Hold
from silkroute.scheduler.job import Job
from silkroute.scheduler.state import NodeInfo
from silkroute.sim.engine import Simulator
from tests.builders import book_for, job, nodes
from tests.scheduler.test_properties import QUOTAS, clusters, job_streams


@contextlib.contextmanager
def short_cuts_off() -> Iterator[None]:
    """The scheduler with every skip short-cut off: each job gets a full look every step."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(core, "still_no_room", lambda *args: False)
        fresh_keys = itertools.count()
        patch.setattr(core, "blocked_key", lambda *args: (next(fresh_keys), 0, 0, 0))
        yield


def _starts(
    cluster: list[NodeInfo], jobs: list[Job], order: str, backfill: str
) -> list[tuple[float | None, float | None, int]]:
    book, scheduler = book_for(cluster, tenants=QUOTAS, order=order, backfill=backfill)
    fresh = [j.fresh() for j in jobs]
    Simulator(book, scheduler, fresh).run("diff")
    return [(j.first_start_time, j.end_time, j.preemptions) for j in fresh]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cluster=clusters(),
    jobs=job_streams(),
    order=st.sampled_from(["fifo", "priority", "fairshare", "las"]),
    backfill=st.sampled_from(["easy", "greedy", "none"]),
)
def test_short_cuts_do_not_change_decisions(
    cluster: list[NodeInfo], jobs: list[Job], order: str, backfill: str
) -> None:
    fast = _starts(cluster, jobs, order, backfill)
    with short_cuts_off():
        slow = _starts(cluster, jobs, order, backfill)
    assert fast == slow


def _slow_starts(
    cluster: list[NodeInfo], jobs: list[Job], order: str, backfill: str
) -> list[tuple[float | None, float | None, int]]:
    with short_cuts_off():
        return _starts(cluster, jobs, order, backfill)


def test_a_head_whose_tenant_went_over_quota_since_is_looked_at_again() -> None:
    # The counter-example the property test once found (docs/scheduler.md), by hand. `head`
    # waits for room and becomes EASY's head; `backfilled`, of the same tenant, then starts
    # past it, so `head` would now exceed t2's quota of 4 H100s. The next step must see that
    # (quota-exceeded: no longer the head, no reservation) and let `late` take the free GPU on
    # the node that was reserved. Before usage growth moved the tenant's version, the skip key
    # did not change, `head` kept its reservation and `late` waited 9 s for nothing.
    cluster = nodes(2, gpus=4)
    jobs = [
        job("x").set(id=0).gpus(3).runs(10.0).build(),
        job("y").set(id=1).gpus(3).runs(10.0).build(),
        job("head").set(id=2).gpus(4).tenant("t2").runs(10.0).build(),
        job("backfilled").set(id=3).gpus(1).tenant("t2").runs(10.0).build(),
        job("late").set(id=4).gpus(1).at(1.0).runs(10.0).build(),
    ]
    fast = _starts(cluster, jobs, "fifo", "easy")
    assert fast[3][0] == 0.0 and fast[4][0] == 1.0
    assert fast == _slow_starts(cluster, jobs, "fifo", "easy")


def _holds_of(
    cluster: list[NodeInfo], jobs: list[Job], watched: int, short_cuts: bool
) -> list[tuple[float, str]]:
    holds: list[tuple[float, str]] = []
    with contextlib.nullcontext() if short_cuts else short_cuts_off():
        book, scheduler = book_for(cluster, tenants=QUOTAS, order="fifo", backfill="easy")
        Simulator(book, scheduler, [j.fresh() for j in jobs]).run(
            "holds",
            observer=lambda now, ds: holds.extend(
                (now, d.reason) for d in ds if isinstance(d, Hold) and d.job_id == watched
            ),
        )
    return holds


def test_a_job_kept_off_the_reserved_nodes_by_time_alone_says_so_as_a_full_look_does() -> None:
    # `small` (limit 60 s) at t=2 ends before the head's reserved start (t=100), so it may use
    # the head's node, and waits for room. At t=50 it no longer ends in time: nothing it
    # counts in its skip key moved (`other` starts on another pool), but it is now kept off
    # the node, and its hold must say "reserved", as a full look says.
    cluster = nodes(1, gpus=8) + nodes(1, gpus=1, accel="A100")
    jobs = [
        job("running").set(id=0).gpus(6).runs(100.0, limit=100.0).build(),
        job("head").set(id=1).gpus(8).at(1.0).runs(50.0, limit=50.0).build(),
        job("small").set(id=2).gpus(4).at(2.0).runs(60.0, limit=60.0).build(),
        job("other").set(id=3).gpus(1).types("A100").at(50.0).runs(5.0).build(),
    ]
    fast = _holds_of(cluster, jobs, watched=2, short_cuts=True)
    assert fast == _holds_of(cluster, jobs, watched=2, short_cuts=False)
    assert (50.0, "reserved") in fast, fast
