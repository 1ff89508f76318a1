"""Unicode script of a text from ICU's script property (fast, vectorised with numpy).

The ranges come from ICU's Script property at import (`[:Script=Thai:]` etc.), not from
hand-written blocks, so the region's other scripts are there: Javanese, Balinese, Cham, Tai Tham
(Lanna), Buginese, Sundanese, Batak, Baybayin, Tai Le, New Tai Lue, Kayah Li.
"""

from __future__ import annotations

import icu
import numpy as np

# ISO 15924 codes of the scripts counted; everything else (Common, Inherited: digits,
# punctuation, combining marks shared by scripts) counts as "Zyyy".
COUNTED_SCRIPTS = [
    *("Latn", "Thai", "Laoo", "Khmr", "Mymr", "Hani", "Hira", "Kana", "Hang", "Grek", "Cyrl"),
    *("Arab", "Hebr", "Deva", "Beng", "Taml", "Telu", "Knda", "Mlym", "Sinh", "Tibt", "Java"),
    *("Bali", "Cham", "Lana", "Bugi", "Sund", "Batk", "Tglg", "Tale", "Talu", "Kali", "Hano"),
    *("Buhd", "Tagb", "Mong", "Geor", "Armn", "Ethi", "Thaa", "Gujr", "Guru", "Orya", "Tavt"),
    *("Cakm",),
]


def _icu_ranges() -> list[tuple[int, int, str]]:
    ranges: list[tuple[int, int, str]] = []
    for code in COUNTED_SCRIPTS:
        for first, last in icu.UnicodeSet(f"[:Script={code}:]").ranges():
            ranges.append((ord(first), ord(last) + 1, code))
    return ranges


# (start, end_exclusive, script), disjoint: a code point has exactly one Script value.
_RANGES: list[tuple[int, int, str]] = _icu_ranges()
_RANGES.sort()
_STARTS = np.array([r[0] for r in _RANGES], dtype=np.int64)
_ENDS = np.array([r[1] for r in _RANGES], dtype=np.int64)
_NAMES = [r[2] for r in _RANGES]
SCRIPT_NAMES = sorted(set(_NAMES))
_NAME_INDEX = np.array([SCRIPT_NAMES.index(n) for n in _NAMES], dtype=np.int64)

UNSPACED_SCRIPTS = frozenset({"Thai", "Laoo", "Khmr", "Mymr", "Hani", "Hira", "Kana"})
UNSPACED_SCRIPTS |= frozenset({"Java", "Bali", "Lana", "Bugi", "Tale", "Talu"})


def codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def _script_indices(cps: np.ndarray) -> np.ndarray:
    """Index into SCRIPT_NAMES of each code point, len(SCRIPT_NAMES) for none (by the ranges)."""
    idx = np.searchsorted(_STARTS, cps, side="right") - 1
    valid = idx >= 0
    inside = np.zeros_like(valid)
    inside[valid] = cps[valid] < _ENDS[idx[valid]]
    out = np.full(cps.shape, len(SCRIPT_NAMES), dtype=np.int64)
    out[inside] = _NAME_INDEX[idx[inside]]
    return out


# The Basic Multilingual Plane as one lookup table (512 KiB): a gather instead of a binary
# search per character; code points above it (rare) take the search. Indices as intp, the type
# `np.bincount` counts (a narrower table's indices would be converted for each text).
_BMP = _script_indices(np.arange(0x10000, dtype=np.int64)).astype(np.intp)


def _count_array(text: str) -> np.ndarray:
    """Letters per script, indexed like SCRIPT_NAMES (characters outside every range ignored)."""
    cps = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    if cps.size == 0:
        return np.zeros(len(SCRIPT_NAMES), dtype=np.int64)
    bmp = int(cps.max()) < 0x10000
    indices = _BMP.take(cps) if bmp else _script_indices(cps.astype(np.int64))
    return np.bincount(indices, minlength=len(SCRIPT_NAMES) + 1)[: len(SCRIPT_NAMES)]


def script_counts(text: str) -> dict[str, int]:
    """Letters per script; characters outside every range (digits, punctuation) are ignored."""
    counts = _count_array(text)
    return {SCRIPT_NAMES[i]: int(c) for i, c in enumerate(counts) if c}


_HIRA, _KANA, _HANI = (SCRIPT_NAMES.index(name) for name in ("Hira", "Kana", "Hani"))
_JAPANESE = {_HIRA, _KANA, _HANI}


def dominant_script(text: str) -> tuple[str, float]:
    """The script with most letters and its share of all letters; ("Zyyy", 0.0) when none."""
    counts = _count_array(text).tolist()  # plain ints: the same arithmetic as on a dict
    total = sum(counts)
    if not total:
        return "Zyyy", 0.0
    best = counts.index(max(counts))  # ties: the first name in SCRIPT_NAMES order
    # Japanese mixes Han and kana: call it Jpan when kana is present in quantity.
    kana = counts[_HIRA] + counts[_KANA]
    if best in _JAPANESE and kana > 0.1 * total:
        return "Jpan", (counts[_HANI] + kana) / total
    return SCRIPT_NAMES[best], counts[best] / total
