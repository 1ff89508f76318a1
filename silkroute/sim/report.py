"""Side-by-side table, results.json and plots for a set of simulation results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from silkroute.sim.engine import SimResult

COLUMNS = (
    ("allocation", "alloc", "{:.1%}"),
    ("allocation_under_backlog", "alloc|wait", "{:.1%}"),
    ("mean_jct_s", "mean JCT h", "h"),
    ("median_jct_s", "median JCT h", "h"),
    ("p99_jct_s", "p99 JCT h", "h"),
    ("mean_queueing_delay_s", "mean wait h", "h"),
    ("makespan_s", "makespan h", "h"),
    ("jain_fairness", "Jain", "{:.3f}"),
    ("utilisation", "util", "{:.1%}"),
    ("rho_max", "rho max", "{:.2f}"),
    ("mean_slowdown", "slowdown", "{:.2f}"),
    ("preemptions", "preempt", "{:.0f}"),
    ("wall_s", "wall s", "{:.1f}"),
    ("events_per_s", "events/s", "{:,.0f}"),
)


def _cell(value: float | None, fmt: str) -> str:
    if value is None:
        return "-"
    if fmt == "h":
        return f"{value / 3600:,.2f}"
    return fmt.format(value)


def table(results: list[SimResult], title: str) -> Table:
    out = Table(title=title)
    out.add_column("policy", style="bold")
    for _, header, _ in COLUMNS:
        out.add_column(header, justify="right")
    for r in results:
        out.add_row(r.policy, *(_cell(r.metrics.get(k), f) for k, _, f in COLUMNS))
    return out


def write_results(
    out_dir: Path, results: list[SimResult], notes: dict[str, Any], console: Console | None = None
) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    payload = {"workload": notes, "policies": {r.policy: r.metrics for r in results}}
    path = out_dir / "results.json"
    path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    plot(out_dir, results)
    if console is not None:
        console.print(f"wrote {path}, {out_dir / 'allocation.png'}, {out_dir / 'jct_cdf.png'}")
    return path


def plot(out_dir: Path, results: list[SimResult]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4))
    for r in results:
        if r.times:
            # Log time: a burst under backlog and a long drain both stay readable.
            hours = np.maximum((np.asarray(r.times) - r.times[0]) / 3600, 1 / 60)
            ax.plot(hours, np.asarray(r.allocation) * 100, label=r.policy, linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("simulated time since the first event (h, log)")
    ax.set_ylabel("accelerators allocated (%)")
    ax.set_ylim(0, 105)
    ax.grid(alpha=0.3)
    _legend(ax)
    fig.tight_layout()
    fig.savefig(out_dir / "allocation.png", dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        if r.jct_s:
            jct = np.sort(np.asarray(r.jct_s)) / 3600
            ax.plot(jct, np.linspace(0, 1, len(jct)), label=r.policy, linewidth=1)
    ax.set_xscale("log")
    ax.set_xlabel("job completion time (h, log)")
    ax.set_ylabel("fraction of jobs")
    ax.grid(alpha=0.3)
    _legend(ax)
    fig.tight_layout()
    fig.savefig(out_dir / "jct_cdf.png", dpi=120)
    plt.close(fig)


def _legend(ax: Any) -> None:
    # No line when no job ran or finished: matplotlib warned "No artists with labels".
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
