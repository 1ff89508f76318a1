"""Exact and MinHash near-duplicate removal, as barrier stages decided over all shards."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from silkroute.corpus.dedup.clusters import (
    Decisions,
    SignatureStore,
    exact_decisions,
    language_ids,
    verified_decisions,
)
from silkroute.corpus.dedup.fingerprints import MinHasher, exact_hash
from silkroute.corpus.document import Document
from silkroute.corpus.pipeline.base import DedupStage


class ExactDedup(DedupStage):
    """Documents equal after case, punctuation and spacing are folded, within one language."""

    name = "exact_dedup"

    def fingerprints(self, docs: list[Document]) -> dict[str, np.ndarray]:
        return {
            "lang": np.array([d.lang for d in docs], dtype=str),
            "digest": np.array([exact_hash(d.text) for d in docs], dtype="S16"),
        }

    def decide(self, prints: Sequence[dict[str, np.ndarray]]) -> Decisions:
        return exact_decisions([p["digest"] for p in prints], [p["lang"] for p in prints])


class MinHashParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(
        0.75,
        gt=0.0,
        le=1.0,
        description="estimated Jaccard similarity (MinHash) to the kept document at which a "
        "document is removed",
    )
    shingle: Literal["word", "char"] = Field(
        "word", description="word: n-grams of word-like units (ICU words for unspaced scripts)"
    )
    ngram: int = Field(5, ge=1, le=32, description="units per shingle")
    bands: int = Field(20, ge=1, le=64)
    rows: int = Field(5, ge=1, le=64)

    @model_validator(mode="after")
    def _enough_slots(self) -> MinHashParams:
        if self.bands * self.rows > 1024:
            raise ValueError("bands * rows (the signature length) must be at most 1024")
        return self


class MinHashDedup(DedupStage):
    """MinHash-LSH candidates, each verified against the kept document before removal.

    20 bands x 5 rows put the LSH S-curve's midpoint at (1/20)**(1/5) ~ 0.55, well below the
    0.75 threshold, so a pair at 0.8 is a candidate with probability 0.9996 (FineWeb's 14 x 8:
    0.92); the false candidates this lets in cost one comparison each and are never removed.
    """

    name = "minhash_dedup"
    Params = MinHashParams

    @cached_property
    def hasher(self) -> MinHasher:
        p: MinHashParams = self.params
        return MinHasher(p.bands * p.rows, shingle=p.shingle, ngram=p.ngram, seed=self.seed)

    def fingerprints(self, docs: list[Document]) -> dict[str, np.ndarray]:
        width = self.hasher.num_perm
        sigs = [self.hasher.signature(d.text, d.meta.get("script")) for d in docs]
        return {
            "lang": np.array([d.lang for d in docs], dtype=str),
            "sig": np.stack(sigs) if sigs else np.zeros((0, width), dtype=np.uint32),
        }

    def decide(self, prints: Sequence[dict[str, np.ndarray]]) -> Decisions:
        p: MinHashParams = self.params
        store = SignatureStore([x["sig"] for x in prints])
        lang = language_ids([x["lang"] for x in prints])
        return verified_decisions(store, lang, p.bands, p.rows, p.threshold)
