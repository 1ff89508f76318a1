"""Group fingerprinted documents into duplicate clusters (union-find over shared buckets)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

import numpy as np

DocKey = tuple[int, int]  # (shard, position in shard): a global, ordered document address


class UnionFind:
    def __init__(self) -> None:
        self.parent: dict[DocKey, DocKey] = {}

    def find(self, key: DocKey) -> DocKey:
        root = key
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while key != root:  # path compression
            self.parent[key], key = root, self.parent.get(key, key)
        return root

    def union(self, a: DocKey, b: DocKey) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            # The smaller key becomes the root, so the kept document is the first one seen.
            self.parent[max(ra, rb)] = min(ra, rb)

    def clusters(self, keys: Iterable[DocKey]) -> dict[DocKey, list[DocKey]]:
        groups: dict[DocKey, list[DocKey]] = {}
        for key in keys:
            groups.setdefault(self.find(key), []).append(key)
        return groups


def exact_clusters(entries: Sequence[tuple[DocKey, str, str]]) -> dict[DocKey, list[DocKey]]:
    """entries: (key, lang, hash). Documents are duplicates only within one language."""
    uf = UnionFind()
    first: dict[tuple[str, str], DocKey] = {}
    for key, lang, digest in entries:
        uf.union(first.setdefault((lang, digest), key), key)
    return uf.clusters(key for key, _, _ in entries)


def lsh_clusters(
    keys: Sequence[DocKey], langs: Sequence[str], signatures: np.ndarray, bands: int, rows: int
) -> dict[DocKey, list[DocKey]]:
    """Documents sharing any band of their MinHash signature (within a language) are joined."""
    uf = UnionFind()
    for band in range(bands):
        seen: dict[tuple[str, bytes], DocKey] = {}
        block = np.ascontiguousarray(signatures[:, band * rows : (band + 1) * rows])
        for i, key in enumerate(keys):
            bucket = hashlib.blake2b(block[i].tobytes(), digest_size=8).digest()
            uf.union(seen.setdefault((langs[i], bucket), key), key)
    return uf.clusters(keys)
