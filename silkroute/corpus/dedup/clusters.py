"""Duplicate clusters over all shards, staged through files like datatrove's
signatures -> buckets -> clusters -> filter.

Each shard's fingerprints sit in their own .npy files and are memory-mapped here, so the driver
holds one band's bucket keys (16 bytes a document) and the candidate pairs at a time, never all
signatures. Documents are addressed by a global index: shards in order, positions within them.

Candidate pairs from the LSH buckets are *verified* before anything is removed: documents are
visited in order, and a document is removed only if its own similarity to a *kept* document (the
one kept for its cluster) reaches the threshold: the exact Jaccard similarity of the two shingle
sets (stored per shard beside the signatures) or, where those are not kept, the MinHash estimate.
There is no union-find, so no chain of pairwise-similar documents can join documents that are not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from silkroute.corpus.dedup.fingerprints import EMPTY

_BAND_MIX = np.random.default_rng(7).integers(1, 1 << 63, size=64, dtype=np.uint64) | np.uint64(1)
_CHUNK = 1 << 16  # pairs compared per numpy call
# An estimate this far below the threshold is > 5 standard errors away for 100 slots: the exact
# comparison is skipped.
_ESTIMATE_MARGIN = 0.2


@dataclass
class Decisions:
    """rep[i]: the global index of the document kept for document i (i itself when kept);
    similarity[i]: document i's estimated Jaccard similarity to rep[i] (1.0 when kept)."""

    rep: np.ndarray
    similarity: np.ndarray
    candidate_pairs: int = 0
    verified_pairs: int = 0

    @property
    def cluster_sizes(self) -> np.ndarray:
        """Members (the kept document included) per kept document; 0 for removed ones."""
        return np.bincount(self.rep, minlength=self.rep.size)

    def size_histogram(self) -> dict[int, int]:
        sizes = self.cluster_sizes
        values, counts = np.unique(sizes[sizes > 0], return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}


def language_ids(langs: Sequence[np.ndarray]) -> np.ndarray:
    """One small integer per language over all shards (documents match only within one)."""
    if not langs:
        return np.zeros(0, dtype=np.int32)
    everything = np.concatenate([np.asarray(x, dtype=str) for x in langs])
    _, inverse = np.unique(everything, return_inverse=True)
    return inverse.astype(np.int32)


def exact_decisions(digests: Sequence[np.ndarray], langs: Sequence[np.ndarray]) -> Decisions:
    """Equal digests in one language: the first document is kept, the others point to it."""
    lang = language_ids(langs)
    keys = np.concatenate([np.asarray(d) for d in digests]) if digests else np.zeros(0, "S16")
    n = keys.size
    rep = np.arange(n, dtype=np.int64)
    if n:
        order = np.lexsort((np.arange(n), keys, lang))
        k, g = keys[order], lang[order]
        same = np.r_[False, (k[1:] == k[:-1]) & (g[1:] == g[:-1])]
        starts = np.where(~same, np.arange(n), 0)
        first = order[np.maximum.accumulate(starts)]
        rep[order] = first
    return Decisions(rep=rep, similarity=np.ones(n, dtype=np.float32))


class SignatureStore:
    """Row access to the per-shard signature matrices (memory-mapped) by global index."""

    def __init__(self, shards: Sequence[np.ndarray]) -> None:
        self.shards = list(shards)
        sizes = [s.shape[0] for s in self.shards]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        self.width = self.shards[0].shape[1] if self.shards else 0

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def rows(self, index: np.ndarray) -> np.ndarray:
        out = np.empty((index.size, self.width), dtype=np.uint32)
        shard_of = np.searchsorted(self.offsets, index, side="right") - 1
        for s in np.unique(shard_of):
            mask = shard_of == s
            out[mask] = self.shards[s][index[mask] - self.offsets[s]]
        return out

    def columns(self, start: int, stop: int) -> np.ndarray:
        parts = [np.asarray(s[:, start:stop]) for s in self.shards]
        return np.concatenate(parts) if parts else np.zeros((0, stop - start), np.uint32)


