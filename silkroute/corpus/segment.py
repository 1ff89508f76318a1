"""Word segmentation: ICU dictionary break iterators for unspaced scripts, whitespace otherwise."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from silkroute.corpus.scripts import dominant_script

# ICU picks its dictionary by the characters, but the locale keeps rules language-appropriate.
_SCRIPT_LOCALE = {
    "Thai": "th",
    "Laoo": "lo",
    "Khmr": "km",
    "Mymr": "my",
    "Hani": "zh",
    "Jpan": "ja",
}
_WORD_STATUS_MIN = 100  # UBRK_WORD_NONE_LIMIT: below this a segment is space or punctuation


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


def words(text: str, script: str | None = None) -> list[str]:
    """Words of a text; segmentation picked by the dominant script unless given."""
    script = script or dominant_script(text)[0]
    locale = _SCRIPT_LOCALE.get(script)
    if locale is None:
        return text.split()
    return icu_words(text, locale)


def count_words(text: str, script: str | None = None) -> int:
    return len(words(text, script))
