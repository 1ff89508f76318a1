"""`hetero-srtf-swap` on hand-checked rounds: the deal, then swaps that raise speed / owed."""

from __future__ import annotations

import pytest

from silkroute.model.workload import JobRequest
from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.policies.base import Context, RoundPolicy
from silkroute.scheduler.policies.order_fifo import FifoOrder
from silkroute.scheduler.policies.rounds_hetero_srtf import HeteroSrtfRounds
from silkroute.scheduler.policies.rounds_hetero_srtf_swap import HeteroSrtfSwapRounds
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.scheduler.tenants import TenantBook
from tests.builders import job


def _request(job_id: int, k80_speed: float, work_s: float) -> JobRequest:
    # The limit is wall time on the slowest type (the K80): work on the V100 / K80 speed.
    return (
        job(f"j{job_id}")
        .gavel({"V100": 1.0, "K80": k80_speed})
        .set(id=job_id, time_limit_s=work_s / k80_speed)
        .request()
    )


def _plan(policy: RoundPolicy, jobs: list[JobRequest]) -> dict[str, str]:
    nodes = [NodeInfo("v100-0", "lab", "V100", 1, 8000, 65536)]
    nodes.append(NodeInfo("k80-0", "lab", "K80", 1, 8000, 65536))
    book = SchedulerBook(ClusterState(nodes), FifoOrder())
    for request in jobs:
        book.submit(request)
    ctx = Context(book.cluster, SiteCatalog([]), TenantBook(), 0.0)
    return {p.job.name: ",".join(p.accelerator_types or ()) for p in policy.plan(book, ctx)}


@pytest.mark.parametrize(
    ("case", "jobs", "srtf", "swap"),
    [
        # Both owe 1,000 s (band 512): the V100 pairs tie, so the deal gives it to j1 (earlier
        # id) and leaves j2 at 0.1x on the K80. Swapping gains (1 - 0.1) / 512 - (1 - 0.9) / 512
        # > 0: j2 takes the V100, j1 runs 0.9x on the K80.
        (
            "equal debts: the job that crawls on the K80 gets the V100",
            [_request(1, 0.9, 1000.0), _request(2, 0.1, 1000.0)],
            {"j1": "V100", "j2": "K80"},
            {"j1": "K80", "j2": "V100"},
        ),
        # j1 owes 1,000 s (band 512), j2 5,000 s (band 4,096). Advantage of the V100: j1
        # (1 - 0.5) / 512 = 0.00098, j2 (1 - 0.1) / 4096 = 0.00022: no swap, the job that owes
        # less keeps the V100 although j2 would lose more on the K80.
        (
            "a much shorter job keeps the V100",
            [_request(1, 0.5, 1000.0), _request(2, 0.1, 5000.0)],
            {"j1": "V100", "j2": "K80"},
            {"j1": "V100", "j2": "K80"},
        ),
    ],
)
def test_the_swap_reseats_jobs_only_when_speed_over_owed_grows(
    case: str, jobs: list[JobRequest], srtf: dict[str, str], swap: dict[str, str]
) -> None:
    assert _plan(HeteroSrtfRounds(), jobs) == srtf, case
    assert _plan(HeteroSrtfSwapRounds(), jobs) == swap, case
