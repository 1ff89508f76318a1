"""GPU fragmentation as FGD (Weng et al., USENIX ATC'23) defines it, computed over numpy arrays.

A node's fragmentation is the GPU capacity (in thousandths) that a *typical* task could not use
there, in expectation over the target workload: for each task shape, all of the node's idle GPU
counts when the shape does not fit on the node (too few accelerators with its per-GPU share, too
little CPU, or the wrong accelerator type), else only the idle parts of accelerators smaller than
its per-GPU share. A CPU-only shape can use no GPU at all, so all idle GPU counts for it (as in
FGD's simulator). Memory is not part of a shape: FGD's shapes are (cpu, share, count, type).

Per node and shape we keep two numbers, `ge` (accelerators with at least the shape's share free)
and `small` (idle thousandths on accelerators below the share). A placement changes one node,
so the scorer and the experiment's metrics refresh only the rows that moved.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from silkroute.model.workload import MILLI, Demand
from silkroute.scheduler.state import ClusterState, IntArray

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
COVERAGE = 0.95  # FGD's default popularity threshold for typical pods


@dataclass(frozen=True, slots=True)
class Shape:
    cpu_milli: int
    gpu_milli: int  # per accelerator; 0 for CPU-only
    gpu_count: int
    gpu_types: tuple[str, ...] | None  # None: any type

    @staticmethod
    def of(demand: Demand, gpu_types: Sequence[str] | None = None) -> Shape:
        types = tuple(sorted(gpu_types)) if gpu_types and demand.gpu_slots else None
        return Shape(demand.cpu_milli, demand.gpu_milli, demand.gpu_slots, types)


class TargetWorkload:
    """The most popular shapes covering `coverage` of the tasks, weighted by popularity."""

    def __init__(
        self,
        shapes: Sequence[Shape],
        weights: Sequence[float],
        memory: Sequence[float] | None = None,
    ) -> None:
        if not shapes or len(shapes) != len(weights):
            raise ValueError("a target workload needs shapes, one weight each")
        if memory is not None and len(memory) != len(shapes):
            raise ValueError("a target workload's memory needs one value per shape")
        total = float(sum(weights))
        self.shapes = tuple(shapes)
        self.weight = np.array(weights, dtype=np.float64) / total
        self.cpu = np.array([s.cpu_milli for s in shapes], dtype=np.int64)
        self.milli = np.array([s.gpu_milli for s in shapes], dtype=np.int64)
        self.count = np.array([s.gpu_count for s in shapes], dtype=np.int64)
        self.uses_gpu = self.count > 0
        # Mean memory (MiB) of the tasks of each shape; 0 where unknown. FGD's shapes have no
        # memory and its score ignores this; silk-r5 reads it to see memory-stranded GPUs.
        self.mem = np.zeros(len(shapes)) if memory is None else np.asarray(memory, np.float64)
        # What `from_counts` ranked (every shape, most popular first), for `full_coverage`.
        self._every: tuple[list[tuple[float, Shape]], Mapping[Shape, float] | None] | None = None
        self._full: TargetWorkload | None = None

    @classmethod
    def from_shapes(
        cls,
        shapes: Iterable[Shape],
        coverage: float = COVERAGE,
        weigh: Callable[[Shape], float] | None = None,
        memory: Mapping[Shape, float] | None = None,
    ) -> TargetWorkload:
        """Popularity = how many tasks have the shape, times `weigh(shape)` when given;
        `memory`: the mean memory (MiB) of each shape's tasks, when known."""
        return cls.from_counts(Counter(shapes), coverage, weigh, memory)

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[Shape, int],
        coverage: float = COVERAGE,
        weigh: Callable[[Shape], float] | None = None,
        memory: Mapping[Shape, float] | None = None,
    ) -> TargetWorkload:
        """As `from_shapes`, from how many tasks have each shape."""
        mass = {s: n * (weigh(s) if weigh else 1.0) for s, n in counts.items()}
        # Most popular first; equal masses in a fixed order so that runs are reproducible.
        ranked = sorted(
            ((m, s) for s, m in mass.items() if m > 0), key=lambda x: (-x[0], repr(x[1]))
        )
        total = sum(m for m, _ in ranked)
        chosen: list[tuple[float, Shape]] = []
        covered = 0.0
        for m, shape in ranked:
            if covered >= coverage * total:
                break
            chosen.append((m, shape))
            covered += m
        shapes = [s for _, s in chosen]
        mem = None if memory is None else [float(memory.get(s, 0.0)) for s in shapes]
        target = cls(shapes, [m for m, _ in chosen], mem)
        target._every = (ranked, memory)
        return target

    def full_coverage(self) -> TargetWorkload:
        """Every shape the target was learnt from, weighted by popularity (coverage 1.0), not
        only the typical ones; itself where it was given shape by shape. Built once."""
        if self._every is None:
            return self
        if self._full is None:
            ranked, memory = self._every
            shapes = [s for _, s in ranked]
            mem = None if memory is None else [float(memory.get(s, 0.0)) for s in shapes]
            self._full = TargetWorkload(shapes, [m for m, _ in ranked], mem)
        return self._full

    def type_ok(self, state: ClusterState) -> BoolArray:
        """[node, shape]: may the shape run on the node's accelerator type at all?"""
        ok = np.ones((len(state.node_names), len(self.shapes)), dtype=bool)
        for j, shape in enumerate(self.shapes):
            if shape.gpu_types is not None:
                allowed = set(shape.gpu_types)
                ok[:, j] = [t in allowed for t in state.node_type]
        return ok


