"""`benchmarks.gavel_bound`: the capacity-aware lower bound on average JCT, checked by hand."""

from __future__ import annotations

import pytest

from benchmarks.gavel_bound import srpt_fm_total_s, window_bound_s
from silkroute.sim.truth import SimJob
from tests.builders import job


@pytest.mark.parametrize(
    ("case", "work_s", "speeds", "expected_s"),
    [
        ("one machine runs shortest first: 1, 3, 6", [3.0, 1.0, 2.0], [1.0], 10.0),
        ("two equal machines: 1 and 1 together, then 2", [1.0, 1.0, 1.0], [1.0, 1.0], 4.0),
        # Job 1 on the 2x machine ends at 0.5, job 2 ran 0.5 on the 1x one; job 2 (1.5 left)
        # moves to the 2x machine, ends at 1.25, while job 4 runs 0.75 on the 1x one; job 4
        # (3.25 left) at speed 2 ends at 2.875. Sum: 0.5 + 1.25 + 2.875.
        ("the shortest job takes the fastest machine", [4.0, 1.0, 2.0], [1.0, 2.0], 4.625),
        ("a machine of speed 0 adds nothing", [3.0, 1.0, 2.0], [1.0, 0.0], 10.0),
    ],
)
def test_srpt_on_the_fastest_machine_by_hand(
    case: str, work_s: list[float], speeds: list[float], expected_s: float
) -> None:
    assert srpt_fm_total_s(work_s, speeds) == pytest.approx(expected_s), case


def _v100_job(name: str, arrival_s: float) -> SimJob:
    return job(name).gavel({"V100": 1.0}, {"V100": 1000.0}).set(submit_time=arrival_s).build()


@pytest.mark.parametrize(
    ("case", "window_s", "expected_s"),
    [
        # One V100, two 1,000 s jobs arriving at 0 and 100 s: whatever the order, the second
        # to finish ends at 2,000 s; first 1,000 s + 1,900 s queueing and running is the best.
        ("in one window the second job queues behind the first", 3600.0, 2900.0),
        ("in separate windows each job counts only its own run time", 50.0, 2000.0),
    ],
)
def test_the_window_bound_counts_queueing_inside_a_burst(
    case: str, window_s: float, expected_s: float
) -> None:
    jobs = [_v100_job("a", 0.0), _v100_job("b", 100.0)]
    assert window_bound_s(jobs, per_type=1, window_s=window_s) == pytest.approx(expected_s), case
