"""A time-indexed LP lower bound on average JCT for the Gavel sweep, per type and gang width.

`gavel_bound`'s relaxation gives every accelerator of a type the best speed any job has on it
and lets a gang sit on one accelerator; it also forgets the backlog between arrival windows.
This bound keeps each job's own speed per type, a gang's full width, and the whole trace in
one problem. Time is cut into buckets of `bucket_s` from the first arrival (tau_b, the start
of bucket b). For a real schedule, let y[j,k,b] be the wall seconds job j runs on type k
during bucket b (after its arrival r_j), and C_j its completion. Every schedule the simulator
can produce (one type at a time, a g-GPU gang on g accelerators of one type, progress on type
k at rate s_jk = p_j / d_jk <= 1 of the fastest-type run time p_j; moves keep progress)
satisfies:

  (work)      sum_{k,b} s_jk y[j,k,b] + z_j = p_j, z_j the fastest-type work done after the
              job's horizon H_j (buckets are only made up to H_j, to keep the LP small);
  (capacity)  sum_j g_j y[j,k,b] <= N_k x |b|          (a gang holds g_j accelerators);
  (one type)  sum_k y[j,k,b] <= |b after r_j|           (a job runs on one type at a time);
  (tail)      C_j >= r_j + f_b (tau'_b - r_j) + W_b for every bucket b of the job, where
              tau'_b = max(tau_b, r_j), W_b = sum_{b' >= b, k} y[j,k,b'] + z_j bounds the wall
              time the job still runs from tau'_b on (the z_j work after H_j takes at least
              z_j seconds, rate <= 1), and f_b <= 1 is the fraction of its work done from
              tau'_b on. If f_b > 0 the job is not done at tau'_b and then runs W_b more:
              C_j >= tau'_b + W_b, which is at least the right-hand side; if f_b = 0, W_b = 0
              and it says C_j >= r_j;
  (overflow)  C_j >= H_j z_j / p_j + z_j: if z_j > 0 the job ends after H_j + z_j, and
              z_j / p_j <= 1; if z_j = 0 it says C_j >= 0;
  (mean busy) C_j >= M_j + p_j / 2 with M_j = (1/p_j) integral of t x rho_j(t) dt, rho_j <= 1
              the job's rate of fastest-type work: the latest M_j for a given C_j puts all
              work at rate 1 just before C_j, where M_j = C_j - p_j / 2. Within bucket b,
              work w = sum_k s_jk y[j,k,b] done at rate <= 1 from tau'_b on has
              integral t rho dt >= tau'_b w + w^2 / 2; w^2 / 2 is bounded below by its
              tangents at w = 0, L/2 and L (L the bucket's length after r_j), and the work
              z_j after H_j by H_j z_j.

Each constraint is a necessary condition, so the real (y, z, C) of any schedule is feasible and
min sum_j C_j - sum_j r_j over the LP is a lower bound on the sum of JCTs; a fluid relaxation
(fractional gangs, sharing inside a bucket) is all it drops. It does not need the horizon to be
right: a short horizon only makes the bound weaker. Solved with scipy's HiGHS.

The number reported is not the solver's objective but a certificate (`certified_bound`): the
real schedule's variables also lie in a box (y <= the bucket's span, W_b <= H_j - tau'_b,
f_b p_j and z_j <= p_j, the w^2 / 2 terms <= span^2 / 2, C_j <= r_j + T with T the LP's value
when every job runs after its horizon, which no bound here exceeds: a schedule with one JCT
above T is above the bound anyway), and for any multipliers of the right sign weak duality
with that box gives a lower bound, whether or not they are optimal. So an interior-point run
without crossover (`crossover=False`, much faster on the whole traces) proves as much as its
multipliers are worth, and round-off cannot make the bound claim more than it proves.

Run: python -m benchmarks.gavel_lp_bound   (the open sweep points; 5-40 minutes on shared cores)
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy.optimize import OptimizeWarning, linprog
from scipy.sparse import coo_matrix, csr_matrix

from silkroute.sim.truth import SimJob

HOUR = 3600.0
console = Console(width=150)


class _Columns:
    """Column indices of the LP's variables, allocated as they are named."""

    def __init__(self) -> None:
        self.count = 0
        # The most each variable can be in a real schedule (see `certified_bound`).
        self.most: list[float] = []

    def take(self, most: Sequence[float]) -> int:
        first = self.count
        self.count += len(most)
        self.most.extend(most)
        return first


class _Shape(NamedTuple):
    release: float  # hours from the first arrival
    fastest: float  # p_j, hours on the job's fastest type
    speed: dict[str, float]  # s_jk = p_j / d_jk
    first: int  # the job's buckets: first .. last - 1
    last: int
    end: float  # H_j = last x bucket length