@dataclass(slots=True)
class Stats:
    """Per-row shape statistics: `ge`[row, shape] accelerators with at least the shape's share
    free, `small`[row, shape] idle thousandths on smaller ones, idle GPU, free CPU, type fit."""

    ge: IntArray
    small: IntArray
    idle: IntArray
    cpu: IntArray
    type_ok: BoolArray

    @staticmethod
    def of(target: TargetWorkload, gpu_free: IntArray, cpu: IntArray, type_ok: BoolArray) -> Stats:
        milli = target.milli[None, None, :]
        free = gpu_free[:, :, None]
        ge = (free >= milli).sum(axis=1)
        small = np.where(free < milli, free, 0).sum(axis=1)
        return Stats(ge, small, gpu_free.sum(axis=1), cpu.copy(), type_ok)

    def take(self, rows: IntArray) -> Stats:
        return Stats(
            self.ge[rows], self.small[rows], self.idle[rows], self.cpu[rows], self.type_ok[rows]
        )

    def put(self, rows: IntArray, other: Stats) -> None:
        self.ge[rows], self.small[rows], self.idle[rows] = other.ge, other.small, other.idle
        self.cpu[rows] = other.cpu

    def frag(self, target: TargetWorkload) -> FloatArray:
        """Expected unusable idle GPU thousandths per row (the F_n(M) of the FGD paper)."""
        fits = (
            self.type_ok
            & target.uses_gpu
            & (self.ge >= target.count)
            & (self.cpu[:, None] >= target.cpu)
        )
        unusable = np.where(fits, self.small, self.idle[:, None])
        return np.asarray(unusable @ target.weight, dtype=np.float64)

    def after_share(self, target: TargetWorkload, before: IntArray, demand: Demand) -> Stats:
        """Row k after one accelerator with `before[k]` free thousandths gives
        `demand.gpu_milli` of them (and the node `demand.cpu_milli`) to a worker."""
        after = before - demand.gpu_milli
        b, a, m = before[:, None], after[:, None], target.milli
        return Stats(
            self.ge - (b >= m) + (a >= m),
            self.small - np.where(b < m, b, 0) + np.where(a < m, a, 0),
            self.idle - demand.gpu_milli,
            self.cpu - demand.cpu_milli,
            self.type_ok,
        )

    def after_whole(self, demand: Demand) -> Stats:
        """Rows after a worker takes `demand.gpu_slots` whole accelerators (any: they are
        alike) and its CPU. Also right for CPU-only workers."""
        taken = demand.gpu_slots if demand.gpu_milli == MILLI else 0
        # A whole accelerator counts in `ge` for every share and never in `small`.
        return Stats(
            self.ge - taken,
            self.small,
            self.idle - taken * MILLI,
            self.cpu - demand.cpu_milli,
            self.type_ok,
        )


def node_fragmentation(state: ClusterState, target: TargetWorkload) -> FloatArray:
    """Fragmentation of every node, computed from scratch (tests and one-off reports)."""
    return Stats.of(target, state.gpu_free, state.cpu_free, target.type_ok(state)).frag(target)


class FragCache:
    """Per-node shape statistics of one `ClusterState`, refreshed only where nodes changed.

    `refresh()` compares the state's free arrays with a snapshot (cheap: one vector compare),
    so it stays exact whoever changed the state, including `what_if` swaps."""

    def __init__(self, state: ClusterState, target: TargetWorkload) -> None:
        self.state = state
        self.target = target
        self._gpu = state.gpu_free.copy()
        self.stats = Stats.of(target, self._gpu, state.cpu_free, target.type_ok(state))
        self.frag = self.stats.frag(target)

    def refresh(self) -> None:
        gpu, cpu = self.state.gpu_free, self.state.cpu_free
        changed = np.flatnonzero((gpu != self._gpu).any(axis=1) | (cpu != self.stats.cpu))
        if len(changed):
            self.update(changed)

    def update(self, changed: IntArray) -> None:
        """Recount the rows of the nodes in `changed` (a subclass may keep more per row)."""
        gpu, cpu = self.state.gpu_free, self.state.cpu_free
        self._gpu[changed] = gpu[changed]
        fresh = Stats.of(self.target, gpu[changed], cpu[changed], self.stats.type_ok[changed])
        self.stats.put(changed, fresh)
        self.frag[changed] = fresh.frag(self.target)

    def total(self) -> float:
        self.refresh()
        return float(self.frag.sum())
