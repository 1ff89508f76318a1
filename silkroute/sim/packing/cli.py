"""`silkroute sim packing`: FGD's packing experiment (ATC'23 Figs. 7 and 9a) on openb."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from silkroute.console import fail, make_out_folder
from silkroute.model.errors import SpecError
from silkroute.sim.packing.driver import RunResult
from silkroute.sim.packing.experiment import DEFAULT_PODS, experiment_from_options, run_experiment
from silkroute.sim.packing.policies import CANDIDATES, PACKING_POLICIES
from silkroute.sim.packing.report import load_published, plot, summarise, table, write_results

ALL = ",".join(PACKING_POLICIES)
DEFAULT = ",".join(name for name in PACKING_POLICIES if name not in CANDIDATES)


def packing_command(
    trace: Annotated[
        str, typer.Option(help="openb trace folder (alibaba cluster-trace-gpu-v2023 csv)")
    ] = "../shared/data/traces/alibaba-openb-2023",
    policy: Annotated[
        str,
        typer.Option(
            help=f"Comma-separated policies of: {ALL} (default: all but these, run only "
            f"when named: {', '.join(sorted(CANDIDATES))}; silk-r10 is silk's candidate name, "
            "silk-r8 the rule before it)"
        ),
    ] = DEFAULT,
    inflate: Annotated[float, typer.Option(help="Stop at this x the GPU capacity")] = 1.3,
    seeds: Annotated[str, typer.Option(help="Seeds: 42-51 or 1,2,3")] = "42-51",
    pods: Annotated[str, typer.Option(help="Pod list file in the trace folder")] = DEFAULT_PODS,
    variant: Annotated[
        str,
        typer.Option(help="Resample the pod list (FGD §6): sharing60, multigpu30, gpuspec66, ..."),
    ] = "",
    spec_mix: Annotated[
        str, typer.Option(help="Pod list whose GPU-type constraints a gpuspec variant draws")
    ] = "",
    workers: Annotated[int, typer.Option(help="Processes running seeds in parallel", min=1)] = min(
        2, os.cpu_count() or 1
    ),
    out: Annotated[Path, typer.Option(help="Output folder")] = Path("out/packing"),
) -> None:
    """Reproduce FGD's packing experiment: unallocated GPU % as the workload arrives."""
    errors = Console(stderr=True, soft_wrap=True)  # one line, however long the path
    console = Console(width=None if sys.stdout.isatty() else 200)
    try:
        exp = experiment_from_options(trace, pods, policy, seeds, inflate, variant, spec_mix)
        exp.check()
    except (SpecError, ValueError) as exc:
        raise fail(str(exc)) from None
    make_out_folder("--out", out)  # before the runs: a bad --out must not cost the results
    start = time.perf_counter()
    columns = (TextColumn("packing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors) as bar:
        task = bar.add_task("runs", total=len(exp.policies) * len(exp.seeds))

        def advance(_: RunResult) -> None:
            bar.advance(task)

        results = run_experiment(exp, workers, advance)
    wall = time.perf_counter() - start
    summary = summarise(results)
    title = (
        f"unallocated GPU %, median [25-75%] of {len(exp.seeds)} seeds; "
        f"{exp.workload}, inflate {exp.inflate}"
    )
    console.print(table(summary, title))
    config = {
        "trace": Path(exp.trace).name,
        "pods": exp.pods_file,
        "variant": exp.variant,
        "policies": list(exp.policies),
        "seeds": list(exp.seeds),
        "inflate": exp.inflate,
        "wall_s": round(wall, 2),
    }
    published = {} if exp.variant else load_published(exp.trace, exp.workload)
    path = write_results(out, summary, config, published)
    png = plot(out / "unallocated.png", summary, f"openb {exp.workload}: unallocated GPU")
    console.print(f"wrote {path} and {png} in {wall:.1f} s with {workers} worker(s)")
