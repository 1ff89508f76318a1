"""A capacity-aware lower bound on average JCT for the Gavel load sweep (no policy can beat it).

The sweep's no-wait bound (every job alone on its fastest type from its arrival) ignores
capacity, so it says nothing about a burst of arrivals. This one does, and stays a valid bound:

Cut the jobs into groups by arrival time (windows of `window_s`). For each group, relax the real
problem: release all its jobs at the group's first arrival T0 (earlier), let every accelerator
of type k run any job of the group at the best relative speed any of them has on k (at least as
fast as for the job itself), let a gang occupy a single accelerator (fewer resources), and
drop every job outside the group (they only take capacity). Any real schedule restricted to
the group is feasible there (at most one job per accelerator, a job never faster than on its
fastest type), so the group's sum of completion times is at least the relaxed optimum: on
uniform machines with a common release, preemptive, that is shortest-remaining-processing-time
on the fastest machine (SRPT-FM, Gonzalez 1977). Hence per group

    sum (C_j - r_j) >= max(sum p_j, SRPT-FM sum - sum (r_j - T0)),

with p_j the run time on the job's fastest type. Groups are disjoint, so the sums add; every
window choice gives a valid bound, and the largest of them is reported.

Run: python -m benchmarks.gavel_bound   (every point of the sweep; about a minute)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from rich.console import Console
from rich.table import Table

from benchmarks.gavel_bench import CLUSTERS, GAVEL_DIR, LOADS, TRACES
from silkroute.sim.truth import SimJob
from silkroute.sim.workloads import load_workload

WINDOWS_S = (900.0, 1800.0, 3600.0, 3 * 3600.0, 6 * 3600.0, 24 * 3600.0)
PER_TYPE = {"36+36+36": 36, "12+12+12": 12}
console = Console(width=150)


def srpt_fm_total_s(work_s: ArrayLike, speeds: Sequence[float]) -> float:
    """Least sum of completion times of jobs released together on machines of `speeds`.

    Shortest remaining job on the fastest machine (SRPT-FM) is optimal here. With jobs sorted
    by size and machines by speed, the order never changes (a shorter job sits on a faster
    machine), so the first job always finishes next.
    """
    remaining = np.sort(np.asarray(work_s, dtype=float))
    rates = np.sort(np.asarray([s for s in speeds if s > 0], dtype=float))[::-1]
    now = total = 0.0
    for first in range(len(remaining)):
        running = remaining[first : first + len(rates)]
        step = max(running[0], 0.0) / rates[0]
        running -= step * rates[: len(running)]
        now += step
        total += now
    return total


def window_bound_s(jobs: Sequence[SimJob], per_type: int, window_s: float) -> float:
    """Lower bound on the sum over jobs of (completion - arrival), groups of `window_s`."""
    arrival = np.asarray([j.submit_time for j in jobs], dtype=float)
    groups: dict[int, list[int]] = {}
    for i, t in enumerate(arrival):
        groups.setdefault(int((t - arrival.min()) // window_s), []).append(i)
    total = 0.0
    for members in groups.values():
        durations = [jobs[i].duration_s or {} for i in members]
        fastest = np.asarray([min(d.values()) for d in durations])
        types = sorted({t for d in durations for t in d})
        speeds = [
            max((min(d.values()) / d[t] for d in durations if t in d), default=0.0)
            for t in types
            for _ in range(per_type)
        ]
        released_late = float(np.sum(arrival[members] - arrival[members].min()))
        total += max(float(fastest.sum()), srpt_fm_total_s(fastest, speeds) - released_late)
    return total


def bounds_h(jobs: Sequence[SimJob], per_type: int) -> tuple[float, float]:
    """(no-wait bound, capacity-aware bound) on average JCT, in hours."""
    no_wait = sum(min((j.duration_s or {}).values()) for j in jobs)
    best = max([no_wait] + [window_bound_s(jobs, per_type, w) for w in WINDOWS_S])
    return no_wait / len(jobs) / 3600, best / len(jobs) / 3600


def main() -> None:
    out = Table(title="Lower bounds on average JCT, h (no policy can average less)")
    for header in ("trace", "cluster", "load", "no-wait bound", "capacity-aware bound"):
        out.add_column(header, justify="right" if "bound" in header or header == "load" else "left")
    for trace in TRACES:
        for cluster, path in CLUSTERS:
            for load in LOADS:
                workload = load_workload(
                    str(GAVEL_DIR / f"{trace}.trace"),
                    cluster=str(path),
                    load=load,
                    estimates="none",
                )
                no_wait, capacity = bounds_h(workload.jobs, PER_TYPE[cluster])
                out.add_row(trace, cluster, f"{load:g}x", f"{no_wait:.3f}", f"{capacity:.3f}")
    console.print(out)


if __name__ == "__main__":
    main()
