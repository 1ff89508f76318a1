"""Exact and MinHash near-duplicate removal, as barrier stages decided over all shards."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from silkroute.corpus.dedup.clusters import (
    Decisions,
    ShingleStore,
    SignatureStore,
    exact_decisions,
    language_ids,
    verified_decisions,
)
from silkroute.corpus.dedup.fingerprints import MinHasher, exact_hash
from silkroute.corpus.dedup.shingles import shingle_hashes
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
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    threshold: float = Field(
        0.75,
        gt=0.0,
        le=1.0,
        description="Jaccard similarity of shingle sets to the kept document at which a "
        "document is removed",
    )
    similarity: Literal["exact", "estimated"] = Field(
        "exact",
        description="exact: Jaccard of the stored shingle sets (~4 bytes a shingle on disk); "
        "estimated: the share of equal MinHash slots (no shingles stored, +-0.04 at 100 slots)",
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
    """MinHash-LSH candidates, each verified against the kept document before removal (by
    exact shingle Jaccard unless `similarity: estimated`).

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
        p: MinHashParams = self.params
        width = self.hasher.num_perm
        shingles = [
            shingle_hashes(d.text, p.shingle, p.ngram, d.meta.get("script")).astype(np.uint32)
            for d in docs
        ]
        sigs = [self.hasher.signature_of_shingles(s.astype(np.uint64)) for s in shingles]
        prints = {
            "lang": np.array([d.lang for d in docs], dtype=str),
            "sig": np.stack(sigs) if sigs else np.zeros((0, width), dtype=np.uint32),
        }
        if p.similarity == "exact":
            sizes = np.array([s.size for s in shingles], dtype=np.int64)
            prints["shingle_offsets"] = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
            prints["shingles"] = (
                np.concatenate(shingles) if shingles else np.zeros(0, dtype=np.uint32)
            )
        return prints

    def decide(self, prints: Sequence[dict[str, np.ndarray]]) -> Decisions:
        p: MinHashParams = self.params
        store = SignatureStore([x["sig"] for x in prints])
        lang = language_ids([x["lang"] for x in prints])
        exact = None
        if p.similarity == "exact":
            exact = ShingleStore(
                [x["shingles"] for x in prints], [x["shingle_offsets"] for x in prints]
            )
        return verified_decisions(store, lang, p.bands, p.rows, p.threshold, exact)
