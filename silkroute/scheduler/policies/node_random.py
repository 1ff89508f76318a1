"""Random-fit (FGD's baseline): any node that fits, drawn from a seeded generator.

The generator is memory that outlives a step: it lives in the book (`RandomStream`, its state
in the snapshot), and what-if placements put its state back, so a rebuilt book draws what the
original would have drawn.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from silkroute.model.workload import Demand
from silkroute.scheduler.memory import PolicyMemory
from silkroute.scheduler.placement import FloatArray, NodeScorer
from silkroute.scheduler.state import ClusterState, IntArray

if TYPE_CHECKING:
    from silkroute.scheduler.book import SchedulerBook


class RandomStream(PolicyMemory):
    """A seeded generator whose state can be saved."""

    kind = "random-stream"

    def __init__(self, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)

    def to_dict(self) -> dict[str, Any]:
        return {"state": self.rng.bit_generator.state}

    @classmethod
    def load(cls, data: Mapping[str, Any], book: SchedulerBook) -> RandomStream:
        stream = cls()
        stream.rng.bit_generator.state = dict(data["state"])
        return stream


class RandomScorer(NodeScorer):
    name = "random"

    def __init__(self, seed: int = 0) -> None:
        # Same seed, same sequence of calls -> same choices: runs are reproducible.
        self.seed = seed
        self.memory = RandomStream(seed)  # its own until a book is attached

    def attach(self, book: SchedulerBook) -> None:
        self.memory = book.memory.get(self.name, RandomStream, lambda: RandomStream(self.seed))

    def score(self, state: ClusterState, demand: Demand, nodes: IntArray) -> FloatArray:
        return self.memory.rng.random(len(nodes))

    def what_if(self) -> AbstractContextManager[object]:
        return self._restoring()

    @contextmanager
    def _restoring(self) -> Iterator[None]:
        rng = self.memory.rng
        saved = rng.bit_generator.state
        try:
            yield
        finally:
            rng.bit_generator.state = saved
