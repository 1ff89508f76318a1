"""Free capacity of every node and accelerator, indexed for the scheduler's hot loop.

Nodes live in numpy arrays so that filters and scores run over a whole pool at once.
A *pool* is the nodes of one site with one accelerator type (or no accelerator); the
per-pool counters let the scheduler reject a job in O(1) when a pool cannot hold it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from silkroute.model.cluster import ClusterSpec
from silkroute.model.workload import MILLI, Demand

IntArray = npt.NDArray[np.int64]
BIG = np.int64(1 << 40)
RELEASE_LOG_KEEP = 100_000


@dataclass(frozen=True, slots=True)
class NodeInfo:
    name: str
    site: str
    accelerator: str | None
    accelerators: int
    cpu_milli: int
    mem_mib: int


@dataclass(frozen=True, slots=True)
class Pool:
    index: int
    site: int
    site_name: str
    accelerator: str | None
    nodes: IntArray


@dataclass(slots=True)
class Allocation:
    """Where a gang runs: for each worker, its node and the accelerator slots it holds."""

    pool: int
    demand: Demand
    workers: list[tuple[int, tuple[int, ...]]]

    def nodes(self) -> list[int]:
        return sorted({node for node, _ in self.workers})


class ClusterState:
    def __init__(self, nodes: Sequence[NodeInfo]) -> None:
        if not nodes:
            raise ValueError("a cluster needs at least one node")
        self.node_names = [n.name for n in nodes]
        self.site_names = sorted({n.site for n in nodes})
        site_index = {s: i for i, s in enumerate(self.site_names)}
        self.type_names = sorted({n.accelerator for n in nodes if n.accelerator})
        width = max(1, max(n.accelerators for n in nodes))
        count = len(nodes)
        self.node_site = np.array([site_index[n.site] for n in nodes], dtype=np.int64)
        self.gpu_count = np.array([n.accelerators for n in nodes], dtype=np.int64)
        self.gpu_cap = np.zeros((count, width), dtype=np.int64)
        for i, n in enumerate(nodes):
            self.gpu_cap[i, : n.accelerators] = MILLI
        self.gpu_free = self.gpu_cap.copy()
        # Per-node counters kept in step with gpu_free, so the common whole-device case
        # needs one 1-D lookup instead of a pass over every slot.
        self.node_whole_free, self.node_milli_free = node_counters(self.gpu_free)
        self.cpu_cap = np.array([n.cpu_milli for n in nodes], dtype=np.int64)
        self.mem_cap = np.array([n.mem_mib for n in nodes], dtype=np.int64)
        self.cpu_free = self.cpu_cap.copy()
        self.mem_free = self.mem_cap.copy()
        self.node_type: list[str | None] = [
            n.accelerator if n.accelerators else None for n in nodes
        ]

        keyed: dict[tuple[int, str | None], list[int]] = {}
        for i, n in enumerate(nodes):
            keyed.setdefault((site_index[n.site], self.node_type[i]), []).append(i)
        self.pools: list[Pool] = []
        for pool_index, (key, members) in enumerate(
            sorted(keyed.items(), key=lambda kv: (kv[0][0], kv[0][1] or ""))
        ):
            site, accel = key
            idx = np.array(members, dtype=np.int64)
            self.pools.append(Pool(pool_index, site, self.site_names[site], accel, idx))
        self.pool_of_node = np.zeros(count, dtype=np.int64)
        self.position_in_pool = np.zeros(count, dtype=np.int64)
        for pool in self.pools:
            self.pool_of_node[pool.nodes] = pool.index
            self.position_in_pool[pool.nodes] = np.arange(len(pool.nodes))
        self.node_pool: list[int] = self.pool_of_node.tolist()  # plain ints for Python loops
        self.pools_by_site_type = {(p.site_name, p.accelerator): p.index for p in self.pools}
        # O(1) counters per pool.
        self.pool_whole_free = [int((self.gpu_free[p.nodes] == MILLI).sum()) for p in self.pools]
        self.pool_milli_free = [int(self.gpu_free[p.nodes].sum()) for p in self.pools]
        self.pool_cpu_free = [int(self.cpu_free[p.nodes].sum()) for p in self.pools]
        # How many nodes of each pool have exactly k whole devices free: bounds how many
        # whole-device workers a pool can take without looking at its nodes.
        self.pool_whole_hist = [
            np.bincount(self.node_whole_free[p.nodes], minlength=width + 1).tolist()
            for p in self.pools
        ]
        self.pool_gpu_capacity = [int(self.gpu_count[p.nodes].sum()) for p in self.pools]
        # Bumped whenever a pool gets capacity back: a job that did not fit in a pool whose
        # epoch has not moved still does not fit, so the scheduler can skip it cheaply.
        self.pool_epoch = [0] * len(self.pools)
        # Every node that got capacity back, in order (see skipping.still_no_room). Positions
        # are absolute; only the last RELEASE_LOG_KEEP entries are kept (a server runs for
        # months), and a position older than that reads as "unknown: look again".
        self.release_log: list[int] = []
        self.release_log_base = 0
        # Drained nodes: their free capacity is held here so no new work lands on them.
        self.cordoned: dict[int, tuple[IntArray, int, int]] = {}
        self.capacity_milli = int(self.gpu_cap.sum())
        self.allocated_milli = 0
        self.capacity_by_type: dict[str, int] = {}
        for p in self.pools:
            if p.accelerator:
                self.capacity_by_type[p.accelerator] = (
                    self.capacity_by_type.get(p.accelerator, 0) + self.pool_gpu_capacity[p.index]
                )
        self.capacity_cpu_milli = int(self.cpu_cap.sum())

    # ----- construction ---------------------------------------------------------------
    def node_infos(self) -> list[NodeInfo]:
        return [
            NodeInfo(
                name=self.node_names[i],
                site=self.site_names[int(self.node_site[i])],
                accelerator=self.node_type[i],
                accelerators=int(self.gpu_count[i]),
                cpu_milli=int(self.cpu_cap[i]),
                mem_mib=int(self.mem_cap[i]),
            )
            for i in range(len(self.node_names))
        ]

    @classmethod
    def from_spec(cls, spec: ClusterSpec) -> ClusterState:
        nodes: list[NodeInfo] = []
        for site in spec.sites:
            serial = 0
            for group in site.nodes:
                prefix = group.name_prefix or f"{site.name}-{(group.accelerator or 'cpu').lower()}"
                for _ in range(group.count):
                    nodes.append(
                        NodeInfo(
                            name=f"{prefix}-{serial:05d}",
                            site=site.name,
                            accelerator=group.accelerator,
                            accelerators=group.accelerators if group.accelerator else 0,
                            cpu_milli=round(group.cpu * 1000),
                            mem_mib=round(group.memory_gib * 1024),
                        )
                    )
                    serial += 1
        return cls(nodes)

    # ----- capacity queries (vectorised over a node index array) ---------------------
    def worker_capacity(self, nodes: IntArray, demand: Demand) -> IntArray:
        """How many workers of `demand` each node in `nodes` can take right now."""
        if demand.gpu_slots == 0:
            by_gpu = np.full(len(nodes), BIG, dtype=np.int64)
        elif demand.gpu_milli == MILLI:
            by_gpu = self.node_whole_free[nodes] // demand.gpu_slots
        else:
            by_gpu = (self.gpu_free[nodes] // demand.gpu_milli).sum(axis=1)
        if demand.cpu_milli:
            by_gpu = np.minimum(by_gpu, self.cpu_free[nodes] // demand.cpu_milli)
        if demand.mem_mib:
            by_gpu = np.minimum(by_gpu, self.mem_free[nodes] // demand.mem_mib)
        return by_gpu

    def pool_may_fit(self, pool: int, demand: Demand, workers: int) -> bool:
        """O(1) necessary condition, from the pool counters."""
        if demand.gpu_slots and self.pools[pool].accelerator is None:
            return False
        if demand.gpu_milli == MILLI:
            if self.pool_whole_free[pool] < demand.gpu_slots * workers:
                return False
            hist = self.pool_whole_hist[pool]
            per_node = demand.gpu_slots
            if sum(count * (k // per_node) for k, count in enumerate(hist) if k >= per_node) < (
                workers
            ):
                return False
        elif demand.gpu_slots and self.pool_milli_free[pool] < demand.gpu_milli * workers:
            return False
        return self.pool_cpu_free[pool] >= demand.cpu_milli * workers

    # ----- mutation ------------------------------------------------------------------
    def apply(self, alloc: Allocation) -> None:
        self._change(alloc, -1)

    def release(self, alloc: Allocation) -> None:
        self._change(alloc, +1)
        if self.cordoned:
            for node in {node for node, _ in alloc.workers if node in self.cordoned}:
                self._hold_free(node)
        self.pool_epoch[alloc.pool] += 1
        self.release_log.extend(node for node, _ in alloc.workers)
        if len(self.release_log) > 2 * RELEASE_LOG_KEEP:
            drop = len(self.release_log) - RELEASE_LOG_KEEP
            del self.release_log[:drop]
            self.release_log_base += drop

    def log_position(self) -> int:
        return self.release_log_base + len(self.release_log)

    def released_since(self, position: int) -> list[int] | None:
        """Nodes that got capacity back since `position`; None when that is forgotten."""
        if position < self.release_log_base:
            return None
        return self.release_log[position - self.release_log_base :]

    # ----- draining ------------------------------------------------------------------
    def cordon(self, node: int) -> None:
        """No new work on `node`: hold its free capacity (and all it gets back) aside."""
        if node in self.cordoned:
            return
        width = self.gpu_free.shape[1]
        self.cordoned[node] = (np.zeros(width, dtype=np.int64), 0, 0)
        self._hold_free(node)

    def uncordon(self, node: int) -> None:
        held = self.cordoned.pop(node, None)
        if held is None:
            return
        gpu, cpu, mem = held
        self._set_free(
            node,
            self.gpu_free[node] + gpu,
            int(self.cpu_free[node]) + cpu,
            int(self.mem_free[node]) + mem,
        )
        self.pool_epoch[self.node_pool[node]] += 1
        self.release_log.append(node)

    def _hold_free(self, node: int) -> None:
        gpu, cpu, mem = self.cordoned[node]
        self.cordoned[node] = (
            gpu + self.gpu_free[node],
            cpu + int(self.cpu_free[node]),
            mem + int(self.mem_free[node]),
        )
        self._set_free(node, np.zeros_like(self.gpu_free[node]), 0, 0)

    def _set_free(self, node: int, gpu_row: IntArray, cpu: int, mem: int) -> None:
        """Set one node's free capacity, keeping every counter in step (not `allocated`)."""
        pool = self.node_pool[node]
        hist = self.pool_whole_hist[pool]
        old_whole = int(self.node_whole_free[node])
        old_milli = int(self.node_milli_free[node])
        old_cpu = int(self.cpu_free[node])
        self.gpu_free[node] = gpu_row
        self.cpu_free[node] = cpu
        self.mem_free[node] = mem
        whole = int((gpu_row == MILLI).sum())
        milli = int(gpu_row.sum())
        self.node_whole_free[node] = whole
        self.node_milli_free[node] = milli
        hist[old_whole] -= 1
        hist[whole] += 1
        self.pool_whole_free[pool] += whole - old_whole
        self.pool_milli_free[pool] += milli - old_milli
        self.pool_cpu_free[pool] += cpu - old_cpu

    def _change(self, alloc: Allocation, sign: int) -> None:
        d = alloc.demand
        pool = alloc.pool
        hist = self.pool_whole_hist[pool]
        for node, slots in alloc.workers:
            hist[self.node_whole_free[node]] -= 1
            self.cpu_free[node] += sign * d.cpu_milli
            self.mem_free[node] += sign * d.mem_mib
            for slot in slots:
                before = int(self.gpu_free[node, slot])
                after = before + sign * d.gpu_milli
                if after < 0 or after > MILLI:
                    raise ValueError(f"accelerator {node}/{slot} would hold {after} milli")
                self.gpu_free[node, slot] = after
                if before == MILLI:
                    self.pool_whole_free[pool] -= 1
                    self.node_whole_free[node] -= 1
                if after == MILLI:
                    self.pool_whole_free[pool] += 1
                    self.node_whole_free[node] += 1
            self.node_milli_free[node] += sign * d.gpu_milli * len(slots)
            hist[self.node_whole_free[node]] += 1
            if self.cpu_free[node] < 0 or self.mem_free[node] < 0:
                raise ValueError(f"node {self.node_names[node]} over-allocated")
        total = len(alloc.workers)
        self.pool_milli_free[pool] += sign * d.gpu_milli * d.gpu_slots * total
        self.pool_cpu_free[pool] += sign * d.cpu_milli * total
        self.allocated_milli -= sign * d.gpu_milli * d.gpu_slots * total

    @contextmanager
    def what_if(self, gpu_free: IntArray, cpu_free: IntArray, mem_free: IntArray) -> Iterator[None]:
        """Let queries see other free arrays (a future or hypothetical cluster) for a moment.

        The pool counters are not swapped: callers must not rely on `pool_may_fit` inside."""
        saved = (
            self.gpu_free,
            self.cpu_free,
            self.mem_free,
            self.node_whole_free,
            self.node_milli_free,
        )
        self.gpu_free, self.cpu_free, self.mem_free = gpu_free, cpu_free, mem_free
        self.node_whole_free, self.node_milli_free = node_counters(gpu_free)
        try:
            yield
        finally:
            (
                self.gpu_free,
                self.cpu_free,
                self.mem_free,
                self.node_whole_free,
                self.node_milli_free,
            ) = saved

    def free_arrays(self) -> tuple[IntArray, IntArray, IntArray]:
        return self.gpu_free, self.cpu_free, self.mem_free

    def epoch_sum(self, pools: Iterable[int]) -> int:
        epochs = self.pool_epoch
        return sum(epochs[p] for p in pools)

    # ----- helpers -------------------------------------------------------------------
    def pools_for(
        self,
        accelerator_types: Iterable[str] | None,
        sites: Iterable[str] | None,
        needs_accelerator: bool,
    ) -> list[int]:
        wanted_sites = set(sites) if sites is not None else None
        wanted_types = set(accelerator_types) if accelerator_types is not None else None
        out = []
        for p in self.pools:
            if wanted_sites is not None and p.site_name not in wanted_sites:
                continue
            if needs_accelerator:
                if p.accelerator is None:
                    continue
                if wanted_types is not None and p.accelerator not in wanted_types:
                    continue
            out.append(p.index)
        return out

    def check_invariants(self) -> None:
        """Raise if any accelerator, CPU or memory is over-allocated (tests use this)."""
        held = self.gpu_free.copy()
        for node, (gpu, _, _) in self.cordoned.items():
            held[node] += gpu
        if (self.gpu_free < 0).any() or (held > self.gpu_cap).any():
            raise AssertionError("accelerator share out of range")
        if (self.cpu_free < 0).any() or (self.mem_free < 0).any():
            raise AssertionError("CPU or memory over-allocated")
        whole, milli = node_counters(self.gpu_free)
        assert (whole == self.node_whole_free).all() and (milli == self.node_milli_free).all()
        for p in self.pools:
            counts = np.bincount(whole[p.nodes], minlength=len(self.pool_whole_hist[p.index]))
            assert counts.tolist() == self.pool_whole_hist[p.index]
            assert self.pool_whole_free[p.index] == int((self.gpu_free[p.nodes] == MILLI).sum())
            assert self.pool_milli_free[p.index] == int(self.gpu_free[p.nodes].sum())
            assert self.pool_cpu_free[p.index] == int(self.cpu_free[p.nodes].sum())


