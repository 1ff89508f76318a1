"""Per-document fingerprints: a normalised exact hash and a MinHash signature of char n-grams.

Character n-grams work for every script: Thai or Chinese text is never reduced to nothing the
way an ASCII word tokenizer would reduce it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import numpy as np

_MERSENNE = np.uint64((1 << 61) - 1)
_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def canonical(text: str) -> str:
    """Case, punctuation, spacing and digits are ignored when comparing documents."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NON_WORD.sub(" ", text).split())


def exact_hash(text: str) -> str:
    return hashlib.blake2b(canonical(text).encode(), digest_size=12).hexdigest()


def shingle_hashes(text: str, n: int) -> np.ndarray:
    """32-bit polynomial hashes of every character n-gram (vectorised over the text)."""
    cps = np.frombuffer(canonical(text).encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if cps.size < n:
        cps = np.pad(cps, (0, n - cps.size))
    windows = np.lib.stride_tricks.sliding_window_view(cps, n)
    powers = np.array([pow(1_000_003, i, 1 << 32) for i in range(n)], dtype=np.uint64)
    hashes = (windows * powers).sum(axis=1) & np.uint64(0xFFFFFFFF)
    return np.unique(hashes)


class MinHasher:
    def __init__(self, num_perm: int, ngram: int, seed: int) -> None:
        rng = np.random.default_rng(seed)  # fixed seed: identical signatures on every run
        self.a = rng.integers(1, 1 << 32, size=num_perm, dtype=np.uint64)
        self.b = rng.integers(0, 1 << 32, size=num_perm, dtype=np.uint64)
        self.ngram = ngram

    def signature(self, text: str) -> np.ndarray:
        shingles = shingle_hashes(text, self.ngram)[:, None]
        # a, b, x < 2**32 so a*x + b fits in uint64 before the Mersenne modulus.
        permuted = (shingles * self.a + self.b) % _MERSENNE & np.uint64(0xFFFFFFFF)
        return permuted.min(axis=0).astype(np.uint32)
