"""`hetero-srtf` on hand-checked rounds: who runs, on which type, and why."""

from __future__ import annotations

import pytest

from silkroute.model.workload import JobRequest
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.policies.base import Context
from silkroute.scheduler.policies.order_fifo import FifoOrder
from silkroute.scheduler.policies.rounds_hetero_srtf import HeteroSrtfRounds, remaining_work_s
from silkroute.scheduler.registry import make_scheduler
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.scheduler.tenants import TenantBook
from tests.builders import job


def _request(
    job_id: int, speed: dict[str, float], limit_s: float | None, workers: int = 1
) -> JobRequest:
    # A scheduler request: relative speed per type and the user's time limit, no run time.
    return (
        job(f"j{job_id}")
        .gavel(speed)
        .set(id=job_id, time_limit_s=limit_s)
        .workers(workers)
        .request()
    )


def _book(per_type: dict[str, int]) -> SchedulerBook:
    nodes = [
        NodeInfo(f"{t.lower()}-{i}", "lab", t, 1, 8000, 65536)
        for t, count in per_type.items()
        for i in range(count)
    ]
    return SchedulerBook(ClusterState(nodes), FifoOrder())


def _plan(book: SchedulerBook, now: float = 0.0) -> dict[str, str]:
    ctx = Context(book.cluster, SiteCatalog([]), TenantBook(), now)
    return {
        p.job.name: ",".join(p.accelerator_types or ()) for p in HeteroSrtfRounds().plan(book, ctx)
    }


def test_the_shortest_job_gets_the_v100_and_the_k80_goes_to_whoever_loses_least_there() -> None:
    # One V100 and one K80. A limit is wall time on the slowest type (here the K80), so the
    # work on the fastest type is limit x K80 speed: j1 1,100 s, j2 2,250 s, j3 4,500 s
    # (bands of 1,024, 2,048 and 4,096 s). Score = speed / (band x GPUs):
    #   j1: V100 1/1024, K80 0.1/1024;  j2: V100 1/2048, K80 0.25/2048;  j3: 1/4096 on both.
    # j1 takes the V100. The K80 then goes to j3 (1/4096 > 0.25/2048 > 0.1/1024): j3 is the
    # longest, but runs as fast on a K80, while j2 would crawl there and waits for the V100.
    book = _book({"V100": 1, "K80": 1})
    book.submit(_request(1, {"V100": 1.0, "K80": 0.1}, limit_s=11000.0))
    book.submit(_request(2, {"V100": 1.0, "K80": 0.25}, limit_s=9000.0))
    book.submit(_request(3, {"V100": 1.0, "K80": 1.0}, limit_s=4500.0))
    assert _plan(book) == {"j1": "V100", "j3": "K80"}


def test_wide_jobs_are_ranked_by_accelerator_seconds_owed() -> None:
    # Two V100s. j1 owes 3,000 s on 2 GPUs (6,000 GPU-s); j2 and j3 owe 4,000 s on one each.
    book = _book({"V100": 2})
    book.submit(_request(1, {"V100": 1.0}, limit_s=3000.0, workers=2))
    book.submit(_request(2, {"V100": 1.0}, limit_s=4000.0))
    book.submit(_request(3, {"V100": 1.0}, limit_s=4000.0))
    assert _plan(book) == {"j2": "V100", "j3": "V100"}


@pytest.mark.parametrize(
    ("case", "limit_s", "elapsed_k80_s", "expected_s"),
    [
        ("a fresh job owes its whole limit in fastest-type seconds", 4000.0, 0.0, 1000.0),
        ("work done on the K80 counts at the K80's speed", 4000.0, 2000.0, 500.0),
        ("a job past its limit is expected to run as long again (LAS)", 4000.0, 6000.0, 1500.0),
        ("a job with no limit is ranked by work done alone (LAS)", None, 2000.0, 500.0),
    ],
)
def test_remaining_work_comes_from_the_limit_and_the_service_only(
    case: str, limit_s: float | None, elapsed_k80_s: float, expected_s: float
) -> None:
    book = _book({"V100": 1, "K80": 1})
    job = book.submit(_request(1, {"V100": 1.0, "K80": 0.25}, limit_s=limit_s))
    if elapsed_k80_s:
        job.elapsed_s = {"K80": elapsed_k80_s}
    assert remaining_work_s(job, 0.0, ["V100", "K80"]) == pytest.approx(expected_s), case


def test_the_preset_runs_jobs_that_carry_no_run_time_to_completion() -> None:
    scheduler = make_scheduler(
        order="speed-las", backfill="greedy", placement="packing+speed", rounds="hetero-srtf"
    )
    book = _book({"V100": 1, "K80": 1})
    speeds = {"V100": 1.0, "K80": 0.5}
    for i in range(4):
        book.submit(_request(i, speeds, limit_s=1000.0 * (4 - i)))
    started: set[int] = set()
    for tick in range(0, 3600 * 4, 360):
        now = float(tick)
        book.commit(scheduler.step(book, now), now)
        started |= set(book.running)
    # Scheduler jobs have no `duration_s`: the policy ran on limits and speeds alone.
    assert not any(hasattr(j, "duration_s") for j in book.jobs())
    assert started == {0, 1, 2, 3}
