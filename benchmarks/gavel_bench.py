"""Gavel's heterogeneous traces on Gavel's cluster: FIFO, Gavel's max-min fairness, silkroute's.

Part 1: both msr traces (seed 1) from ../shared/data/traces/gavel-msr on 36 V100 + 36 P100 +
36 K80, one accelerator per server, 360 s rounds, as published (`results.json`, `jct_cdf.png`).
Part 2, the load sweep: both traces with arrivals compressed 1x, 2x, 4x, 8x on that cluster
and on 12 + 12 + 12; average JCT of FIFO, `gavel-mmf`, `hetero-las`, `hetero-srtf` and
`hetero-srtf-swap`, the last two with users' time limits off by a random factor (log-uniform
0.5x..2x, one draw per job, NOISE_SEEDS seeds: median and p25-p75), ratios to `gavel-mmf`
(`sweep.json`).

Run: python -m benchmarks.gavel_bench [--no-sweep]
"""

from __future__ import annotations

import dataclasses
import json
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from silkroute.sim.engine import SimResult
from silkroute.sim.runner import PolicySpec, run_policy
from silkroute.sim.truth import SimJob
from silkroute.sim.workloads import load_workload

GAVEL_DIR = Path("..") / "shared" / "data" / "traces" / "gavel-msr"
TRACES = ("seed1-103959", "seed1-11cb48")
OUT = Path("out") / "bench" / "gavel"
# (label, policy spec): Gavel's FIFO is heterogeneity-agnostic (`packing+`: no pool scorer, so
# pools in index order, as before the speed scorer was fixed); the others use per-type speed.
POLICIES = (
    ("FIFO", "fifo:none:packing+"),
    ("FIFO + fastest type", "fifo:none:packing+speed"),
    ("Gavel max-min fairness", "gavel-mmf"),
    ("silkroute hetero-LAS", "hetero-las"),
    ("silkroute hetero-SRTF (exact limits)", "hetero-srtf"),
    ("silkroute hetero-SRTF-swap (exact limits)", "hetero-srtf-swap"),
)
COLUMNS = (
    ("mean_jct_s", "avg JCT h", 3600.0, "{:.2f}"),
    ("median_jct_s", "median h", 3600.0, "{:.2f}"),
    ("p95_jct_s", "p95 h", 3600.0, "{:.1f}"),
    ("makespan_s", "makespan h", 3600.0, "{:.0f}"),
    ("rho_mean", "rho mean", 1.0, "{:.2f}"),
    ("rho_max", "rho max", 1.0, "{:.2f}"),
    ("mean_slowdown", "slowdown", 1.0, "{:.2f}"),
    ("utilisation", "util", 0.01, "{:.1f}%"),
    ("gpu_hours_lost_to_preemption", "GPU-h lost", 1.0, "{:.0f}"),
    ("preemptions", "moves", 1.0, "{:.0f}"),
    ("wall_s", "wall s", 1.0, "{:.1f}"),
)
console = Console(width=170)


def run_trace(trace: str) -> tuple[dict[str, object], list[tuple[str, SimResult]]]:
    workload = load_workload(str(GAVEL_DIR / f"{trace}.trace"), estimates="none")
    limited = load_workload(str(GAVEL_DIR / f"{trace}.trace"), estimates="exact")
    results = []
    for label, spec in POLICIES:
        started = time.perf_counter()
        # Only the SRTF policies read time limits; the others run as before limits existed.
        jobs_from = limited if spec in READS_LIMITS else workload
        result = run_policy(jobs_from, PolicySpec.parse(spec))
        result.metrics["wall_s"] = time.perf_counter() - started
        results.append((label, result))
    notes: dict[str, object] = {**workload.notes, "jobs": len(workload.jobs)}
    return notes, results


def table(trace: str, notes: dict[str, object], results: list[tuple[str, SimResult]]) -> Table:
    out = Table(title=f"{trace}: {notes['jobs']} jobs ({notes.get('jobs_skipped', 0):.0f} skipped)")
    out.add_column("policy", style="bold")
    for _, header, _, _ in COLUMNS:
        out.add_column(header, justify="right")
    for label, r in results:
        cells = [
            fmt.format(r.metrics[key] / unit) if key in r.metrics else "-"
            for key, _, unit, fmt in COLUMNS
        ]
        out.add_row(label, *cells)
    return out