def node_counters(gpu_free: IntArray) -> tuple[IntArray, IntArray]:
    """Whole free devices and free thousandths, per node."""
    return (gpu_free == MILLI).sum(axis=1), gpu_free.sum(axis=1)


def worker_capacity(
    gpu_free: IntArray, cpu_free: IntArray, mem_free: IntArray, demand: Demand
) -> IntArray:
    """Workers of `demand` that fit on each row (node) of the given free arrays."""
    if demand.gpu_slots == 0:
        by_gpu = np.full(len(cpu_free), BIG, dtype=np.int64)
    elif demand.gpu_milli == MILLI:
        by_gpu = (gpu_free == MILLI).sum(axis=1) // demand.gpu_slots
    else:
        by_gpu = (gpu_free // demand.gpu_milli).sum(axis=1)
    by_cpu = cpu_free // demand.cpu_milli if demand.cpu_milli else np.full_like(by_gpu, BIG)
    by_mem = mem_free // demand.mem_mib if demand.mem_mib else np.full_like(by_gpu, BIG)
    return np.minimum(np.minimum(by_gpu, by_cpu), by_mem)


def add_back(alloc: Allocation, gpu: IntArray, cpu: IntArray, mem: IntArray) -> None:
    """Return `alloc`'s resources into free arrays other than the live ones (what-if views)."""
    d = alloc.demand
    for node, slots in alloc.workers:
        cpu[node] += d.cpu_milli
        mem[node] += d.mem_mib
        for slot in slots:
            gpu[node, slot] += d.gpu_milli


def add_back_all(
    allocs: list[Allocation], gpu: IntArray, cpu: IntArray, mem: IntArray
) -> tuple[IntArray, IntArray, IntArray]:
    """`add_back` for many allocations at once (vectorised); returns the arrays."""
    rows: list[int] = []
    slots: list[int] = []
    milli: list[int] = []
    nodes: list[int] = []
    cpus: list[int] = []
    mems: list[int] = []
    for alloc in allocs:
        d = alloc.demand
        for node, held in alloc.workers:
            nodes.append(node)
            cpus.append(d.cpu_milli)
            mems.append(d.mem_mib)
            for slot in held:
                rows.append(node)
                slots.append(slot)
                milli.append(d.gpu_milli)
    np.add.at(gpu, (np.array(rows, dtype=np.int64), np.array(slots, dtype=np.int64)), milli)
    np.add.at(cpu, np.array(nodes, dtype=np.int64), cpus)
    np.add.at(mem, np.array(nodes, dtype=np.int64), mems)
    return gpu, cpu, mem
