"""Turn a `--trace` argument into nodes, sites and jobs ready to simulate."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from silkroute.model.cluster import ClusterSpec, load_cluster
from silkroute.model.errors import SpecError
from silkroute.model.tenant import TenantSpec
from silkroute.scheduler.sites import SiteCatalog
from silkroute.scheduler.state import ClusterState, NodeInfo
from silkroute.sim import openb, scaling, synthetic
from silkroute.sim.scaling import compress_arrivals, estimate_factor, split_sites, with_time_limits
from silkroute.sim.truth import SimJob

SHARED_OPENB = Path("..") / "shared" / "data" / "traces" / "alibaba-openb-2023"
DEFAULT_SYNTHETIC_CLUSTER = Path("examples") / "clusters" / "asean-5000pf.yaml"
DEFAULT_GAVEL_CLUSTER = Path("examples") / "clusters" / "gavel-36x3.yaml"


@dataclass
class Workload:
    name: str
    nodes: list[NodeInfo]
    jobs: list[SimJob]
    sites: SiteCatalog = field(default_factory=lambda: SiteCatalog([]))
    tenants: list[TenantSpec] = field(default_factory=list)
    notes: dict[str, float | str] = field(default_factory=dict)


def nodes_of(spec: ClusterSpec) -> list[NodeInfo]:
    state = ClusterState.from_spec(spec)
    site_of = [state.site_names[s] for s in state.node_site]
    return [
        NodeInfo(
            name=state.node_names[i],
            site=site_of[i],
            accelerator=state.node_type[i],
            accelerators=int(state.gpu_count[i]),
            cpu_milli=int(state.cpu_cap[i]),
            mem_mib=int(state.mem_cap[i]),
        )
        for i in range(len(state.node_names))
    ]


def load_workload(
    trace: str,
    *,
    cluster: str | None = None,
    load: float = 1.0,
    sites: int = 1,
    seed: int = 0,
    estimates: str = "exact",
    jobs: int | None = None,
    shrink: float = 1.0,
) -> Workload:
    """`trace`: an openb folder, `auto` (openb from ../shared if present, else synthetic),
    `synthetic`, or a neutral JSONL trace file (with `cluster`)."""
    check_options(load=load, sites=sites, seed=seed, estimates=estimates, jobs=jobs, shrink=shrink)
    if trace == "auto":
        trace = str(SHARED_OPENB) if SHARED_OPENB.exists() else "synthetic"
    if trace == "synthetic":
        workload = _synthetic(cluster, jobs or 10_000, load, seed)
        load = 1.0  # the generator already offered `load`
    elif trace.lower().endswith(".jsonl"):
        from silkroute.sim.neutral import load_neutral_trace

        if cluster is None:
            raise SpecError("--cluster: a JSONL trace needs a cluster file")
        spec = load_cluster(cluster)
        jobs_of_trace = load_neutral_trace(trace, cluster=spec)
        workload = Workload(
            Path(trace).stem, nodes_of(spec), jobs_of_trace, SiteCatalog.from_spec(spec)
        )
    elif trace.lower().endswith(".trace") or (Path(trace) / "simulation_throughputs.json").exists():
        workload = _gavel(trace, cluster)
    else:
        folder = openb.find_trace_dir(trace)
        if cluster is not None:  # it was ignored, unsaid
            raise SpecError(
                f"--cluster: an openb trace runs on its own nodes ({folder}); "
                "`silkroute trace convert` it to run its jobs on another cluster"
            )
        nodes = openb.load_nodes(folder / "openb_node_list_all_node.csv")
        pods = openb.load_pods(folder / "openb_pod_list_default.csv")
        replay, skipped = openb.pods_to_jobs(pods, seed=seed)
        workload = Workload("openb", nodes, replay, notes={"pods_never_ran_skipped": skipped})
    if jobs is not None:
        workload.jobs = workload.jobs[:jobs]
    workload.jobs = with_time_limits(compress_arrivals(workload.jobs, load), estimates)
    if shrink != 1.0:
        workload.nodes = scaling.shrink(workload.nodes, shrink)
    workload.nodes = split_sites(workload.nodes, sites) if sites > 1 else workload.nodes
    workload.notes.update(load=load, sites=sites, seed=seed, estimates=estimates, shrink=shrink)
    return workload


def check_options(
    *, load: float, sites: int, seed: int, estimates: str, jobs: int | None, shrink: float
) -> None:
    """Refuse a bad option before any trace is read, naming it (`--jobs -3` kept all but the
    last three jobs, `--sites 0` was taken as 1, `--load nan` never finished)."""
    compress_arrivals([], load)
    split_sites([], sites)
    scaling.shrink([], shrink)
    estimate_factor(estimates)
    if jobs is not None and jobs < 1:
        raise SpecError(f"--jobs: must be >= 1 (got {jobs})")
    if seed < 0:  # numpy's generators take no negative seed
        raise SpecError(f"--seed: must be >= 0 (got {seed})")


def _default_cluster(path: Path) -> Path:
    """A default cluster file: relative to the repository, so run from its root."""
    if not path.is_file():
        raise SpecError(
            f"--cluster: the default cluster {path} is not here (it is relative to the "
            "repository's root); run from there, or give --cluster"
        )
    return path


def _synthetic(cluster: str | None, count: int, load: float, seed: int) -> Workload:
    path = Path(cluster) if cluster else _default_cluster(DEFAULT_SYNTHETIC_CLUSTER)
    spec = load_cluster(path)
    nodes = nodes_of(spec)
    capacity = sum(n.accelerators for n in nodes)
    if not capacity:  # the arrival rate divided by it: a ZeroDivisionError traceback
        raise SpecError(f"{path}: cluster {spec.name!r} has no accelerators to offer a load on")
    shape = synthetic.WorkloadShape(jobs=count)
    jobs = synthetic.generate(shape, capacity, load, seed)
    return Workload(f"synthetic-{count}", nodes, jobs, SiteCatalog.from_spec(spec))


def _gavel(trace: str, cluster: str | None) -> Workload:
    """A Gavel trace file, or Gavel's folder (its largest trace), on Gavel's cluster."""
    from silkroute.sim.gavel import load_gavel_trace

    path = Path(trace)
    if path.is_dir():
        traces = sorted(path.glob("*.trace"))
        if not traces:
            raise SpecError(f"--trace {trace}: no *.trace file in this folder")
        path = max(traces, key=lambda p: p.stat().st_size)
    spec = load_cluster(Path(cluster) if cluster else _default_cluster(DEFAULT_GAVEL_CLUSTER))
    jobs, skips = load_gavel_trace(path)
    return Workload(f"gavel-{path.stem}", nodes_of(spec), jobs, notes=skips.summary())
