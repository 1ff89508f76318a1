"""Word segmentation for unspaced scripts, whitespace otherwise.

ICU dictionary break iterators are the default everywhere: fast C++, and within a few points of
the best library on our authored gold sentences (`segment_gold.txt`, compared by `segment_eval`;
numbers in docs/corpus.md). SILKROUTE_SEGMENTERS=library opts into the one library that beat ICU
there, khmer-nltk for Khmer (word F1 0.87 vs ICU 0.80), at ~100x ICU's cost (it was the default
and made a plain read -> write run ~34 Khmer documents/s). pythainlp newmm tied ICU on Thai (0.83
vs 0.82) and laonlp lost to ICU on Lao (0.81 vs 0.85), so both stay comparison-only.
"""

from __future__ import annotations

import logging
import os
import unicodedata
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from silkroute.corpus.scripts import dominant_script

log = logging.getLogger(__name__)

# ICU picks its dictionary by the characters, but the locale keeps rules language-appropriate.
SCRIPT_LOCALE = {
    "Thai": "th",
    "Laoo": "lo",
    "Khmr": "km",
    "Mymr": "my",
    "Hani": "zh",
    "Jpan": "ja",
}
_SCRIPT_LOCALE = SCRIPT_LOCALE
_WORD_STATUS_MIN = 100  # UBRK_WORD_NONE_LIMIT: below this a segment is space or punctuation

# (segmenter name, pip package) per script, all compared against ICU by `segment_eval`.
LIBRARIES = {
    "Thai": ("pythainlp-newmm", "pythainlp"),
    "Laoo": ("laonlp", "laonlp"),
    "Khmr": ("khmer-nltk", "khmer-nltk"),
}
# Scripts whose library segmenter beat ICU on the gold sentences: these count words with it.
PREFERRED = frozenset({"Khmr"})


@lru_cache(maxsize=16)
def _breaker(locale: str) -> Any:
    import icu

    return icu.BreakIterator.createWordInstance(icu.Locale(locale))


def icu_words(text: str, locale: str) -> list[str]:
    breaker = _breaker(locale)
    breaker.setText(text)
    words: list[str] = []
    start = breaker.first()
    for end in breaker:
        if breaker.getRuleStatus() >= _WORD_STATUS_MIN:
            words.append(text[start:end])
        start = end
    return words


def _is_word(token: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LMN" for ch in token)


def _load(name: str) -> Callable[[str], list[str]]:
    """Import one library segmenter; ImportError when its package is not installed."""
    if name == "pythainlp-newmm":
        from pythainlp.tokenize import word_tokenize as thai

        return lambda text: thai(text, engine="newmm", keep_whitespace=False)
    if name == "laonlp":
        from laonlp.tokenize import word_tokenize as lao

        return lambda text: lao(text)
    if name == "khmer-nltk":
        from khmernltk import word_tokenize as khmer

        logging.getLogger("khmer-nltk").setLevel(logging.WARNING)  # it logs each model load
        return lambda text: khmer(text)
    raise ValueError(f"unknown segmenter {name!r}")


@cache
def _library(script: str) -> Callable[[str], list[str]] | None:
    if script not in LIBRARIES:
        return None
    name, package = LIBRARIES[script]
    try:
        return _load(name)
    except ImportError:
        log.warning(
            "%s is not installed: %s words are counted with ICU instead "
            "(pip install %s, or the 'corpus' extra)",
            package,
            script,
            package,
        )
        return None


def library_segmenters(script: str) -> dict[str, Callable[[str], list[str]]]:
    """The installed library segmenters for a script (name -> words function)."""
    fn = _library(script)
    if fn is None:
        return {}
    return {LIBRARIES[script][0]: lambda text: [w for w in fn(text) if _is_word(w)]}


def _use_libraries() -> bool:
    # SILKROUTE_SEGMENTERS=library trades ICU's speed for khmer-nltk's accuracy (~100x on Khmer).
    return os.environ.get("SILKROUTE_SEGMENTERS", "").lower() == "library"


@lru_cache(maxsize=2048)
def _library_words(script: str, text: str) -> tuple[str, ...]:
    """Library segmentation is slow: stats and filters often ask twice for the same text."""
    fn = _library(script)
    if fn is None:
        return tuple(icu_words(text, SCRIPT_LOCALE[script]))
    return tuple(w for w in fn(text) if _is_word(w))


def words(text: str, script: str | None = None) -> list[str]:
    """Words of a text; segmentation picked by the dominant script unless given."""
    script = script or dominant_script(text)[0]
    locale = SCRIPT_LOCALE.get(script)
    if locale is None:
        return text.split()
    if script in PREFERRED and _use_libraries():
        return list(_library_words(script, text))
    return icu_words(text, locale)


def count_words(text: str, script: str | None = None) -> int:
    return len(words(text, script))
