"""Text normalisation: NFC, invisible junk, Zawgyi Burmese, native digits."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Any

# Zero-width space/non-joiner/joiner are real characters in Thai, Lao, Khmer and Burmese text
# (word boundaries, conjunct control): keep them there, drop them elsewhere.
_SEA = "\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff"
_ZW_OUTSIDE_SEA = re.compile(f"(?<![{_SEA}])[\u200b\u200c\u200d](?![{_SEA}])")
# Always junk: C0/C1 controls (not tab/newline), soft hyphen, bidi marks, BOM, object replacement.
_JUNK = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ufffc]"
)
_NATIVE_DIGITS = {
    0x0E50: "Thai",
    0x0ED0: "Lao",
    0x17E0: "Khmer",
    0x1040: "Myanmar",
    0x1090: "Myanmar Shan",
}
_DIGIT_TABLE = {base + i: str(i) for base in _NATIVE_DIGITS for i in range(10)}


def remove_invisible(text: str) -> str:
    return _ZW_OUTSIDE_SEA.sub("", _JUNK.sub("", text))


def ascii_digits(text: str) -> str:
    """Thai/Lao/Khmer/Myanmar digits -> 0-9, for filters and PII patterns that count digits."""
    return text.translate(_DIGIT_TABLE)


@lru_cache(maxsize=1)
def _zawgyi_tools() -> tuple[Any, Any]:
    import icu
    from myanmartools import ZawgyiDetector

    return ZawgyiDetector(), icu.Transliterator.createInstance("Zawgyi-my")


def has_myanmar(text: str) -> bool:
    return any("\u1000" <= ch <= "\u109f" for ch in text)


def zawgyi_probability(text: str) -> float:
    detector, _ = _zawgyi_tools()
    return float(detector.get_zawgyi_probability(text))


def zawgyi_to_unicode(text: str) -> str:
    _, transliterator = _zawgyi_tools()
    return unicodedata.normalize("NFC", str(transliterator.transliterate(text)))


def normalize_text(text: str) -> str:
    return unicodedata.normalize("NFC", remove_invisible(text))