class ShingleStore:
    """Each document's sorted shingle hashes, from per-shard flat arrays plus offsets."""

    def __init__(self, flats: Sequence[np.ndarray], offsets: Sequence[np.ndarray]) -> None:
        self.flats = list(flats)
        self.local = list(offsets)
        sizes = [len(o) - 1 for o in self.local]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)

    def shingles(self, doc: int) -> np.ndarray:
        s = int(np.searchsorted(self.offsets, doc, side="right") - 1)
        i = doc - int(self.offsets[s])
        return np.asarray(self.flats[s][int(self.local[s][i]) : int(self.local[s][i + 1])])

    def jaccard(self, a: int, b: int) -> float:
        x, y = self.shingles(a), self.shingles(b)
        if x.size == 0 or y.size == 0:
            return 0.0
        inter = np.intersect1d(x, y, assume_unique=True).size
        return inter / (x.size + y.size - inter)


def band_keys(block: np.ndarray) -> np.ndarray:
    """One 64-bit key per row of a band (rows x r signature slots)."""
    mixed = block.astype(np.uint64) * _BAND_MIX[: block.shape[1]]
    return mixed.sum(axis=1)


def candidate_pairs(
    store: SignatureStore, lang: np.ndarray, bands: int, rows: int, window: int = 32
) -> np.ndarray:
    """(later, earlier) global index pairs that share a bucket in some band, distinct.

    In a bucket each document is paired with the bucket's first and with up to `window`
    documents before it: all pairs in the usual small bucket, and at most (window + 1) * k,
    not k * (k - 1) / 2, in a bucket of k boilerplate pages.
    """
    n = len(store)
    found: list[np.ndarray] = []
    index = np.arange(n, dtype=np.int64)
    for band in range(bands):
        block = store.columns(band * rows, (band + 1) * rows)
        usable = ~(block == EMPTY).all(axis=1)  # no shingle: nothing to compare
        keys = band_keys(block)
        order = np.lexsort((index, keys, lang))
        order = order[usable[order]]
        if order.size < 2:
            continue
        k, g = keys[order], lang[order]
        same = np.r_[False, (k[1:] == k[:-1]) & (g[1:] == g[:-1])]
        if not same.any():
            continue
        positions = np.arange(order.size)
        run_start = np.maximum.accumulate(np.where(same, 0, positions))
        members = np.flatnonzero(same)
        found.append(np.stack([order[members], order[run_start[members]]], axis=1))
        longest = int((positions - run_start).max())
        for back in range(1, min(window, longest) + 1):
            ok = members[members - back >= run_start[members]]
            found.append(np.stack([order[ok], order[ok - back]], axis=1))
    if not found:
        return np.zeros((0, 2), dtype=np.int64)
    pairs = np.concatenate(found)
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    pairs = np.sort(pairs, axis=1)[:, ::-1]  # (later, earlier)
    return np.unique(pairs, axis=0)  # sorted by the later document, then the earlier


def verified_decisions(
    store: SignatureStore,
    lang: np.ndarray,
    bands: int,
    rows: int,
    threshold: float,
    exact: ShingleStore | None = None,
) -> Decisions:
    n = len(store)
    rep = np.arange(n, dtype=np.int64)
    similarity = np.ones(n, dtype=np.float32)
    pairs = candidate_pairs(store, lang, bands, rows)
    pair_sim = np.empty(len(pairs), dtype=np.float32)
    for start in range(0, len(pairs), _CHUNK):
        chunk = pairs[start : start + _CHUNK]
        pair_sim[start : start + _CHUNK] = np.mean(
            store.rows(chunk[:, 0]) == store.rows(chunk[:, 1]), axis=1
        )
    verified = 0
    later_list = pairs[:, 0].tolist()
    earlier_list = pairs[:, 1].tolist()
    sims = pair_sim.tolist()
    i = 0
    while i < len(later_list):
        doc = later_list[i]
        best, best_sim = -1, threshold
        tried: set[int] = set()
        while i < len(later_list) and later_list[i] == doc:
            kept = int(rep[earlier_list[i]])
            if kept not in tried:
                tried.add(kept)
                if kept == earlier_list[i]:
                    value = sims[i]
                else:  # the candidate was itself removed: compare with the document kept for it
                    both = store.rows(np.array([doc, kept]))
                    value = float(np.mean(both[0] == both[1]))
                if exact is not None and value >= threshold - _ESTIMATE_MARGIN:
                    value = exact.jaccard(doc, kept)
                verified += 1
                if value >= best_sim and (best < 0 or value > best_sim or kept < best):
                    best, best_sim = kept, value
            i += 1
        if best >= 0:
            rep[doc], similarity[doc] = best, best_sim
    return Decisions(rep, similarity, candidate_pairs=len(pairs), verified_pairs=verified)
