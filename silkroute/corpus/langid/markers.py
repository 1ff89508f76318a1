"""Evidence that separates Indonesian from Malay: a weighted marker (naive Bayes) model.

Three data files, all package data and none learnt from the evaluation texts:
`ind_zsm_markers.txt` (hand-written spelling, vocabulary and bigram markers such as
bahawa/bahwa, kerana/karena, boleh/bisa, oleh itu, -iti/-itas), `ind_zsm_wordfreq.txt`
(word log-odds from wordfreq's Indonesian and Malay frequency lists, built by `build_markers`)
and `ind_zsm_dictionary.txt` (the wordfreq words a Malay or Indonesian dictionary confirms as one
standard's form only, built by `build_dictionary`: they keep their full log-odds).
Hand markers override word-frequency entries.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, reduce
from operator import add
from pathlib import Path

MARKERS_PATH = Path(__file__).with_name("ind_zsm_markers.txt")
WORDFREQ_PATH = Path(__file__).with_name("ind_zsm_wordfreq.txt")
DICTIONARY_PATH = Path(__file__).with_name("ind_zsm_dictionary.txt")
_WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")
_MIN_SUFFIX_WORD = 7
_CLITICS = ("nya", "lah", "kah", "pun", "ku", "mu")
# Word-frequency log-odds are shrunk: wordfreq's Indonesian leans on film subtitles and its Malay on
# news and Wikipedia, so formal words look more Malay than they are. Tuned on the first (training)
# half of the UDHR texts only.
WORDFREQ_SCALE = 0.5
WORDFREQ_CLIP = 2.0
# A word one standard's dictionary has and the other's lacks ("bilion", "kenderaan" vs "miliar",
# "kendaraan") is a spelling or word choice, not the lists' register: its log-odds count in full.
# Chosen on the development halves (see docs/corpus.md "Indonesian vs Malay").
DICTIONARY_SCALE = 1.0
DICTIONARY_CLIP = 3.0
_CACHE_WORDS = 200_000


@dataclass(frozen=True)
class MarkerModel:
    words: dict[str, float]  # single words and "w1 w2" bigrams -> log-odds for Malay
    suffixes: dict[str, float]
    hand: frozenset[str]  # the hand-written entries (they win over word frequencies)
    confirmed: frozenset[str] = frozenset()  # wordfreq words a dictionary confirms (full weight)
    wordfreq_scale: float = WORDFREQ_SCALE
    wordfreq_clip: float = WORDFREQ_CLIP
    # word -> weight, filled as words are met (see `weight`)
    _weights: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    def evidence(self, text: str) -> float:
        """Summed log-odds that the text is Malay rather than Indonesian (> 0 leans Malay)."""
        return self.tokens_evidence(_WORD.findall(text.lower()))

    def tokens_evidence(self, tokens: list[str]) -> float:
        """`evidence` of lower-cased word tokens: a bigram marker ("oleh itu") counts once in
        place of its two words, scanning left to right; every other token weighs `weight`.
        Summed in token order, one addition at a time (bit-identical to a plain loop on any
        Python: `sum` of floats is compensated from 3.12 on)."""
        if len(self._weights) >= _CACHE_WORDS:
            self._weights.clear()  # web text's long tail: keep memory bounded
        weights = self._weights
        ordered = list(map(weights.get, tokens))  # None for a word not met yet (it is rare)
        if None in ordered:
            for i, token in enumerate(tokens):
                if ordered[i] is None:
                    weight = weights.get(token)
                    if weight is None:
                        weight = weights[token] = self.word_weight(token)
                    ordered[i] = weight
        for i in reversed(self._bigrams_at(tokens)):
            ordered[i : i + 2] = [self.words[f"{tokens[i]} {tokens[i + 1]}"]]
        return reduce(add, ordered, 0.0)

    def _bigrams_at(self, tokens: list[str]) -> list[int]:
        """Where a bigram marker starts, taken left to right (a bigram's second word starts
        none); found by the few occurrences of the bigrams' first words, not a step per token."""
        starts = self._bigram_starts.intersection(tokens)
        if not starts:
            return []
        candidates: list[int] = []
        for word in starts:
            at = tokens.index(word)
            while True:
                candidates.append(at)
                try:
                    at = tokens.index(word, at + 1)
                except ValueError:
                    break
        found: list[int] = []
        for i in sorted(candidates):
            taken = bool(found) and found[-1] == i - 1
            if not taken and i + 1 < len(tokens) and f"{tokens[i]} {tokens[i + 1]}" in self.words:
                found.append(i)
        return found

    def weight(self, token: str) -> float:
        """`word_weight`, remembered (a corpus repeats its words; the clitic and suffix rules
        are the slow part of a lookup)."""
        weight = self._weights.get(token)
        if weight is None:
            weight = self._weights[token] = self.word_weight(token)
        return weight

    @cached_property
    def _bigram_starts(self) -> frozenset[str]:
        """The first words of the bigram markers: a text with none of them has no bigram."""
        return frozenset(key.split(" ", 1)[0] for key in self.words if " " in key)

    def word_weight(self, token: str) -> float:
        if token in self.hand:
            return self.words[token]
        if token not in self.words:
            # Enclitics (-nya, -ku, -mu, -lah, -kah, -pun) attach to any word in both languages:
            # uangmu weighs like uang, kerananya like kerana.
            for clitic in _CLITICS:
                stem = token.removesuffix(clitic)
                if stem != token and len(stem) >= 3 and stem in self.words:
                    return self.word_weight(stem)
        counted = self.words.get(token, 0.0)
        if len(token) >= _MIN_SUFFIX_WORD:
            for suffix, weight in self.suffixes.items():
                # unless the word's own counts say the other standard: "peneliti" (researcher,
                # Indonesian) ends like "kualiti" but is teliti + pe-
                if token.endswith(suffix) and counted * weight >= 0:
                    return weight
        if token in self.confirmed:
            return max(-DICTIONARY_CLIP, min(DICTIONARY_CLIP, DICTIONARY_SCALE * counted))
        value = self.wordfreq_scale * counted
        return max(-self.wordfreq_clip, min(self.wordfreq_clip, value))


def _read_table(path: Path) -> list[tuple[str, float]]:
    rows: list[tuple[str, float]] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.rsplit("\t", 1)
        rows.append((key.strip().lower(), float(value)))
    return rows


def _read_words(path: Path) -> frozenset[str]:
    if not path.exists():
        return frozenset()
    lines = (raw.strip() for raw in path.read_text(encoding="utf-8").splitlines())
    return frozenset(line.split("\t", 1)[0] for line in lines if line and not line.startswith("#"))


def load_model(
    markers: Path = MARKERS_PATH,
    wordfreq: Path | None = WORDFREQ_PATH,
    dictionary: Path | None = DICTIONARY_PATH,
) -> MarkerModel:
    words: dict[str, float] = {}
    if wordfreq is not None and wordfreq.exists():
        words.update(_read_table(wordfreq))
    confirmed = _read_words(dictionary) if dictionary is not None else frozenset()
    suffixes: dict[str, float] = {}
    hand: set[str] = set()
    for key, value in _read_table(markers):
        if key.startswith("*"):
            suffixes[key[1:]] = value
        else:
            words[key] = value
            hand.add(key)
    return MarkerModel(words, suffixes, frozenset(hand), confirmed - hand)


@lru_cache(maxsize=1)
def default_model() -> MarkerModel:
    return load_model()


def ind_zsm_evidence(text: str) -> float:
    """Malay-vs-Indonesian log-odds of a text from the shipped marker files."""
    return default_model().evidence(text)