def _shape(
    sim: SimJob,
    capacity: dict[str, int],
    release: float,
    length: float,
    horizon: tuple[float, float],
) -> _Shape:
    durations = {t: d / HOUR for t, d in (sim.duration_s or {}).items() if t in capacity}
    if not durations:
        raise ValueError(f"job {sim.name}: no run time on any type of the cluster")
    fastest = min(durations.values())
    speed = {t: fastest / d for t, d in durations.items() if math.isfinite(d) and d > 0}
    first = math.floor(release / length)
    last = max(first + 1, math.ceil((release + horizon[0] * fastest + horizon[1] / HOUR) / length))
    return _Shape(release, fastest, speed, first, last, last * length)


class LpBound(NamedTuple):
    total_s: float  # the certified lower bound on the sum of JCTs
    # The multiplier of each capacity row (type, bucket index from `origin_s`), >= 0, in
    # hours of JCT per accelerator-hour: what one more accelerator-hour there would save.
    prices: dict[tuple[str, int], float]


def lp_bound_s(
    jobs: Sequence[SimJob],
    capacity: dict[str, int],
    bucket_s: float = HOUR,
    horizon: tuple[float, float] = (2.0, 24 * HOUR),
    method: str = "highs-ipm",
    mean_busy_rows: bool = True,
    crossover: bool = True,
) -> float:
    """Lower bound on the sum over `jobs` of (completion - arrival), in seconds.

    `capacity`: accelerators per type. `horizon` = (a, c): a job's buckets reach
    r_j + a x p_j + c (longer: tighter and slower; any value gives a valid bound).
    """
    return lp_solve(jobs, capacity, bucket_s, horizon, method, mean_busy_rows, crossover).total_s


