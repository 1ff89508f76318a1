"""GPU clustering (FGD's baseline): keep workers of the same GPU share together.

A node's tags are the per-GPU shares of the workers placed on it since it was last idle (an
idle node has none). Tiers, lower is better: only this worker's tag; this tag among others; an
idle node; other tags only. Inside a tier the node with less idle GPU wins. CPU-only workers do
not care (all nodes tie).

The tags are memory that outlives a step: they live in the book (`NodeTags`, by node name, so
they survive nodes being added or removed and come back with a rebuilt book), change only when
a start is taken (`placed`), and reading them changes nothing, so what-if placements (a node
idle only in an imagined future) leave them as they were.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.memory import PolicyMemory
from silkroute.scheduler.placement import FloatArray, NodeScorer, best_fit_slots
from silkroute.scheduler.state import Allocation, ClusterState, IntArray

if TYPE_CHECKING:
    from silkroute.scheduler.book import SchedulerBook

NO_TAGS: frozenset[int] = frozenset()


class NodeTags(PolicyMemory):
    """Per node name: the per-GPU shares (thousandths) placed there since it was last idle."""

    kind = "node-tags"

    def __init__(self, tags: dict[str, set[int]] | None = None) -> None:
        self.tags = tags if tags is not None else {}

    def of(self, state: ClusterState, node: int) -> set[int] | frozenset[int]:
        """The node's tags now (none while it is idle: its history no longer matters)."""
        tags = self.tags.get(state.node_names[node])
        if not tags or _idle(state.gpu_free[node], state.gpu_cap[node]):
            return NO_TAGS
        return tags

    def placed(self, state: ClusterState, alloc: Allocation) -> None:
        if not alloc.demand.gpu_slots:
            return
        tag = alloc.demand.gpu_milli
        taken: dict[int, IntArray] = {}
        for node, slots in alloc.workers:
            row = taken.setdefault(node, np.zeros(state.gpu_cap.shape[1], dtype=np.int64))
            for slot in slots:
                row[slot] += tag
        if len(self.tags) > 2 * len(state.node_names):  # nodes removed since: forget them
            live = set(state.node_names)
            self.tags = {name: tags for name, tags in self.tags.items() if name in live}
        for node, row in taken.items():
            name = state.node_names[node]
            was_idle = _idle(state.gpu_free[node] + row, state.gpu_cap[node])
            if was_idle or name not in self.tags:
                self.tags[name] = {tag}
            else:
                self.tags[name].add(tag)

    def to_dict(self) -> dict[str, Any]:
        return {"tags": {name: sorted(tags) for name, tags in self.tags.items() if tags}}

    @classmethod
    def load(cls, data: Mapping[str, Any], book: SchedulerBook) -> NodeTags:
        saved = data.get("tags") or {}
        return cls({str(name): {int(t) for t in tags} for name, tags in saved.items()})


def _idle(free: IntArray, cap: IntArray) -> bool:
    return bool((free == cap).all())


class GpuClusteringScorer(NodeScorer):
    name = "gpuclustering"

    def __init__(self) -> None:
        self.memory = NodeTags()  # its own until a book is attached (the packing experiment)

    def attach(self, book: SchedulerBook) -> None:
        self.memory = book.memory.get(self.name, NodeTags, NodeTags)

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        if demand.gpu_slots == 0:
            return np.zeros(len(nodes))
        tag = demand.gpu_milli
        tiers = np.empty(len(nodes))
        for i, node in enumerate(nodes):
            tags = self.memory.of(state, int(node))
            if tag in tags:
                tiers[i] = 0 if len(tags) == 1 else 1
            else:
                tiers[i] = 2 if not tags else 3
        idle = state.gpu_free[nodes].sum(axis=1) / max(int(state.gpu_cap.sum(axis=1).max()), 1)
        return np.asarray(tiers + idle * 0.5, dtype=np.float64)

    def pick_slots(
        self, state: ClusterState, node: int, free_row: IntArray, demand: Demand
    ) -> tuple[int, ...]:
        return best_fit_slots(free_row, demand)

    def placed(self, state: ClusterState, alloc: Allocation) -> None:
        self.memory.placed(state, alloc)
