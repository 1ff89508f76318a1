"""`benchmarks.gavel_excess`: a job's JCT above its fastest run time, split by cause."""

from __future__ import annotations

import pytest

from benchmarks.gavel_excess import job_excess
from tests.builders import job

# Fastest type V100 (1,000 s alone there); a K80 runs it 4x slower (4,000 s).
DURATIONS = {"V100": 1000.0, "K80": 4000.0}


@pytest.mark.parametrize(
    ("case", "first_start", "end", "elapsed", "expected"),
    [
        (
            "a job that ran alone on its fastest type from arrival has none",
            0.0,
            1000.0,
            {"V100": 1000.0},
            (0.0, 0.0, 0.0),
        ),
        (
            "waiting 500 s for its first start is all first wait",
            500.0,
            1500.0,
            {"V100": 1000.0},
            (500.0, 0.0, 0.0),
        ),
        # Half its work on the K80 (2,000 s), suspended 300 s, the other half on a V100
        # (500 s): it ran 2,500 s for 1,000 s of fastest-type work, and waited 300 s between.
        (
            "a half on the K80, a pause, a half on the V100",
            0.0,
            2800.0,
            {"K80": 2000.0, "V100": 500.0},
            (0.0, 300.0, 1500.0),
        ),
    ],
)
def test_excess_splits_into_first_wait_later_wait_and_slower_type(
    case: str,
    first_start: float,
    end: float,
    elapsed: dict[str, float],
    expected: tuple[float, float, float],
) -> None:
    sim = job("j").gavel({"V100": 1.0, "K80": 0.25}, DURATIONS).build()
    sim.submit_time = 0.0
    sim.first_start_time = first_start
    sim.end_time = end
    sim.elapsed_s = elapsed
    parts = job_excess(sim)
    assert (parts.first_wait_s, parts.later_wait_s, parts.slower_type_s) == expected, case
    assert parts.total_s == end - 1000.0, case
