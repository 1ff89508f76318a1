"""Scheduler benchmark: the openb replay under backlog with every policy, and a synthetic
million-job run on a 5,000-node cluster.

    python -m benchmarks.scheduler_bench            # both parts
    SCHED_BENCH_JOBS=100000 python -m benchmarks.scheduler_bench   # a smaller scale run

Figures are reported as ratios against baselines measured in the same run: allocation
against strict FIFO (no backfill), and simulated time against wall time.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from rich.console import Console

from silkroute.sim.engine import SimResult
from silkroute.sim.report import table, write_results
from silkroute.sim.runner import PolicySpec, run_policy
from silkroute.sim.workloads import SHARED_OPENB, load_workload

OUT = Path("out") / "bench"
# Load chosen so demand exceeds capacity: arrivals compressed 3,000x onto half the nodes.
OPENB_LOAD, OPENB_SHRINK = 3000.0, 0.5
OPENB_POLICIES = [
    "fifo:none",
    "fifo",
    "priority",
    "fairshare",
    "las",
    "fifo:easy:silk",
    "las:easy:silk",
]
SCALE_CLUSTER = Path("examples") / "clusters" / "scale-5000-nodes.yaml"
SCALE_POLICY = "fifo"
SCALE_STEP_INTERVAL_S = 10.0
BENCH_WORKERS = int(os.environ.get("SCHED_BENCH_WORKERS", str(os.cpu_count() or 1)))
console = Console(width=200)


def openb_under_backlog() -> dict[str, object]:
    if not SHARED_OPENB.exists():
        console.print(f"[yellow]skip openb replay: {SHARED_OPENB} is absent[/yellow]")
        return {}
    workload = load_workload(str(SHARED_OPENB), load=OPENB_LOAD, shrink=OPENB_SHRINK)
    started = time.perf_counter()
    # One policy per process, as many processes as cores: each run is independent.
    with ProcessPoolExecutor(max_workers=BENCH_WORKERS) as pool:
        specs = [PolicySpec.parse(p) for p in OPENB_POLICIES]
        results: list[SimResult] = list(pool.map(run_policy, [workload] * len(specs), specs))
    wall = time.perf_counter() - started
    cpu = sum(r.metrics["wall_s"] for r in results)
    title = (
        f"openb under backlog: {len(workload.jobs):,} jobs, {len(workload.nodes):,} nodes, "
        f"arrivals x{OPENB_LOAD:g}"
    )
    console.print(table(results, title))
    write_results(OUT / "openb", results, {"name": "openb", **workload.notes}, console)
    baseline = next(r for r in results if r.policy == "fifo:none")
    best = max(results, key=lambda r: r.metrics["allocation_under_backlog"])
    ratio = best.metrics["allocation_under_backlog"] / baseline.metrics["allocation_under_backlog"]
    console.print(
        f"best allocation while jobs wait: {best.policy} "
        f"{best.metrics['allocation_under_backlog']:.1%} "
        f"({ratio:.2f}x strict FIFO); all {len(results)} policies in {wall:.1f} s wall "
        f"on {BENCH_WORKERS} processes ({cpu:.1f} s of simulation in all)"
    )
    return {"wall_s": wall, "cpu_s": cpu, "best": best.policy, "best_vs_strict_fifo": ratio}


def synthetic_scale() -> dict[str, object]:
    jobs = int(os.environ.get("SCHED_BENCH_JOBS", "1000000"))
    started = time.perf_counter()
    workload = load_workload("synthetic", cluster=str(SCALE_CLUSTER), jobs=jobs, load=1.2, seed=1)
    generated = time.perf_counter() - started
    result = run_policy(
        workload, PolicySpec.parse(SCALE_POLICY), step_interval_s=SCALE_STEP_INTERVAL_S
    )
    m = result.metrics
    speedup = m["makespan_s"] / m["wall_s"]
    console.print(table([result], f"synthetic: {jobs:,} jobs, {len(workload.nodes):,} nodes"))
    console.print(
        f"{jobs:,} jobs: generated in {generated:.1f} s, simulated in {m['wall_s']:.1f} s, "
        f"{m['events_per_s']:,.0f} events/s, {speedup:,.0f}x faster than real time"
    )
    return {"jobs": jobs, "generate_s": generated, "speedup_vs_real_time": speedup, **m}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    summary = {"openb": openb_under_backlog(), "scale": synthetic_scale()}
    (OUT / "scheduler.json").write_text(json.dumps(summary, indent=2, default=float) + "\n")


if __name__ == "__main__":
    main()
