"""Gavel's heterogeneous traces on Gavel's cluster: FIFO, Gavel's max-min fairness, silkroute's.

Both msr traces (seed 1) from ../shared/data/traces/gavel-msr on 36 V100 + 36 P100 + 36 K80,
one accelerator per server, 360 s rounds. Writes out/bench/gavel/results.json and jct_cdf.png.

Run: python -m benchmarks.gavel_bench
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from silkroute.sim.engine import SimResult
from silkroute.sim.runner import PolicySpec, run_policy
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
    results = []
    for label, spec in POLICIES:
        started = time.perf_counter()
        result = run_policy(workload, PolicySpec.parse(spec))
        result.metrics["wall_s"] = time.perf_counter() - started
        results.append((label, result))
    notes: dict[str, object] = dict(workload.notes) | {"jobs": len(workload.jobs)}
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


if __name__ == "__main__":
    main()
