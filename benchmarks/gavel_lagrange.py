"""A Lagrangian lower bound on average JCT: capacity priced, each job scheduled exactly alone.

The time-indexed LP (`gavel_lp_bound`) charges a job's completion through linear rows (mean
busy time, a tail row) that a fluid solution satisfies while sharing accelerators: three
one-hour jobs on two accelerators may each run two thirds of the time for 1.5 h and be charged
1.25 h each (3.75 h in all), where every real schedule pays at least 4 h. This bound keeps the
LP's capacity rows only as prices and charges each job the exact cost of one real schedule.

Time is cut into buckets b of length L from the first arrival up to G (tau_b the start of b,
N_k accelerators of type k). For prices pi[k,b] >= 0 and any schedule the simulator can
produce (y[j,k,b] the wall time job j runs on type k in b, g_j its gang width, C_j its end):

  sum_j (C_j - r_j) >= sum_j (C_j - r_j) + sum_{k,b} pi[k,b] (sum_j g_j y[j,k,b] - N_k L)
                    >= sum_j phi_j(pi) - sum_{k,b} pi[k,b] N_k L,

since every capacity gap is <= 0 (a gang holds g_j accelerators), where phi_j(pi) is the least
`C - r_j + sum pi[k,b] g_j y[k,b]` over single-job schedules of j alone (no other job). So
every pi >= 0 gives a valid bound (weak Lagrangian duality); none needs to be optimal.

phi_j is taken over a set that contains every real schedule of j: one type at a time, progress
s_jk = p_j / d_jk of the fastest-type run time p_j per wall second on k, nothing before r_j.
Let c be the bucket where the job ends. Then C_j - r_j >= tau'_c - r_j + (wall time run in c)
with tau'_c = max(tau_c, r_j), since that wall time lies in [tau'_c, C_j]; and the work p_j is
done in buckets up to c with at most cap_b = L - (tau'_b - tau_b) wall seconds in each. So

  phi_j >= min over c of [ tau'_c - r_j + KS_c ],  and >= G - r_j if the job ends after G,

where KS_c is the least `sum_b sum_k a[k,b] y[k,b]`, a[k,b] = pi[k,b] g_j (+1 in bucket c),
over y >= 0 with `sum_k y[k,b] <= cap_b` and `sum s_k y[k,b] = p_j`: a fractional knapsack.
In one bucket the reachable (work, cost) pairs are the convex hull of the origin and
(cap_b s_k, cap_b a[k,b]); its lower hull is at most one segment per type, and the cheapest
segments first (least cost per unit of work) solve KS_c exactly. Buckets c with
tau'_c - r_j above the best found so far cannot win (KS_c >= 0), so the scan stops there.

With pi the optimal capacity multipliers of the LP on the same jobs, the bound is at least
the LP's (each job's exact set lies inside the LP's rows for that job, and strong duality
prices the rest as the LP does). The sweep points start from the arrival-window LPs' prices
added up on one grid (a guess: any pi is allowed), then projected subgradient steps (the
capacity gaps of the minimisers) raise it. The number reported is the best pi's; every step's
value is a valid bound, so the steps cannot make it wrong, only higher.

Run: python -m benchmarks.gavel_lagrange   (the two open sweep points of docs/gavel.md)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from silkroute.sim.truth import SimJob

HOUR = 3600.0


class _Job(NamedTuple):
    release: float  # hours from the grid's origin
    work: float  # p_j: hours on the fastest type
    width: int  # g_j
    kinds: tuple[int, ...]  # type indices the job can run on, slowest first
    speeds: np.ndarray  # s_jk for `kinds`


class Bound(NamedTuple):
    total_s: float  # lower bound on the sum of JCTs, seconds
    prices: np.ndarray  # the pi that gave it, [type, bucket]
    evaluations: int  # prices tried


def _jobs(jobs: Sequence[SimJob], types: list[str], origin_s: float) -> list[_Job]:
    out = []
    for sim in jobs:
        durations = {t: d / HOUR for t, d in (sim.duration_s or {}).items() if t in types}
        usable = {t: d for t, d in durations.items() if math.isfinite(d) and d > 0}
        if not usable:
            raise ValueError(f"job {sim.name}: no run time on any type of the cluster")
        fastest = min(usable.values())
        ordered = sorted(usable, key=lambda t: fastest / usable[t])
        out.append(
            _Job(
                (sim.submit_time - origin_s) / HOUR,
                fastest,
                int(sim.workers),
                tuple(types.index(t) for t in ordered),
                np.asarray([fastest / usable[t] for t in ordered]),
            )
        )
    return out


def _hull(costs: np.ndarray, speeds: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lower hull of {origin} + {(s_k, a[k, b])} per bucket b (costs: [kinds, buckets]).

    Returns (slope, work, kind) arrays [kinds, buckets]: segment i of bucket b adds `work`
    units of work per unit of cap at `slope` cost per unit of work and ends at type `kind`
    (work 0 where the hull has fewer segments). Slopes increase along each bucket's hull.
    """
    n, buckets = costs.shape
    at_w = np.zeros(buckets)
    at_c = np.zeros(buckets)
    slopes = np.full((n, buckets), np.inf)
    works = np.zeros((n, buckets))
    kinds = np.zeros((n, buckets), dtype=int)
    for i in range(n):
        gain = speeds[:, None] - at_w[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(gain > 1e-12, (costs - at_c[None, :]) / gain, np.inf)
        # ties: the faster type (more work at the same cost per unit)
        pick = n - 1 - np.argmin(slope[::-1], axis=0)
        best = slope[pick, np.arange(buckets)]
        live = np.isfinite(best)
        slopes[i] = np.where(live, best, np.inf)
        works[i] = np.where(live, speeds[pick] - at_w, 0.0)
        kinds[i] = pick
        at_w = np.where(live, speeds[pick], at_w)
        at_c = np.where(live, costs[pick, np.arange(buckets)], at_c)
    return slopes, works, kinds


def _job_cost(
    job: _Job, prices: np.ndarray, length: float, grid_end: float
) -> tuple[float, list[tuple[int, int, float]]]:
    """phi_j(pi) and its minimiser as (type, bucket, wall hours) (see the module docstring)."""
    best = grid_end - job.release
    best_plan: list[tuple[int, int, float]] = []
    first = math.floor(job.release / length)
    buckets = prices.shape[1]
    if first >= buckets:
        return best, best_plan
    # buckets the job could end in and still beat `best`: tau'_c - r_j < best
    last = min(buckets, math.ceil((job.release + best) / length) + 1)
    span = np.arange(first, last)
    opens = np.maximum(span * length, job.release)
    cap = (span + 1) * length - opens
    costs = prices[list(job.kinds)][:, first:last] * job.width
    slope, work, kind = _hull(costs, job.speeds)
    penal_slope, penal_work, penal_kind = _hull(costs + 1.0, job.speeds)
    n = len(job.kinds)
    for i in range(last - first):
        delay = opens[i] - job.release
        if delay >= best:
            break
        if cap[: i + 1].sum() * job.speeds[-1] < job.work * (1 - 1e-9):
            continue  # not enough wall time to do the work by the end of bucket i
        # segment index = bucket x n + segment, the bucket it ends in being the penalised one
        s = np.concatenate([slope[:, :i].T.ravel(), penal_slope[:, i]])
        w = np.concatenate([(work[:, :i] * cap[None, :i]).T.ravel(), penal_work[:, i] * cap[i]])
        segments = np.flatnonzero(w > 0)  # hulls with fewer segments leave empty ones
        order = segments[np.argsort(s[segments], kind="stable")]
        taken = np.cumsum(w[order])
        if len(order) == 0 or taken[-1] < job.work * (1 - 1e-9):
            continue  # the work does not fit in buckets up to i (round-off tolerated)
        full = min(int(np.searchsorted(taken, job.work * (1 - 1e-12))), len(order) - 1)
        before = float(taken[full - 1]) if full > 0 else 0.0
        ks = float(np.dot(s[order[:full]], w[order[:full]]))
        ks += float(s[order[full]]) * (job.work - before)
        if delay + ks < best:
            best = delay + ks
            done = np.zeros(i + 1)
            amounts = w[order[: full + 1]].copy()
            amounts[-1] = job.work - before
            np.add.at(done, np.minimum(order[: full + 1] // n, i), amounts)
            best_plan = []
            for bucket in (int(b) for b in np.flatnonzero(done > 0)):
                hull = (penal_work, penal_kind) if bucket == i else (work, kind)
                best_plan += _seats(
                    job, first + bucket, float(done[bucket]), float(cap[bucket]), hull, bucket
                )
    return best, best_plan


def _seats(
    job: _Job,
    bucket: int,
    done: float,
    cap: float,
    hull: tuple[np.ndarray, np.ndarray],
    column: int,
) -> list[tuple[int, int, float]]:
    """Wall hours per type in one bucket for `done` work taken along its hull, cheapest
    segments first: between the hull's vertex of type u and the next one, of type t, at
    fraction f of that segment, the cap splits (1 - f) on u and f on t (u idle at the origin)."""
    works, kinds = hull
    previous = -1
    reach = 0.0
    per_cap = done / cap
    seats: list[tuple[int, int, float]] = []
    for segment in range(works.shape[0]):
        gain = float(works[segment, column])
        if gain <= 0:
            continue
        kind = int(kinds[segment, column])
        if per_cap <= reach + gain + 1e-12:
            f = min(1.0, max(0.0, (per_cap - reach) / gain))
            if previous >= 0 and f < 1.0:
                seats.append((job.kinds[previous], bucket, (1 - f) * cap))
            seats.append((job.kinds[kind], bucket, f * cap))
            return seats
        previous, reach = kind, reach + gain
    if previous >= 0:
        seats.append((job.kinds[previous], bucket, cap))
    return seats


def lagrangian_bound_s(
    jobs: Sequence[SimJob],
    capacity: dict[str, int],
    bucket_s: float = HOUR,
    prices: np.ndarray | None = None,
    iterations: int = 0,
    grid_end_s: float | None = None,
    log: bool = False,
) -> Bound:
    """max over the tried pi of the Lagrangian bound on the sum of JCTs, in seconds.

    `prices` [type (in `capacity` order), bucket] start the search (default 0: the no-wait
    bound); `iterations` projected subgradient steps follow (Polyak steps towards 1.02x the
    best bound so far). `grid_end_s`: G, the end of the priced grid from the first arrival
    (default: long after every job could have finished alone).
    """
    types = list(capacity)
    origin = min(j.submit_time for j in jobs)
    shaped = _jobs(jobs, types, origin)
    length = bucket_s / HOUR
    if grid_end_s is None:
        grid_end = max(j.release + 3 * j.work + 24.0 for j in shaped) + length
    else:
        grid_end = grid_end_s / HOUR
    buckets = math.ceil(grid_end / length)
    grid_end = buckets * length
    pi = np.zeros((len(types), buckets)) if prices is None else np.array(prices[:, :buckets])
    if pi.shape[1] < buckets:
        pi = np.pad(pi, ((0, 0), (0, buckets - pi.shape[1])))
    supply = np.asarray([capacity[t] * length for t in types])[:, None]
    best = -math.inf
    best_pi = pi.copy()
    for step in range(iterations + 1):
        pi = np.maximum(pi, 0.0)
        used = np.zeros_like(pi)
        total = -float((pi * supply).sum())
        for job in shaped:
            cost, plan = _job_cost(job, pi, length, grid_end)
            total += cost
            for k, b, wall in plan:
                used[k, b] += job.width * wall
        if total > best:
            best, best_pi = total, pi.copy()
        if log:
            print(f"  step {step}: {total:.2f} job-h (best {best:.2f})", flush=True)
        if step == iterations:
            break
        gap = used - supply
        norm = float((gap * gap).sum())
        if norm <= 1e-12:
            break
        target = best + 0.02 * abs(best)
        pi = pi + (target - total) / norm * gap
    return Bound(best * HOUR, best_pi, step + 1)


def prices_from_lp(lp_prices: dict[tuple[str, int], float], types: list[str]) -> np.ndarray:
    """The LP's capacity multipliers as a [type, bucket] array (same origin and bucket)."""
    buckets = 1 + max((b for _, b in lp_prices), default=0)
    pi = np.zeros((len(types), buckets))
    for (t, b), value in lp_prices.items():
        if b >= 0:
            pi[types.index(t), b] += value
    return pi


# The sweep points left open by the LP bound (docs/gavel.md): (trace, cluster, load, arrival
# window of the LPs whose prices start the search, hours; subgradient steps).
OPEN_POINTS = (
    ("seed1-11cb48", "36+36+36", 2.0, 168.0, 150),
    ("seed1-103959", "12+12+12", 1.0, 672.0, 100),
)
TARGET = 0.9


def window_prices(
    jobs: Sequence[SimJob], capacity: dict[str, int], window_h: float
) -> tuple[float, np.ndarray]:
    """(sum of the window LPs' bounds, s; their capacity prices added up on one grid).

    Each arrival window's LP is solved alone (minutes, where the whole trace's takes an hour);
    its prices are a starting point only: any prices give a valid Lagrangian bound."""
    from benchmarks.gavel_lp_bound import arrival_windows, lp_solve

    types = list(capacity)
    origin = min(j.submit_time for j in jobs)  # the windows' and the LPs' common grid
    total = 0.0
    parts = []
    for group in arrival_windows(jobs, window_h * HOUR):
        solved = lp_solve(group, capacity, origin_s=origin, crossover=False)
        total += solved.total_s
        parts.append(prices_from_lp(solved.prices, types))
    width = max(part.shape[1] for part in parts)
    prices = np.zeros((len(types), width))
    for part in parts:
        prices[:, : part.shape[1]] += part
    return total, prices


def main() -> None:
    from rich.console import Console
    from rich.table import Table

    from benchmarks.gavel_lp_bound import gavel_mmf_s, sweep_point

    console = Console(width=150)
    out = Table(title="Lagrangian lower bound on average JCT, h (1 h buckets)")
    headers = ("trace", "cluster", "load", "no-wait", "window LPs", "Lagrangian", "gavel-mmf")
    for header in (*headers, "ratio", "s"):
        out.add_column(header, justify="left" if header in ("trace", "cluster") else "right")
    for trace, cluster, load, window_h, steps in OPEN_POINTS:
        jobs, capacity = sweep_point(trace, cluster, load)
        started = time.perf_counter()
        lp_s, prices = window_prices(jobs, capacity, window_h)
        bound = lagrangian_bound_s(jobs, capacity, prices=prices, iterations=steps)
        wall = time.perf_counter() - started
        mmf_s, no_wait_s = gavel_mmf_s(trace, cluster, load)
        n = len(jobs)
        ratio = bound.total_s / n / mmf_s
        out.add_row(
            trace,
            cluster,
            f"{load:g}x",
            f"{no_wait_s / HOUR:.3f}",
            f"{lp_s / n / HOUR:.3f} ({window_h:g} h)",
            f"{bound.total_s / n / HOUR:.4f}",
            f"{mmf_s / HOUR:.4f}",
            f"[bold]{ratio:.4f}[/]" if ratio > TARGET else f"{ratio:.4f}",
            f"{wall:.0f}",
        )
    console.print(out)


if __name__ == "__main__":
    main()
