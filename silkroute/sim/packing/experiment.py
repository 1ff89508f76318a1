"""The whole experiment: every (policy, seed) run, in parallel processes, results in order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from silkroute.model.errors import SpecError
from silkroute.scheduler.state import NodeInfo
from silkroute.sim.openb import Pod, find_trace_dir, load_nodes, load_pods
from silkroute.sim.packing.driver import RunResult, run_packing
from silkroute.sim.packing.policies import PACKING_POLICIES
from silkroute.sim.packing.variants import Variant, make_variant, spec_mix_of
from silkroute.sim.packing.workload import target_of

NODE_FILE = "openb_node_list_gpu_node.csv"
DEFAULT_PODS = "openb_pod_list_default.csv"


@dataclass(frozen=True, slots=True)
class Experiment:
    trace: Path
    pods_file: str
    policies: tuple[str, ...]
    seeds: tuple[int, ...]
    inflate: float
    # A generated variant of the pod list (`sharing60` ...), resampled with each run's seed;
    # `spec_mix` names the pod list whose GPU-type constraints a `gpuspec` variant draws.
    variant: str | None = None
    spec_mix: str | None = None

    @property
    def workload(self) -> str:
        """The workload's name: the pod list's stem, plus the variant when there is one."""
        stem = self.pods_file.removesuffix(".csv")
        return f"{stem}+{self.variant}" if self.variant else stem

    def check(self) -> None:
        """Raise SpecError/ValueError for bad input before any work starts."""
        find_trace_dir(self.trace)
        for name in (NODE_FILE, self.pods_file, self.spec_mix):
            if name is not None and not (self.trace / name).exists():
                raise SpecError(f"{self.trace}: no {name}")
        kind = Variant.parse(self.variant).kind if self.variant is not None else None
        if self.spec_mix is not None and kind != "gpuspec":  # it was ignored, unsaid
            raise ValueError("--spec-mix: only with a gpuspec variant (--variant gpuspec66 ...)")
        unknown = [p for p in self.policies if p not in PACKING_POLICIES]
        if unknown:
            raise ValueError(f"unknown policy {unknown[0]!r}; valid: {', '.join(PACKING_POLICIES)}")
        if not self.policies or not self.seeds:
            raise ValueError("name at least one policy and one seed")
        if not 0 < self.inflate <= 5:
            raise ValueError(f"--inflate must be in (0, 5] (got {self.inflate})")
        # Read here too (cached), so a trace that cannot be packed fails before any run: no
        # GPU gave NaN in every result, no pod asking for one a traceback from a worker.
        nodes, pods = _inputs(self.trace, self.pods_file)
        if not any(n.accelerators for n in nodes):
            raise SpecError(f"{self.trace / NODE_FILE}: no node has a GPU: nothing to pack")
        if not any(p.num_gpu for p in pods):
            raise SpecError(
                f"{self.trace / self.pods_file}: no pod asks for a GPU: nothing to pack"
            )


MAX_SEEDS = 10_000  # one run per policy and seed; `1-100000000000` ran out of memory


def parse_seeds(spec: str) -> tuple[int, ...]:
    """`42-51` or `1,2,3` (or a mix: `1,5-7`)."""
    seeds: dict[int, None] = {}
    for part in spec.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            lo, hi = int(first), int(last) if dash else int(first)
        except ValueError:
            raise ValueError(f"bad --seeds {spec!r}: use e.g. 42-51 or 1,2,3") from None
        if hi < lo:
            raise ValueError(f"bad --seeds {spec!r}: the range {part.strip()} runs backwards")
        if len(seeds) + hi - lo + 1 > MAX_SEEDS:
            raise ValueError(f"bad --seeds {spec!r}: more than {MAX_SEEDS:,} seeds")
        seeds.update(dict.fromkeys(range(lo, hi + 1)))
    return tuple(seeds)


@cache
def _inputs(trace: Path, pods_file: str) -> tuple[list[NodeInfo], list[Pod]]:
    # Cached per process: each worker reads the trace once.
    return load_nodes(trace / NODE_FILE), load_pods(trace / pods_file)


def workload_pods(exp: Experiment, seed: int) -> tuple[list[NodeInfo], list[Pod]]:
    """The cluster and the pod list of one run (the variant drawn with the run's seed)."""
    nodes, pods = _inputs(exp.trace, exp.pods_file)
    if exp.variant is None:
        return nodes, pods
    mix = spec_mix_of(_inputs(exp.trace, exp.spec_mix)[1]) if exp.spec_mix else []
    return nodes, make_variant(pods, Variant.parse(exp.variant), seed, nodes, mix)


def _run(exp: Experiment, policy: str, seed: int) -> RunResult:
    nodes, pods = workload_pods(exp, seed)
    return run_packing(nodes, pods, policy, seed, exp.inflate, target_of(pods))


def run_experiment(
    exp: Experiment, workers: int = 1, advance: Callable[[RunResult], None] | None = None
) -> list[RunResult]:
    """All runs, sorted by (policy order, seed) whatever order they finish in."""
    exp.check()
    tasks = [(p, s) for p in exp.policies for s in exp.seeds]
    results: list[RunResult] = []
    if workers <= 1:
        for p, s in tasks:
            results.append(_run(exp, p, s))
            if advance:
                advance(results[-1])
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            futures = [pool.submit(_run, exp, p, s) for p, s in tasks]
            for future in as_completed(futures):
                results.append(future.result())
                if advance:
                    advance(results[-1])
    order = {p: i for i, p in enumerate(exp.policies)}
    return sorted(results, key=lambda r: (order[r.policy], r.seed))


def experiment_from_options(
    trace: str | Path,
    pods: str,
    policies: str,
    seeds: str,
    inflate: float,
    variant: str | None = None,
    spec_mix: str | None = None,
) -> Experiment:
    names: Sequence[str] = [p.strip() for p in policies.split(",") if p.strip()]
    return Experiment(
        Path(trace),
        pods,
        tuple(dict.fromkeys(names)),
        parse_seeds(seeds),
        inflate,
        variant or None,
        spec_mix or None,
    )
