"""The hot-loop short-cuts (skip keys, no-room checks on released nodes) are optimisations
only: with them switched off, every job starts at the same time on the same run."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from silkroute.scheduler import core
from silkroute.scheduler.job import Job
from silkroute.scheduler.state import NodeInfo
from silkroute.sim.engine import Simulator
from tests.builders import book_for
from tests.scheduler.test_properties import QUOTAS, clusters, job_streams


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
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(core, "still_no_room", lambda *args: False)
        fresh_keys = itertools.count()
        patch.setattr(core, "blocked_key", lambda *args: (next(fresh_keys), 0, 0, 0))
        slow = _starts(cluster, jobs, order, backfill)
    assert fast == slow