def lp_solve(
    jobs: Sequence[SimJob],
    capacity: dict[str, int],
    bucket_s: float = HOUR,
    horizon: tuple[float, float] = (2.0, 24 * HOUR),
    method: str = "highs-ipm",
    mean_busy_rows: bool = True,
    crossover: bool = True,
    origin_s: float | None = None,
) -> LpBound:
    """`lp_bound_s` with the capacity rows' prices; buckets start at `origin_s` (default: the
    first arrival), so LPs of different job groups can share one grid."""
    unit = HOUR  # the LP works in hours, so its numbers stay near 1
    length = bucket_s / unit
    arrivals = np.asarray([j.submit_time for j in jobs], dtype=float)
    start = float(arrivals.min()) if origin_s is None else origin_s
    cols = _Columns()
    rows: list[int] = []
    cols_of: list[int] = []
    values: list[float] = []
    upper: list[float] = []  # right-hand side of each <= row
    eq_rows: list[int] = []
    eq_cols: list[int] = []
    eq_values: list[float] = []
    eq_rhs: list[float] = []
    # capacity rows are made last, from the gang seconds each (type, bucket) collects
    usage: dict[tuple[str, int], list[tuple[int, float]]] = {}

    def row(entries: list[tuple[int, float]], rhs: float) -> None:
        index = len(upper)
        for col, value in entries:
            rows.append(index)
            cols_of.append(col)
            values.append(value)
        upper.append(rhs)

    shapes = [
        _shape(sim, capacity, (arrivals[j] - start) / unit, length, horizon)
        for j, sim in enumerate(jobs)
    ]
    # Every job done after its horizon at the fastest rate is an LP solution of this sum, so
    # the bound never exceeds it; a schedule with one JCT above it is above the bound anyway.
    longest_jct = sum(sh.end - sh.release + sh.fastest for sh in shapes)
    completion_cols = []
    for sim, (release, fastest, speed, first, last, end) in zip(jobs, shapes, strict=True):
        buckets = list(range(first, last))
        kinds = sorted(speed)
        opens_at = [max(b * length, release) for b in buckets]
        spans = [(b + 1) * length - o for b, o in zip(buckets, opens_at, strict=True)]
        y = cols.take([span for span in spans for _ in kinds])
        suffix = cols.take([end - o for o in opens_at])  # W_b - z_j: wall time from bucket b on
        left = cols.take([fastest] * len(buckets))  # f_b x p_j: fastest-type work from b on
        busy = cols.take([span * span / 2 for span in spans])  # the w^2 / 2 term of a bucket
        z = cols.take([fastest])
        c = cols.take([release + longest_jct])
        completion_cols.append((c, release))

        def y_col(i: int, k: int, y: int = y, n: int = len(kinds)) -> int:
            return y + i * n + k

        work: list[tuple[int, float]] = [(z, 1.0)]
        mean_busy: list[tuple[int, float]] = [(z, end / fastest), (c, -1.0)]
        for i, b in enumerate(buckets):
            opens, span = opens_at[i], spans[i]
            in_bucket = [(y_col(i, k), speed[t]) for k, t in enumerate(kinds)]
            work += in_bucket
            for k, t in enumerate(kinds):
                usage.setdefault((t, b), []).append((y_col(i, k), float(sim.workers)))
            row([(y_col(i, k), 1.0) for k in range(len(kinds))], span)  # one type at a time
            # suffix_i >= wall time in bucket i + suffix_{i+1}
            later = [(suffix + i + 1, 1.0)] if i + 1 < len(buckets) else []
            row([(y_col(i, k), 1.0) for k in range(len(kinds))] + later + [(suffix + i, -1.0)], 0.0)
            # left_i >= work in bucket i + left_{i+1} (or z_j after the last bucket)
            after = [(left + i + 1, 1.0)] if i + 1 < len(buckets) else [(z, 1.0)]
            row([(col, s) for col, s in in_bucket] + after + [(left + i, -1.0)], 0.0)
            # tail: r_j + left_i / p_j x (tau'_b - r_j) + suffix_i + z_j <= C_j
            row(
                [(left + i, (opens - release) / fastest), (suffix + i, 1.0), (z, 1.0), (c, -1.0)],
                -release,
            )
            # busy_i >= tangent of w^2 / 2 at w = a: a w - a^2 / 2, for a = L/2 and L
            for a in (span / 2, span):
                row([(col, a * s) for col, s in in_bucket] + [(busy + i, -1.0)], a * a / 2)
            mean_busy += [(col, opens * s / fastest) for col, s in in_bucket]
            mean_busy.append((busy + i, 1.0 / fastest))
        if mean_busy_rows:
            row(mean_busy, -fastest / 2)  # C_j >= M_j + p_j / 2
        row([(z, end / fastest + 1.0), (c, -1.0)], 0.0)  # overflow
        for col, value in work:
            eq_rows.append(len(eq_rhs))
            eq_cols.append(col)
            eq_values.append(value)
        eq_rhs.append(fastest)
    capacity_rows = sorted(usage)
    first_capacity_row = len(upper)
    for key in capacity_rows:
        row(usage[key], capacity[key[0]] * length)
    objective = np.zeros(cols.count)
    for c, _ in completion_cols:
        objective[c] = 1.0
    a_ub = coo_matrix((values, (rows, cols_of)), shape=(len(upper), cols.count)).tocsr()
    a_eq = coo_matrix((eq_values, (eq_rows, eq_cols)), shape=(len(eq_rhs), cols.count)).tocsr()
    b_ub = np.asarray(upper)
    b_eq = np.asarray(eq_rhs)
    with warnings.catch_warnings():
        # scipy passes options it does not know (run_crossover) to HiGHS, with a warning
        warnings.simplefilter("ignore", OptimizeWarning)
        result = linprog(
            objective,
            A_ub=a_ub,
            b_ub=b_ub,
            A_eq=a_eq,
            b_eq=b_eq,
            bounds=(0, None),
            method=method,
            options={} if crossover else {"run_crossover": "off"},
        )
    if result.ineqlin.marginals is None or result.eqlin.marginals is None:
        raise RuntimeError(f"the LP bound did not solve: {result.message}")
    bound_h = certified_bound(
        objective,
        (a_ub, b_ub, result.ineqlin.marginals),
        (a_eq, b_eq, result.eqlin.marginals),
        np.asarray(cols.most),
    )
    total_h = min(bound_h - sum(release for _, release in completion_cols), longest_jct)
    marginals = result.ineqlin.marginals[first_capacity_row:]
    prices = {key: max(0.0, -float(m)) for key, m in zip(capacity_rows, marginals, strict=True)}
    return LpBound(total_h * unit, prices)


def certified_bound(
    cost: np.ndarray,
    at_most: tuple[csr_matrix, np.ndarray, np.ndarray],
    equal: tuple[csr_matrix, np.ndarray, np.ndarray],
    most: np.ndarray,
) -> float:
    """A lower bound on `cost @ x` over every x >= 0 with `A_ub x <= b_ub`, `A_eq x = b_eq` and
    x <= `most`, proven by weak duality from any multipliers (not only optimal ones).

    For lam <= 0 (one per <= row) and any mu (one per = row), with reduced costs
    r = cost - A_ub' lam - A_eq' mu: cost @ x = r @ x + lam @ A_ub x + mu @ A_eq x
    >= sum(min(r, 0) x most) + lam @ b_ub + mu @ b_eq, since lam @ A_ub x >= lam @ b_ub and
    r_i x_i >= min(r_i, 0) most_i. The solver's multipliers are clipped to the right sign; any
    residual infeasibility (an interior-point solution without crossover, round-off) is paid
    for through `most`, so the number holds whatever the solver's accuracy.
    """
    a_ub, b_ub, lam = at_most
    a_eq, b_eq, mu = equal
    lam = np.minimum(np.asarray(lam, dtype=float), 0.0)
    mu = np.asarray(mu, dtype=float)
    reduced = cost - a_ub.T @ lam - a_eq.T @ mu
    return float(lam @ b_ub + mu @ b_eq + np.minimum(reduced, 0.0) @ most)


