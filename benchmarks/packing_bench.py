"""FGD's packing experiment on openb: 7 policies x 10 seeds, inflate 1.3 (ATC'23 Fig. 9a).

Run: python -m benchmarks.packing_bench  (PACKING_BENCH_WORKERS=N to change the 2 processes).
Writes out/bench/packing/{results.json,unallocated.png} and prints the table and wall time.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from silkroute.sim.packing.experiment import DEFAULT_PODS, Experiment, run_experiment
from silkroute.sim.packing.policies import PACKING_POLICIES
from silkroute.sim.packing.report import PUBLISHED, plot, summarise, table, write_results

TRACE = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "traces"
OPENB = TRACE / "alibaba-openb-2023"
OUT = Path("out/bench/packing")
LEVELS = (50, 70, 90, 95, 100, 110, 120, 130)


def main() -> None:
    console = Console(width=None if sys.stdout.isatty() else 200)
    if not OPENB.exists():
        console.print(f"skipped: openb trace not found at {OPENB} (../shared/data is absent)")
        return
    workers = int(os.environ.get("PACKING_BENCH_WORKERS", "2"))
    exp = Experiment(OPENB, DEFAULT_PODS, tuple(PACKING_POLICIES), tuple(range(42, 52)), 1.3)
    start = time.perf_counter()
    results = run_experiment(exp, workers)
    wall = time.perf_counter() - start
    summary = summarise(results)
    console.print(table(summary, "unallocated GPU %, median [25-75%] over seeds 42-51"))
    compact = Table(title="unallocated GPU % (median): measured vs FGD's published (Fig. 9a)")
    compact.add_column("policy", style="bold")
    for level in LEVELS:
        compact.add_column(str(level), justify="right")
    for name, entry in summary.items():
        compact.add_row(name, *(f"{entry['unallocated_pct'][str(lv)]:.2f}" for lv in LEVELS))
        if name in PUBLISHED:
            cells = [f"{PUBLISHED[name][lv]:.1f}" if lv in PUBLISHED[name] else "" for lv in LEVELS]
            compact.add_row(f"{name} (published)", *cells, style="dim")
    console.print(compact)
    config = {"trace": OPENB.name, "pods": DEFAULT_PODS, "seeds": list(exp.seeds),
              "inflate": exp.inflate, "workers": workers, "wall_s": round(wall, 1)}  # fmt: skip
    write_results(OUT, summary, config)
    plot(OUT / "unallocated.png", summary, "openb default, 10 seeds: unallocated GPU")
    console.print(f"wall time {wall:.1f} s ({len(results)} runs, {workers} processes) -> {OUT}")


if __name__ == "__main__":
    main()
