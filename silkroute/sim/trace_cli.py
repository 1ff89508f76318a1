"""`silkroute trace ...`: bring public traces into the neutral JSONL format, check, describe."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from silkroute.console import fail
from silkroute.model.cluster import ClusterSpec, NodeGroupSpec, SiteSpec, load_cluster
from silkroute.model.errors import SpecError
from silkroute.model.job import NAME_PATTERN
from silkroute.sim.truth import SimJob

trace_app = typer.Typer(
    help="Neutral JSONL traces: convert public traces, validate a trace, print the schema.",
    no_args_is_help=True,
)
console = Console(width=None if sys.stdout.isatty() else 200)
errors = Console(stderr=True)

OPENB_NODES = "openb_node_list_all_node.csv"
OPENB_PODS = "openb_pod_list_default.csv"
# Gavel's OSDI'20 cluster: 36 V100 + 36 P100 + 36 K80, one accelerator per server.
GAVEL_CLUSTER = {"V100": 36, "P100": 36, "K80": 36}


class SourceFormat(StrEnum):
    OPENB = "openb"
    GAVEL = "gavel"


def _fail(message: str) -> typer.Exit:
    return fail(message)


_UNSAFE = re.compile(r"[^A-Za-z0-9._/-]+")
_NAME = re.compile(NAME_PATTERN)


def safe_name(name: str) -> str:
    """A job name the spec accepts: runs of other characters become `-`."""
    if _NAME.match(name):
        return name
    cleaned = _UNSAFE.sub("-", name).strip("-._/")
    return cleaned[:253] or "job"


def with_safe_names(jobs: list[SimJob]) -> list[SimJob]:
    """Jobs renamed to valid, unique names (a suffix `-2`, `-3`... on repeats)."""
    seen: set[str] = set()
    out = []
    for job in jobs:
        base = name = safe_name(job.name)
        serial = 1
        while name in seen:
            serial += 1
            name = f"{base}-{serial}"
        seen.add(name)
        out.append(job if name == job.name else replace(job, name=name))
    return out


@contextmanager
def _progress(description: str, total: int) -> Iterator[Callable[[int], None]]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    # Off the terminal it drew nothing but left a blank line, before an error line too.
    live = errors.is_terminal
    with Progress(
        *columns, TimeElapsedColumn(), console=errors, transient=True, disable=not live
    ) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def _openb(
    source: Path, pods: Path | None, seed: int, tenants: int
) -> tuple[list[SimJob], ClusterSpec, str]:
    from silkroute.sim import openb
    from silkroute.sim.neutral import cluster_from_nodes

    folder = openb.find_trace_dir(source)
    pod_file = pods if pods is not None else folder / OPENB_PODS
    if pods is not None and not pods.exists() and (folder / pods).exists():
        pod_file = folder / pods
    nodes = openb.load_nodes(folder / OPENB_NODES)
    jobs, skipped = openb.pods_to_jobs(openb.load_pods(pod_file), seed=seed, tenants=tenants)
    if not jobs:  # it wrote an empty trace, which `trace validate` refuses
        raise SpecError(f"{pod_file}: no pod ran (all {skipped} have no run time): no job to write")
    cluster = cluster_from_nodes(nodes, "openb", country="CN", operator="alibaba")
    note = (
        f"from Alibaba openb (cluster-trace-gpu-v2023): {pod_file.name}, seed {seed}, "
        f"{tenants} tenants; {skipped} pods that never ran skipped"
    )
    return jobs, cluster, note


def _gavel(source: Path, throughputs: Path | None) -> tuple[list[SimJob], ClusterSpec, str]:
    from silkroute.sim.gavel import load_gavel_trace

    if source.is_dir():
        raise SpecError(f"{source}: give a Gavel .trace file, not a folder")
    jobs, skips = load_gavel_trace(source, throughputs)
    cluster = ClusterSpec(
        name="gavel",
        sites=[
            SiteSpec(
                name="gavel",
                country="US",
                operator="gavel-osdi20",
                nodes=[
                    NodeGroupSpec(count=n, accelerator=t, accelerators=1, cpu=8, memory_gib=64)
                    for t, n in GAVEL_CLUSTER.items()
                ],
            )
        ],
    )
    reasons = ", ".join(f"{k} x{v}" for k, v in skips.by_reason.most_common(3))
    note = (
        f"from Gavel (OSDI'20) trace {source.name}: {skips.total_lines} lines, "
        f"{skips.skipped} skipped (no throughput: {reasons or 'none'}); job names made valid"
    )
    return with_safe_names(jobs), cluster, note


def _check_file_to_write(option: str, path: Path) -> None:
    """Refuse, before the conversion, a file that could not be written (it failed after)."""
    if path.is_dir():
        raise _fail(f"{option} {path}: is a folder; give the file to write")
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise _fail(f"{option} {path}: {blocking} is a file, not a folder")


@trace_app.command("convert")
def convert(
    source: Annotated[Path, typer.Argument(help="openb: the trace folder; gavel: the .trace file")],
    source_format: Annotated[
        SourceFormat, typer.Option("--from", help="Format of SOURCE", case_sensitive=False)
    ],
    out: Annotated[Path, typer.Option("--out", help="The JSONL trace to write")],
    cluster_out: Annotated[
        Path | None,
        typer.Option(help="Also write the trace's cluster (openb: its node list) as YAML"),
    ] = None,
    pods: Annotated[
        Path | None,
        typer.Option(help=f"openb: pod list, a path or a name in SOURCE [{OPENB_PODS}]"),
    ] = None,
    throughputs: Annotated[
        Path | None,
        typer.Option(help="gavel: throughputs JSON [simulation_throughputs.json beside SOURCE]"),
    ] = None,
    seed: Annotated[int, typer.Option(help="openb: seed for dealing pods to tenants", min=0)] = 0,
    tenants: Annotated[int, typer.Option(help="openb: tenants to deal pods to", min=1)] = 8,
) -> None:
    """Write a public trace as a neutral JSONL trace (and optionally its cluster file)."""
    from silkroute.sim.neutral import write_cluster, write_neutral_trace

    # Each was ignored, unsaid, with the other format.
    if source_format is SourceFormat.OPENB and throughputs is not None:
        raise _fail("--throughputs: only for --from gavel")
    if source_format is SourceFormat.GAVEL and pods is not None:
        raise _fail("--pods: only for --from openb")
    _check_file_to_write("--out", out)
    if cluster_out is not None:
        _check_file_to_write("--cluster-out", cluster_out)
    try:
        if source_format is SourceFormat.OPENB:
            jobs, cluster, note = _openb(source, pods, seed, tenants)
        else:
            jobs, cluster, note = _gavel(source, throughputs)
        header = f"silkroute neutral trace, see docs/trace-format.md\n{note}"
        with _progress(f"writing {out.name}", len(jobs)) as advance:
            count = write_neutral_trace(out, jobs, header=header, progress=advance)
        if cluster_out is not None:
            write_cluster(cluster_out, cluster, f"Cluster of a converted trace, {note}")
    except (SpecError, ValueError) as exc:
        raise _fail(str(exc)) from None
    except OSError as exc:  # a folder in the way of --out, or one that cannot be made
        raise _fail(f"cannot write {exc.filename or out}: {exc.strerror}") from None
    wrote = f"wrote {count:,} jobs to {out}"
    console.print(wrote + (f" and the cluster to {cluster_out}" if cluster_out else ""))
    console.print(note, highlight=False)


@trace_app.command("validate")
def validate(
    path: Annotated[Path, typer.Argument(help="A neutral JSONL trace")],
    cluster: Annotated[
        Path | None,
        typer.Option(help="Check the jobs can run on this cluster (allows its type codes)"),
    ] = None,
) -> None:
    """Check a trace; print its job count, time span and types, or what is wrong (exit 2)."""
    from silkroute.sim.neutral import summarise

    try:
        spec = load_cluster(cluster) if cluster is not None else None
        summary = summarise(path, spec)
    except (SpecError, ValueError) as exc:
        raise _fail(str(exc)) from None
    span_h = summary.span_s / 3600
    console.print(
        f"{path}: {summary.jobs:,} jobs, {len(summary.tenants):,} tenants, submitted over "
        f"{summary.span_s:,.0f} s ({span_h:,.1f} h) from t={summary.first_submit_s:,.0f} s; "
        f"{summary.gpu_hours:,.0f} accelerator-hours on the fastest types",
        highlight=False,
    )
    types = ", ".join(f"{t} {n:,}" for t, n in summary.types.most_common())
    console.print(f"jobs accepting each type: {types}", highlight=False)
    if spec is not None:
        console.print(f"every job can run on cluster {spec.name}", highlight=False)


@trace_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of one trace line (docs/trace.schema.json)."""
    from silkroute.sim.neutral import schema_text

    sys.stdout.write(schema_text())
