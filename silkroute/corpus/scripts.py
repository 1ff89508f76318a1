"""Unicode script of a text, by code-point ranges (fast, vectorised with numpy)."""

from __future__ import annotations

import numpy as np

# (start, end_exclusive, script). Order does not matter; gaps count as "Zyyy" (common/other).
_RANGES: list[tuple[int, int, str]] = [
    (0x0041, 0x005B, "Latn"),
    (0x0061, 0x007B, "Latn"),
    (0x00C0, 0x0250, "Latn"),
    (0x1E00, 0x1F00, "Latn"),
    (0x0370, 0x0400, "Grek"),
    (0x0400, 0x0530, "Cyrl"),
    (0x0590, 0x0600, "Hebr"),
    (0x0600, 0x0700, "Arab"),
    (0x0900, 0x0980, "Deva"),
    (0x0E00, 0x0E80, "Thai"),
    (0x0E80, 0x0F00, "Laoo"),
    (0x1000, 0x10A0, "Mymr"),
    (0x1100, 0x1200, "Hang"),
    (0x1780, 0x1800, "Khmr"),
    (0x19E0, 0x1A00, "Khmr"),
    (0x3040, 0x30A0, "Hira"),
    (0x30A0, 0x3100, "Kana"),
    (0x3400, 0x4DC0, "Hani"),
    (0x4E00, 0xA000, "Hani"),
    (0xA9E0, 0xAA00, "Mymr"),
    (0xAA60, 0xAA80, "Mymr"),
    (0xAC00, 0xD7B0, "Hang"),
    (0xF900, 0xFB00, "Hani"),
    (0x20000, 0x2FA20, "Hani"),
]
_RANGES.sort()
_STARTS = np.array([r[0] for r in _RANGES], dtype=np.int64)
_ENDS = np.array([r[1] for r in _RANGES], dtype=np.int64)
_NAMES = [r[2] for r in _RANGES]
SCRIPT_NAMES = sorted(set(_NAMES))
_NAME_INDEX = np.array([SCRIPT_NAMES.index(n) for n in _NAMES], dtype=np.int64)

UNSPACED_SCRIPTS = frozenset({"Thai", "Laoo", "Khmr", "Mymr", "Hani", "Hira", "Kana"})


def codepoints(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


def script_counts(text: str) -> dict[str, int]:
    """Letters per script; characters outside every range (digits, punctuation) are ignored."""
    cps = codepoints(text)
    if cps.size == 0:
        return {}
    idx = np.searchsorted(_STARTS, cps, side="right") - 1
    valid = idx >= 0
    inside = np.zeros_like(valid)
    inside[valid] = cps[valid] < _ENDS[idx[valid]]
    counts = np.bincount(_NAME_INDEX[idx[inside]], minlength=len(SCRIPT_NAMES))
    return {SCRIPT_NAMES[i]: int(c) for i, c in enumerate(counts) if c}


def dominant_script(text: str) -> tuple[str, float]:
    """The script with most letters and its share of all letters; ("Zyyy", 0.0) when none."""
    counts = script_counts(text)
    total = sum(counts.values())
    if not total:
        return "Zyyy", 0.0
    script = max(counts, key=lambda s: counts[s])
    # Japanese mixes Han and kana: call it Jpan when kana is present in quantity.
    kana = counts.get("Hira", 0) + counts.get("Kana", 0)
    if script in ("Hani", "Hira", "Kana") and kana > 0.1 * total:
        return "Jpan", (counts.get("Hani", 0) + kana) / total
    return script, counts[script] / total