def plot(path: Path, runs: dict[str, list[tuple[str, SimResult]]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(runs), figsize=(10, 3.6), sharey=True)
    for ax, (trace, results) in zip(np.atleast_1d(axes), runs.items(), strict=True):
        for label, r in results:
            jct = np.sort(np.asarray(r.jct_s)) / 3600
            ax.plot(jct, np.linspace(0, 1, len(jct)), label=label, linewidth=1.2)
        ax.set_xscale("log")
        ax.set_title(f"Gavel msr {trace}, 36 V100 + 36 P100 + 36 K80", fontsize=9)
        ax.set_xlabel("job completion time (h, log)")
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].set_ylabel("fraction of jobs")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


# ---- load sweep ---------------------------------------------------------------------------
CLUSTERS = (
    ("36+36+36", Path("examples") / "clusters" / "gavel-36x3.yaml"),
    ("12+12+12", Path("examples") / "clusters" / "gavel-12x3.yaml"),
)
LOADS = (1.0, 2.0, 4.0, 8.0)
NOISE_SEEDS = (1, 2, 3)
NOISE_FACTOR = 2.0  # a user's limit is the true one x a factor in [1/2, 2], log-uniform
SWEEP_POLICIES = (
    ("FIFO", "fifo:none:packing+"),
    ("gavel-mmf", "gavel-mmf"),
    ("hetero-las", "hetero-las"),
    ("hetero-srtf", "hetero-srtf"),
    ("hetero-srtf-swap", "hetero-srtf-swap"),
)
READS_LIMITS = ("hetero-srtf", "hetero-srtf-swap")  # run with noisy limits, NOISE_SEEDS each
BASELINE = "gavel-mmf"
# Where hetero-srtf was designed (its rules were chosen looking at these runs only); every
# other (trace, cluster) pair is held out.
DESIGN_POINT = ("seed1-11cb48", "36+36+36")


@dataclasses.dataclass(frozen=True)
class SweepRun:
    trace: str
    cluster: str
    load: float
    label: str
    noise_seed: int | None  # None: no time limits given (policies that do not read them)


def noisy_limits(jobs: list[SimJob], seed: int, factor: float = NOISE_FACTOR) -> list[SimJob]:
    """Users' time limits off by a random factor in [1/factor, factor] (log-uniform) per job."""
    rng = random.Random(seed)
    out = []
    for job in jobs:
        off = factor ** rng.uniform(-1.0, 1.0)
        limit = None if job.time_limit_s is None else job.time_limit_s * off
        out.append(dataclasses.replace(job, time_limit_s=limit))
    return out


def _sweep_one(run: SweepRun) -> tuple[SweepRun, float, float, float]:
    """(run, average JCT s, no-wait bound s, wall s) of one simulation."""
    cluster = dict(CLUSTERS)[run.cluster]
    estimates = "none" if run.noise_seed is None else "exact"
    workload = load_workload(
        str(GAVEL_DIR / f"{run.trace}.trace"),
        cluster=str(cluster),
        load=run.load,
        estimates=estimates,
    )
    if run.noise_seed is not None:
        workload.jobs = noisy_limits(workload.jobs, run.noise_seed)
    # Every job alone on its fastest type from its arrival: no policy can average less.
    bound = float(np.mean([min((j.duration_s or {}).values()) for j in workload.jobs]))
    started = time.perf_counter()
    result = run_policy(workload, PolicySpec.parse(dict(SWEEP_POLICIES)[run.label]))
    return run, float(result.metrics["mean_jct_s"]), bound, time.perf_counter() - started


def sweep_runs() -> list[SweepRun]:
    runs = []
    for trace in TRACES:
        for cluster, _ in CLUSTERS:
            for load in LOADS:
                for label, _ in SWEEP_POLICIES:
                    seeds: tuple[int | None, ...] = (
                        NOISE_SEEDS if label in READS_LIMITS else (None,)
                    )
                    runs += [SweepRun(trace, cluster, load, label, seed) for seed in seeds]
    # Slowest first (the LP baseline under heavy load), so two workers finish together.
    runs.sort(key=lambda r: (r.label != BASELINE, -r.load))
    return runs


