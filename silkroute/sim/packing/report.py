"""Medians over seeds, the side-by-side table, results.json and the Fig. 9a-style plot."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from silkroute.sim.packing.driver import METRICS, RunResult

TABLE_LEVELS = (50, 60, 70, 80, 90, 95, 100, 105, 110, 120, 130)

Summary = dict[str, dict[str, Any]]
PUBLISHED_FILE = "fgd_published_unallocated.csv"
# policy -> arrived % -> (median, p25, p75) of the GPUs left unallocated
Published = dict[str, dict[int, tuple[float, float, float]]]


def load_published(trace: Path, workload: str) -> Published:
    """FGD's own results for one pod list (`openb_pod_list_default` ...), from the trace
    folder's `fgd_published_unallocated.csv` (the authors' expected results); {} if absent."""
    path = trace / PUBLISHED_FILE
    if not path.exists():
        return {}
    out: Published = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row.get("workload") != workload:
                continue
            cells = (
                float(row["unallocated_pct_median"]),
                float(row["unallocated_pct_p25"]),
                float(row["unallocated_pct_p75"]),
            )
            out.setdefault(row["policy"], {})[int(row["arrived_pct"])] = cells
    return out


def by_level(levels: Sequence[int], values: Any) -> dict[str, float]:
    return {str(lv): round(float(v), 4) for lv, v in zip(levels, values, strict=True)}


def summarise(results: Sequence[RunResult]) -> Summary:
    """policy -> metric -> {level: median}, plus 25/75% quantiles, pods and wall time."""
    out: Summary = {}
    for policy in dict.fromkeys(r.policy for r in results):
        runs = [r for r in results if r.policy == policy]
        levels = runs[0].levels
        entry: dict[str, Any] = {}
        for metric in METRICS:
            values = np.array([r.metrics[metric] for r in runs])
            q25, med, q75 = np.percentile(values, [25, 50, 75], axis=0)
            for suffix, row in (("", med), ("_q25", q25), ("_q75", q75)):
                entry[metric + suffix] = by_level(levels, row)
        entry["seeds"] = [r.seed for r in runs]
        entry["pods_median"] = float(np.median([r.pods for r in runs]))
        entry["failed_median"] = float(np.median([r.failed for r in runs]))
        entry["wall_s"] = round(sum(r.wall_s for r in runs), 2)
        out[policy] = entry
    return out


def table(summary: Summary, title: str, metric: str = "unallocated_pct") -> Table:
    out = Table(title=title)
    out.add_column("arrived %", justify="right", style="bold")
    for policy in summary:
        out.add_column(policy, justify="right")
    # The GPUs not yet arrived, the same for every policy: no placement leaves fewer.
    floor = next(iter(summary.values())).get("floor_pct") if metric == "unallocated_pct" else None
    if floor is not None:
        out.add_column("floor", justify="right", style="dim")
    for level in TABLE_LEVELS:
        key = str(level)
        if not all(key in s[metric] for s in summary.values()):
            continue
        cells = [
            f"{s[metric][key]:.2f} [{s[f'{metric}_q25'][key]:.2f}-{s[f'{metric}_q75'][key]:.2f}]"
            for s in summary.values()
        ]
        out.add_row(key, *cells, *([f"{floor[key]:.2f}"] if floor is not None else []))
    out.add_row("wall s", *(f"{s['wall_s']:.1f}" for s in summary.values()))
    return out


def write_results(
    out_dir: Path, summary: Summary, config: dict[str, Any], published: Published | None = None
) -> Path:
    """`results.json`; `published` (FGD's own medians, where they exist) as {policy: {level:
    median}}."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "results.json"
    medians = {p: {str(lv): c[0] for lv, c in by.items()} for p, by in (published or {}).items()}
    doc = {"config": config, "published": medians, "policies": summary}
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return path


def plot(path: Path, summary: Summary, title: str, lo: int = 50) -> Path:
    """Unallocated GPU % against arrived workload, one line per policy (FGD's Fig. 9a)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.0), dpi=100)
    for policy, s in summary.items():
        levels = [int(k) for k in s["unallocated_pct"] if int(k) >= lo]
        med = [s["unallocated_pct"][str(k)] for k in levels]
        q25 = [s["unallocated_pct_q25"][str(k)] for k in levels]
        q75 = [s["unallocated_pct_q75"][str(k)] for k in levels]
        width = 2.2 if policy == "silk" else 1.2
        (line,) = ax.plot(levels, med, label=policy, linewidth=width)
        ax.fill_between(levels, q25, q75, color=line.get_color(), alpha=0.15, linewidth=0)
    ax.set_xlabel("arrived workload (% of GPU capacity)")
    ax.set_ylabel("unallocated GPU (%)")
    ax.set_ylim(0, 20)
    ax.set_xlim(lo, max(int(k) for s in summary.values() for k in s["unallocated_pct"]))
    ax.grid(alpha=0.3)
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
