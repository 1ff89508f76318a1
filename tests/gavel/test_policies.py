"""Heterogeneity-aware rounds end to end on a tiny three-type cluster."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from silkroute.scheduler.book import SchedulerBook
from silkroute.scheduler.policies.base import Context, Planned, RoundPolicy
from silkroute.scheduler.policies.rounds_gavel_mmf import max_min_allocation
from silkroute.scheduler.registry import make_scheduler
from silkroute.scheduler.state import ClusterState
from silkroute.sim.engine import Simulator
from silkroute.sim.metrics import heterogeneity_metrics
from silkroute.sim.runner import PolicySpec, run_policy
from silkroute.sim.truth import SimJob
from silkroute.sim.workloads import Workload
from tests.builders import job

from .conftest import tiny_nodes, tiny_workload


def _job(job_id: int, submit: float, durations: dict[str, float], workers: int = 1) -> SimJob:
    fastest = min(durations.values())
    speed = {t: fastest / d for t, d in durations.items()}  # the profile
    built = job(f"j{job_id}").gavel(speed, durations).set(id=job_id).workers(workers).at(submit)
    return built.build()


class _K80ThenV100(RoundPolicy):
    """First round on K80, then V100: forces one move between types."""

    def plan(self, book: SchedulerBook, ctx: Context) -> list[Planned]:
        jobs = book.pending.jobs() + list(book.running.values())
        return [Planned(j, ("K80",) if ctx.now < self.round_s else ("V100",)) for j in jobs]


def test_job_moved_between_types_continues_from_its_progress() -> None:
    scheduler = make_scheduler("fifo", "packing", backfill="none")
    scheduler.rounds = _K80ThenV100(360.0)
    cluster = ClusterState(tiny_nodes(1))
    book = SchedulerBook(cluster, scheduler.order)
    job = _job(0, 0.0, {"V100": 1000.0, "K80": 4000.0})
    Simulator(book, scheduler, [job]).run("move")
    # 360 s on K80 do 9% of the work; the other 91% take 910 s on a V100.
    assert job.end_time == pytest.approx(360.0 + 910.0)
    assert (job.preemptions, job.lost_gpu_s, job.ran_on) == (1, 0.0, "V100")


def test_max_min_allocation_gives_fast_type_to_the_job_that_gains_most() -> None:
    fast_gain = _job(0, 0, {"V100": 100.0, "K80": 1000.0})  # 10x faster on V100
    small_gain = _job(1, 0, {"V100": 100.0, "K80": 200.0})  # 2x
    alloc = max_min_allocation([fast_gain, small_gain], ["V100", "K80"], {"V100": 1, "K80": 1})
    assert alloc[0]["V100"] > alloc[1]["V100"]
    assert alloc[1]["K80"] > alloc[0]["K80"]
    for t in ("V100", "K80"):
        assert alloc[0][t] + alloc[1][t] <= 1 + 1e-6
    assert all(sum(a.values()) <= 1 + 1e-6 for a in alloc.values())


def test_rho_and_slowdown_for_a_job_alone() -> None:
    job = _job(0, 0.0, {"V100": 100.0, "P100": 200.0, "K80": 400.0})
    job.start_time, job.end_time = 0.0, 150.0
    got = heterogeneity_metrics([job], {"V100": 1, "P100": 1, "K80": 1})
    # Alone (n = 1): a third of the time on each type, rate 1/3 (1/100 + 1/200 + 1/400).
    isolated = 1 / ((1 / 100 + 1 / 200 + 1 / 400) / 3)
    assert got["rho_max"] == pytest.approx(150.0 / isolated)
    assert got["mean_slowdown"] == pytest.approx(1.5)
    assert got["utilisation"] == pytest.approx(150.0 / (3 * 150.0))


def _tiny_workload(tmp_path: Path) -> Workload:
    return tiny_workload(tmp_path, "tiny", 24, wide_every=5, steps=20_000, gap_s=120.0, per_type=2)


@pytest.mark.parametrize("policy", ["fifo:none", "gavel-mmf", "hetero-las", "hetero-las@120"])
def test_every_policy_finishes_every_job(tmp_path: Path, policy: str) -> None:
    workload = _tiny_workload(tmp_path)
    result = run_policy(workload, PolicySpec.parse(policy))
    metrics = result.metrics
    assert metrics["jobs_completed"] == len(workload.jobs)
    assert metrics["gpu_hours_lost_to_preemption"] == 0.0  # rounds checkpoint at the boundary
    assert 0 < metrics["utilisation"] <= 1
    assert metrics["mean_slowdown"] >= 1 - 1e-9
    assert math.isfinite(metrics["rho_max"])


def test_heterogeneity_aware_beats_fifo_on_the_tiny_trace(tmp_path: Path) -> None:
    workload = _tiny_workload(tmp_path)
    jct = {
        p: run_policy(workload, PolicySpec.parse(p)).metrics["mean_jct_s"]
        for p in ("fifo:none", "hetero-las")
    }
    assert jct["hetero-las"] < jct["fifo:none"]


def test_unknown_round_policy_lists_valid_ones() -> None:
    with pytest.raises(ValueError, match="gavel-mmf"):
        PolicySpec.parse("fifo:none:packing:nope")