def lp_window_bound_s(
    jobs: Sequence[SimJob],
    capacity: dict[str, int],
    window_s: float,
    bucket_s: float = HOUR,
    horizon: tuple[float, float] = (2.0, 24 * HOUR),
) -> float:
    """`lp_bound_s` summed over groups of jobs by arrival window (smaller LPs, still a bound).

    Restricted to one group, a real schedule is a schedule of that group alone on the whole
    cluster (the other jobs only took capacity), so each group's sum of JCTs is at least its
    LP bound, and disjoint groups add. It forgets only the backlog carried between windows.
    """
    return sum(
        lp_bound_s(group, capacity, bucket_s, horizon) for group in arrival_windows(jobs, window_s)
    )


def arrival_windows(jobs: Sequence[SimJob], window_s: float) -> list[list[SimJob]]:
    """`jobs` grouped by the window of `window_s` seconds, counted from the first arrival,
    that each arrives in (groups in order of first appearance, jobs in their order)."""
    start = min(j.submit_time for j in jobs)
    groups: dict[int, list[SimJob]] = {}
    for sim in jobs:
        groups.setdefault(int((sim.submit_time - start) // window_s), []).append(sim)
    return list(groups.values())


def sweep_point(trace: str, cluster: str, load: float) -> tuple[list[SimJob], dict[str, int]]:
    """A load-sweep point's jobs (no time limits) and its accelerators per type."""
    from benchmarks.gavel_bench import CLUSTERS, GAVEL_DIR
    from silkroute.sim.workloads import load_workload

    workload = load_workload(
        str(GAVEL_DIR / f"{trace}.trace"),
        cluster=str(dict(CLUSTERS)[cluster]),
        load=load,
        estimates="none",
    )
    capacity = dict.fromkeys(("V100", "P100", "K80"), int(cluster.split("+")[0]))
    return list(workload.jobs), capacity


def gavel_mmf_s(trace: str, cluster: str, load: float) -> tuple[float, float]:
    """(`gavel-mmf`'s average JCT, the no-wait bound's), seconds, at a load-sweep point."""
    from benchmarks.gavel_bench import SweepRun, _sweep_one

    _, mmf_s, no_wait_s, _ = _sweep_one(SweepRun(trace, cluster, load, "gavel-mmf", None))
    return mmf_s, no_wait_s


# The sweep points where no policy met 0.9x `gavel-mmf` and the no-wait and capacity-aware
# bounds settled nothing (docs/gavel.md): the LP settles the first; `gavel_lagrange` the other
# two. (trace, cluster, load, arrival window in hours or None for the whole trace).
OPEN_POINTS = (
    ("seed1-103959", "36+36+36", 4.0, None),
    ("seed1-11cb48", "36+36+36", 2.0, None),
    ("seed1-103959", "12+12+12", 1.0, 168.0),
)
TARGET = 0.9


def main() -> None:
    out = Table(title="Time-indexed LP lower bound on average JCT, h (1 h buckets)")
    headers = ("trace", "cluster", "load", "windows", "no-wait", "LP bound", "gavel-mmf", "ratio")
    for header in (*headers, "s"):
        out.add_column(header, justify="left" if header in ("trace", "cluster") else "right")
    for trace, cluster, load, window_h in OPEN_POINTS:
        jobs, capacity = sweep_point(trace, cluster, load)
        started = time.perf_counter()
        if window_h is None:
            bound = lp_bound_s(jobs, capacity)
        else:
            bound = lp_window_bound_s(jobs, capacity, window_h * HOUR)
        wall = time.perf_counter() - started
        mmf_s, no_wait_s = gavel_mmf_s(trace, cluster, load)
        n = len(jobs)
        ratio = bound / n / mmf_s
        out.add_row(
            trace,
            cluster,
            f"{load:g}x",
            "whole trace" if window_h is None else f"{window_h:g} h",
            f"{no_wait_s / HOUR:.3f}",
            f"{bound / n / HOUR:.3f}",
            f"{mmf_s / HOUR:.3f}",
            f"[bold]{ratio:.3f}[/]" if ratio > TARGET else f"{ratio:.3f}",
            f"{wall:.0f}",
        )
    console.print(out)


if __name__ == "__main__":
    main()
