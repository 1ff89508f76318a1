"""`benchmarks.gavel_bound`: the capacity-aware lower bound on average JCT, checked by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from benchmarks.gavel_bound import srpt_fm_total_s, window_bound_s
from benchmarks.gavel_lagrange import lagrangian_bound_s, prices_from_lp
from benchmarks.gavel_lp_bound import certified_bound, lp_bound_s, lp_solve
from silkroute.sim.runner import PolicySpec, run_policy
from silkroute.sim.truth import SimJob
from silkroute.sim.workloads import Workload
from tests.builders import job

from .conftest import TYPES, tiny_workload

HOUR_S = 3600.0


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


# ---- the time-indexed LP bound (benchmarks.gavel_lp_bound) ---------------------------------

V100_K80 = {"V100": 1.0, "K80": 0.25}
RUN_TIMES = {"V100": 1000.0, "K80": 4000.0}


def _gang(
    name: str, workers: int = 1, speed: dict[str, float] | None = None, run_s: float = 1000.0
) -> SimJob:
    speed = speed or {"V100": 1.0}
    durations = {t: run_s / s for t, s in speed.items()}
    return job(name).gavel(speed, durations).workers(workers).at(0.0).build()


def test_a_job_alone_is_bounded_by_its_run_time_exactly() -> None:
    # The tail row at its arrival: C >= r + wall time run >= r + work = 1,000 s.
    assert lp_bound_s([_gang("a")], {"V100": 1}, bucket_s=100.0) == pytest.approx(1000.0)


def test_buckets_as_long_as_the_jobs_split_both_in_halves_by_hand() -> None:
    # Two 1,000 s jobs, one V100, 1,000 s buckets. The LP's best: half of each job in each
    # bucket; mean busy time (0 x 500 + 500^2 / 2 + 1,000 x 500 + 500^2 / 2) / 1,000 = 750 s,
    # so C >= 750 + 500 each: 2,500 s, below the true 3,000 s (the price of coarse buckets).
    # No split does better: the work in bucket 1 is >= 1,000 s and each bucket's w^2 / 2 terms
    # are least at four equal halves, so sum M >= (1,000 x 1,000 + 4 x 125,000) / 1,000.
    jobs = [_gang("a"), _gang("b")]
    assert lp_bound_s(jobs, {"V100": 1}, bucket_s=1000.0) == pytest.approx(2500.0)


@pytest.mark.parametrize(
    ("case", "jobs", "capacity", "best_s", "at_least_s"),
    [
        # The first ends at 1,000 s, the second waits for the V100 (2,000 s) or crawls on the
        # K80 (4,000 s): 3,000 s. Without capacity the bound would be 2,000 s.
        (
            "a second job waits for the V100 or crawls on the K80",
            [_gang("a", speed=V100_K80), _gang("b", speed=V100_K80)],
            {"V100": 1, "K80": 1},
            3000.0,
            2500.0,
        ),
        # Two 4-GPU gangs on 4 V100s run one after the other: 1,000 + 2,000 s. A relaxation
        # that seats a gang on one accelerator (gavel_bound) runs both at once: 2,000 s.
        (
            "two 4-GPU gangs on four V100s queue",
            [_gang("a", 4), _gang("b", 4)],
            {"V100": 4},
            3000.0,
            2900.0,
        ),
    ],
)
def test_the_lp_bound_counts_capacity_per_type_and_gang_width(
    case: str, jobs: list[SimJob], capacity: dict[str, int], best_s: float, at_least_s: float
) -> None:
    bound = lp_bound_s(jobs, capacity, bucket_s=100.0)
    assert at_least_s <= bound <= best_s + 1e-6, case


def _loaded_workload(tmp_path: Path) -> Workload:
    return tiny_workload(tmp_path, "loaded", 30, wide_every=4, steps=10_000, gap_s=60.0, per_type=2)


def test_no_policy_beats_the_lp_bound_on_a_loaded_tiny_trace(tmp_path: Path) -> None:
    workload = _loaded_workload(tmp_path)
    no_wait = sum(min((j.duration_s or {}).values()) for j in workload.jobs)
    bound = lp_bound_s(workload.jobs, dict.fromkeys(TYPES, 2), bucket_s=120.0, horizon=(4.0, 0.0))
    assert bound > 1.2 * no_wait  # 30 jobs on 6 accelerators queue: the bound sees it
    for policy in ("fifo:none:packing+", "fifo:none", "gavel-mmf", "hetero-srtf-swap"):
        result = run_policy(_loaded_workload(tmp_path), PolicySpec.parse(policy))
        assert result.metrics["mean_jct_s"] * len(workload.jobs) >= bound, policy


# ---- the certificate: weak duality from any multipliers ------------------------------------

# min x1 + 2 x2 subject to x1 + x2 >= 1 (written -x1 - x2 <= -1), 0 <= x <= 10: optimum 1.
_COST = np.array([1.0, 2.0])
_AT_MOST = csr_matrix(np.array([[-1.0, -1.0]]))
_NO_EQUALITIES = csr_matrix((0, 2))
_MOST = np.array([10.0, 10.0])


@pytest.mark.parametrize(
    ("case", "multiplier", "expected"),
    [
        # lam = -1: reduced costs (0, 1) >= 0, so the bound is lam x b = 1, the optimum.
        ("the optimal multiplier proves the optimum", -1.0, 1.0),
        # lam = -0.5: reduced costs (0.5, 1.5), bound 0.5: valid, weaker.
        ("a smaller multiplier proves less", -0.5, 0.5),
        # lam = -1.5: reduced costs (-0.5, 0.5); x1 may be 10, so 1.5 - 0.5 x 10 = -3.5.
        ("a multiplier past the optimum pays for the negative reduced cost", -1.5, -3.5),
        # lam = +0.3 has the wrong sign for a <= row: clipped to 0, which proves 0.
        ("a multiplier of the wrong sign is clipped", 0.3, 0.0),
    ],
)
def test_the_certificate_holds_for_any_multiplier_by_hand(
    case: str, multiplier: float, expected: float
) -> None:
    bound = certified_bound(
        _COST,
        (_AT_MOST, np.array([-1.0]), np.array([multiplier])),
        (_NO_EQUALITIES, np.zeros(0), np.zeros(0)),
        _MOST,
    )
    assert bound == pytest.approx(expected), case


def test_interior_point_without_crossover_certifies_the_same_bound(tmp_path: Path) -> None:
    workload = _loaded_workload(tmp_path)
    capacity = dict.fromkeys(TYPES, 2)
    exact = lp_bound_s(workload.jobs, capacity, bucket_s=120.0, horizon=(4.0, 0.0))
    fast = lp_bound_s(workload.jobs, capacity, bucket_s=120.0, horizon=(4.0, 0.0), crossover=False)
    assert fast <= exact + 1e-6 * exact  # a certificate never claims more than the optimum
    assert fast == pytest.approx(exact, rel=1e-4)


# ---- the Lagrangian bound (benchmarks.gavel_lagrange) ---------------------------------------


def test_without_prices_the_lagrangian_bound_is_every_job_alone_on_its_fastest_type() -> None:
    jobs = [_gang("a"), _gang("b", 4), _gang("c", speed=V100_K80)]
    bound = lagrangian_bound_s(jobs, {"V100": 1, "K80": 1}, bucket_s=600.0)
    assert bound.total_s == pytest.approx(3000.0)  # three 1,000 s jobs, capacity ignored


def test_priced_capacity_charges_the_job_that_must_wait_by_hand() -> None:
    # Three 1-hour jobs at 0 on two V100s: the best schedule ends at 1, 1 and 2 h (4 h). The
    # LP charges them 3.25 h (each runs 2/3 of the first 1.5 h, fluid). With 1-hour buckets
    # and a price of 1 per V100-hour in the first hour: running in hour 0 costs 1 (time) + 1
    # (price) per hour of work, waiting for hour 1 costs 1 + 1 (time); so every job pays 2,
    # and 3 x 2 - 1 x 2 V100-hours = 4 h: the optimum, proven.
    jobs = [_gang(name, speed={"V100": 1.0}, run_s=3600.0) for name in "abc"]
    capacity = {"V100": 2}
    prices = np.zeros((1, 1))
    prices[0, 0] = 1.0
    bound = lagrangian_bound_s(jobs, capacity, bucket_s=3600.0, prices=prices)
    assert bound.total_s == pytest.approx(4 * 3600.0)
    assert lp_bound_s(jobs, capacity, bucket_s=3600.0) == pytest.approx(3.25 * 3600.0)


def test_the_lagrangian_bound_starts_from_the_lp_and_no_policy_beats_it(tmp_path: Path) -> None:
    workload = _loaded_workload(tmp_path)
    capacity = dict.fromkeys(TYPES, 2)
    lp = lp_solve(workload.jobs, capacity, bucket_s=120.0, horizon=(4.0, 0.0))
    prices = prices_from_lp(lp.prices, list(capacity))
    bound = lagrangian_bound_s(
        workload.jobs, capacity, bucket_s=120.0, prices=prices, iterations=10
    ).total_s
    assert bound >= lp.total_s - 1e-6 * lp.total_s  # each job's exact cost >= its LP rows
    for policy in ("fifo:none:packing+", "fifo:none", "gavel-mmf", "hetero-srtf-swap"):
        result = run_policy(_loaded_workload(tmp_path), PolicySpec.parse(policy))
        assert result.metrics["mean_jct_s"] * len(workload.jobs) >= bound, policy


def _one_job_by_lp(
    release: float, work: float, width: int, speeds: list[float], prices: np.ndarray
) -> float:
    """phi_j of one job, in hours, by an LP per hour it could end in (the reference)."""
    kinds, hours = prices.shape
    best = hours - release  # ending after the priced grid costs at least its end
    for last in range(math.floor(release), hours):
        opens = [max(float(b), release) for b in range(last + 1)]
        caps = [max(0.0, b + 1 - opens[b]) for b in range(last + 1)]
        cost = [
            prices[k, b] * width + (1.0 if b == last else 0.0)
            for b in range(last + 1)
            for k in range(kinds)
        ]
        one_type = np.zeros((last + 1, kinds * (last + 1)))
        for b in range(last + 1):
            one_type[b, b * kinds : (b + 1) * kinds] = 1.0
        done = np.asarray([[speeds[k] for _ in range(last + 1) for k in range(kinds)]])
        solved = linprog(cost, A_ub=one_type, b_ub=caps, A_eq=done, b_eq=[work], bounds=(0, None))
        if solved.status == 0:
            best = min(best, opens[last] - release + solved.fun)
    return best


@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5, 6])
def test_each_jobs_exact_cost_matches_an_lp_over_its_own_schedules(seed: int) -> None:
    # Two jobs (one arriving inside an hour, of width 1 or 2), random prices on a 6-hour grid
    # with two accelerators per type: the bound plus the prices of the whole capacity is
    # phi_1 + phi_2, and each phi_j must equal the reference LP's.
    rng = np.random.default_rng(seed)
    speeds = {
        "V100": 1.0,
        "P100": float(rng.uniform(0.3, 1.0)),
        "K80": float(rng.uniform(0.1, 0.6)),
    }
    prices = rng.uniform(0.0, 2.0, size=(3, 6)) * (rng.uniform(size=(3, 6)) < 0.7)
    jobs = []
    reference = 0.0
    for name, release_h, width in (
        ("first", 0.0, 1),
        ("second", rng.uniform(0.2, 1.8), 1 + seed % 2),
    ):
        work_h = float(rng.uniform(0.5, 2.5))
        durations = {t: work_h * HOUR_S / s for t, s in speeds.items()}
        sim = job(name).gavel(speeds, durations).workers(width).at(release_h * HOUR_S).build()
        jobs.append(sim)
        reference += _one_job_by_lp(release_h, work_h, width, list(speeds.values()), prices)
    capacity = dict.fromkeys(speeds, 2)
    bound = lagrangian_bound_s(
        jobs, capacity, bucket_s=HOUR_S, prices=prices, grid_end_s=6 * HOUR_S
    )
    phi_h = bound.total_s / HOUR_S + 2 * float(bound.prices.sum())
    assert phi_h == pytest.approx(reference, rel=1e-7, abs=1e-7)
