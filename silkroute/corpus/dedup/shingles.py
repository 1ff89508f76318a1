"""Word-like units and their n-gram shingles, the same way for every script.

Spaced scripts split on whitespace; unspaced ones (Thai, Lao, Khmer, Burmese, Han, Japanese)
get word-like units from ICU's dictionary break iterator, which is fast C++. Combining marks
(Thai/Lao vowels and tones, Khmer and Burmese signs) are letters' parts, never punctuation: they
stay in every unit, so a changed tone mark changes the shingle.
"""

from __future__ import annotations

import sys
import unicodedata
from functools import cache

import numpy as np

from silkroute.corpus.scripts import dominant_script
from silkroute.corpus.segment import SCRIPT_LOCALE, icu_words

# Random odd 64-bit multipliers, one per position in an n-gram (fixed: stable across runs).
_POSITION_KEYS = np.random.default_rng(20240607).integers(
    1, 1 << 63, size=64, dtype=np.uint64
) | np.uint64(1)
_LOW32 = np.uint64(0xFFFFFFFF)


@cache
def _separator_table() -> dict[int, str]:
    """Every punctuation, symbol, separator, control and format code point maps to a space."""
    return {
        cp: " "
        for cp in range(sys.maxunicode + 1)
        if (cat := unicodedata.category(chr(cp)))[0] in "PSZ" or cat in ("Cc", "Cf")
        if chr(cp) not in "\u200c\u200d"  # joiners shape Khmer/Burmese/Indic conjuncts
    }


def canonical(text: str) -> str:
    """Case, punctuation and spacing are ignored; letters, combining marks and digits stay."""
    text = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(text.translate(_separator_table()).split())


_SCRIPT_SAMPLE = 2000  # characters that decide the segmenter when the script is not known


def units(text: str, script: str | None = None) -> list[str]:
    """Word-like units of a text: ICU words for unspaced scripts, whitespace words otherwise."""
    return _units_of_canonical(canonical(text), script)


def _units_of_canonical(canon: str, script: str | None) -> list[str]:
    script = script or dominant_script(canon[:_SCRIPT_SAMPLE])[0]
    locale = SCRIPT_LOCALE.get(script)
    if locale is None:
        return canon.split()
    return [w for w in (x.strip() for x in icu_words(canon, locale)) if w]


_CHAR_KEYS = np.random.default_rng(99).integers(1, 1 << 63, size=64, dtype=np.uint64)


def unit_hashes(tokens: list[str]) -> np.ndarray:
    """Stable 32-bit hashes of each unit (the same in every process and run), vectorised: each
    code point is weighted by a fixed random key for its position in the unit."""
    if not tokens:
        return np.zeros(0, dtype=np.uint64)
    joined = " ".join(tokens)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    is_space = cps == 32
    positions = np.arange(cps.size)
    starts = np.flatnonzero(np.r_[True, is_space[:-1]])
    start_of = np.maximum.accumulate(np.where(np.r_[True, is_space[:-1]], positions, 0))
    offset = np.minimum(positions - start_of, _CHAR_KEYS.size - 1)
    weighted = np.where(is_space, np.uint64(0), (cps + np.uint64(1)) * _CHAR_KEYS[offset])
    sums = np.add.reduceat(weighted, starts)  # wraps mod 2**64: fine for hashing
    return (sums >> np.uint64(32)) ^ (sums & _LOW32)


def ngram_hashes(items: np.ndarray, n: int) -> np.ndarray:
    """Distinct 32-bit hashes of every n-gram of a hash sequence (the whole of a shorter one)."""
    if items.size == 0:
        return items
    n = min(n, items.size)
    windows = np.lib.stride_tricks.sliding_window_view(items, n)
    mixed = (windows * _POSITION_KEYS[:n]).sum(axis=1)  # wraps mod 2**64: fine for hashing
    return np.unique((mixed >> np.uint64(32)) ^ (mixed & _LOW32))


def shingle_hashes(text: str, shingle: str, n: int, script: str | None = None) -> np.ndarray:
    """`word`: n-grams of word-like units (FineWeb's default is word 5-grams); `char`: n-grams of
    the canonical text's characters."""
    if shingle == "word":
        return ngram_hashes(unit_hashes(units(text, script)), n)
    canon = canonical(text)
    cps = np.frombuffer(canon.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    return ngram_hashes(cps, n)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard similarity of two sets of shingle hashes."""
    if a.size == 0 and b.size == 0:
        return 1.0
    inter = np.intersect1d(a, b, assume_unique=True).size
    return inter / (a.size + b.size - inter)
