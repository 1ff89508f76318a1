"""No policy reads a job's true run time: every one runs on jobs that do not carry it.

The scheduler's `Job` has no run time at all (the simulator's `SimJob` adds it), so a policy
that reached for one would fail here with an AttributeError.
"""

from __future__ import annotations

import pytest

from silkroute.model.job import JobKind
from silkroute.model.workload import MILLI, Demand, JobPhase, JobRequest
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.registry import NODE_SCORERS, POOL_SCORERS, PRESETS, make_scheduler
from silkroute.scheduler.state import ClusterState
from tests.builders import nodes

TYPES = {"V100": 1.0, "P100": 0.5, "K80": 0.25}


def _requests(count: int) -> list[JobRequest]:
    return [
        JobRequest(
            id=i,
            name=f"j{i}",
            tenant=f"t{i % 3}",
            kind=JobKind.TRAIN,
            workers=1 + i % 2,
            demand=Demand(1, MILLI if i % 3 else 500, 1000, 1024),
            accelerator_types=tuple(TYPES),
            speed=dict(TYPES),  # what a live system knows: relative speed per type
            priority=0 if i % 4 == 0 else 200,
            preemptible=i % 4 == 0,
            checkpoint_interval_s=None,
            time_limit_s=600.0 if i % 2 else None,  # the users' estimates
            submit_time=float(10 * i),
        )
        for i in range(count)
    ]


def _run(**policy: str | None) -> int:
    """Drive a scheduler over jobs without run times; a job ends 900 s after it starts."""
    scheduler = make_scheduler(**policy)  # type: ignore[arg-type]
    cluster = nodes(2, gpus=2, accel="V100") + nodes(2, gpus=2, accel="K80", site="s2")
    book = SchedulerBook(ClusterState(cluster), scheduler.order)
    requests = _requests(24)
    finished = 0
    for tick in range(0, 6000, 60):
        now = float(tick)
        for job in sorted(book.running.values(), key=lambda j: j.id):
            if job.start_time is not None and now - job.start_time >= 900.0:
                book.finish(job.id, now)
                finished += 1
        for request in requests:
            if now - 60 < request.submit_time <= now or request.submit_time == now == 0:
                book.submit(request)
        book.commit(scheduler.step(book, now), now)
    assert all(j.phase is not JobPhase.FAILED for j in book.jobs())
    return finished


POLICIES = [
    *[{"order": order} for order in ("fifo", "priority", "fairshare", "las", "speed-las")],
    *[{"placement": f"{node}+speed"} for node in sorted(NODE_SCORERS)],
    *[{"placement": f"packing+{pool}"} for pool in sorted(POOL_SCORERS)],
    *[
        dict(zip(("order", "backfill", "placement", "rounds"), preset.split(":"), strict=True))
        for preset in PRESETS.values()
    ],
]


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: ":".join(str(v) for v in p.values()))
def test_every_policy_runs_without_knowing_how_long_jobs_take(policy: dict[str, str]) -> None:
    assert _run(**policy) > 0
