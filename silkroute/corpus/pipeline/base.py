"""Stage base classes. The base owns the loop, timing and counting; a stage writes only its rule."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from silkroute.corpus.dedup.clusters import Decisions
from silkroute.corpus.document import Document
from silkroute.corpus.pipeline.stats import StageStats


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Stage:
    name: ClassVar[str]
    Params: ClassVar[type[BaseModel]] = NoParams
    # A barrier stage needs every shard's output before it can decide (deduplication).
    barrier: ClassVar[bool] = False

    def __init__(self, params: Any, seed: int = 0) -> None:
        self.params = params
        self.seed = seed

    def process(self, doc: Document, stats: StageStats) -> Document | str:
        """Return the (possibly changed) document, or a removal reason to drop it."""
        raise NotImplementedError

    def run(self, docs: Iterable[Document], stats: StageStats) -> Iterator[Document]:
        for doc in docs:
            start = time.perf_counter()
            stats.saw(doc)
            result = self.process(doc, stats)
            stats.seconds += time.perf_counter() - start
            if isinstance(result, str):
                stats.removed[result] += 1
                continue
            stats.kept(result)
            yield result


class DedupStage(Stage):
    """Fingerprint per shard (in the workers), decide over all shards (in the driver)."""

    barrier = True

    def process(self, doc: Document, stats: StageStats) -> Document | str:
        return doc  # documents pass; duplicates are dropped after clustering

    def fingerprints(self, docs: list[Document]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def decide(self, prints: Sequence[dict[str, np.ndarray]]) -> Decisions:
        """prints: each shard's fingerprints in shard order (arrays may be memory-mapped)."""
        raise NotImplementedError