def run_sweep(workers: int = 2) -> dict[str, object]:
    started = time.perf_counter()
    runs = sweep_runs()
    done = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        for run, jct, bound, wall_s in pool.map(_sweep_one, runs):
            done.append((run, jct, bound, wall_s))
            seed = "" if run.noise_seed is None else f" noise seed {run.noise_seed}"
            console.print(
                f"  [{len(done)}/{len(runs)}] {run.trace} {run.cluster} {run.load:g}x "
                f"{run.label}{seed}: {jct / 3600:.2f} h ({wall_s:.0f} s)"
            )
    wall = time.perf_counter() - started
    jcts: dict[tuple[str, str, float], dict[str, list[float]]] = {}
    bounds: dict[tuple[str, str, float], float] = {}
    for run, jct, bound, _ in done:
        key = (run.trace, run.cluster, run.load)
        bounds[key] = bound / 3600
        jcts.setdefault(key, {}).setdefault(run.label, []).append(jct / 3600)
    rows = []
    for (trace, cluster, load), by_label in sorted(jcts.items()):
        row: dict[str, object] = {
            "trace": trace,
            "cluster": cluster,
            "load": load,
            "held_out": (trace, cluster) != DESIGN_POINT,
            "bound_h": bounds[(trace, cluster, load)],
        }
        base = float(np.median(by_label[BASELINE]))
        for label, _ in SWEEP_POLICIES:
            values = np.asarray(by_label[label], dtype=float)
            row[label] = {
                "median_h": float(np.median(values)),
                "p25_h": float(np.percentile(values, 25)),
                "p75_h": float(np.percentile(values, 75)),
                "ratio": float(np.median(values)) / base,
                "seeds": len(values),
            }
        rows.append(row)
    return {"rows": rows, "wall_s": wall, "workers": workers, "runs": len(done)}


def sweep_table(sweep: dict[str, object]) -> Table:
    out = Table(
        title=f"Gavel load sweep: average JCT h (x {BASELINE}); {' and '.join(READS_LIMITS)} "
        f"with limits off by up to {NOISE_FACTOR:g}x, median \\[p25-p75] of "
        f"{len(NOISE_SEEDS)} noise seeds; "
        f"{sweep['runs']} runs, {sweep['wall_s']:.0f} s on {sweep['workers']} workers"
    )
    for header in ("trace", "cluster", "load", "set", "bound h"):
        out.add_column(header, justify="right" if header in ("load", "bound h") else "left")
    for label, _ in SWEEP_POLICIES:
        out.add_column(label, justify="right")
    for row in sweep["rows"]:  # type: ignore[attr-defined]
        cells = [
            row["trace"],
            row["cluster"],
            f"{row['load']:g}x",
            "held out" if row["held_out"] else "design",
            f"{row['bound_h']:.2f}",
        ]
        for label, _ in SWEEP_POLICIES:
            cell = row[label]
            text = f"{cell['median_h']:.2f} ({cell['ratio']:.2f})"
            if cell["seeds"] > 1:
                text += f" [{cell['p25_h']:.2f}-{cell['p75_h']:.2f}]"
            if label in READS_LIMITS:
                text = f"[bold]{text}[/]" if cell["ratio"] <= 0.9 else text
            cells.append(text)
        out.add_row(*cells)
    return out


def main() -> None:
    if not (GAVEL_DIR / "simulation_throughputs.json").exists():
        console.print(f"Gavel's traces are not at {GAVEL_DIR} (see ../shared/data/README.md)")
        sys.exit(1)
    OUT.mkdir(parents=True, exist_ok=True)
    runs: dict[str, list[tuple[str, SimResult]]] = {}
    payload: dict[str, object] = {}
    for trace in TRACES:
        notes, results = run_trace(trace)
        runs[trace] = results
        console.print(table(trace, notes, results))
        payload[trace] = {
            "workload": notes,
            "policies": {
                label: {"spec": spec} | r.metrics
                for (label, r), (_, spec) in zip(results, POLICIES, strict=True)
            },
        }
    (OUT / "results.json").write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    plot(OUT / "jct_cdf.png", runs)
    console.print(f"wrote {OUT / 'results.json'} and {OUT / 'jct_cdf.png'}")
    if "--no-sweep" in sys.argv[1:]:
        return
    sweep = run_sweep()
    console.print(sweep_table(sweep))
    (OUT / "sweep.json").write_text(json.dumps(sweep, indent=2, sort_keys=True) + "\n")
    console.print(f"wrote {OUT / 'sweep.json'}")


if __name__ == "__main__":
    main()
