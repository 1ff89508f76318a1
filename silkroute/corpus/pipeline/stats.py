"""Counts per stage and language: documents, words, bytes in and out, removal reasons."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from silkroute.corpus.document import Document
from silkroute.corpus.segment import count_words


def word_count(doc: Document) -> int:
    # Segmentation is the expensive part of stats: cache it until the text changes length.
    cached = doc.meta.get("_words")
    if cached is not None and doc.meta.get("_words_len") == len(doc.text):
        return int(cached)
    n = count_words(doc.text, doc.meta.get("script"))
    doc.meta["_words"], doc.meta["_words_len"] = n, len(doc.text)
    return n


def _add(
    table: dict[str, dict[str, int]], doc: Document, words: bool, size: int | None = None
) -> int:
    """Counts the document in its language's row; returns its size in UTF-8 bytes (`size`:
    already known, the text unchanged since)."""
    lang = doc.lang
    row = table.get(lang)
    if row is None:  # not setdefault: its default dict would be built for every document
        row = table[lang] = {"docs": 0, "words": 0, "bytes": 0}
    row["docs"] += 1
    if words:  # segmenting every document twice per stage is the price: only when asked
        row["words"] += word_count(doc)
    if size is None:
        text = doc.text
        size = len(text) if text.isascii() else len(text.encode())  # isascii() is O(1)
    row["bytes"] += size
    return size


@dataclass
class StageStats:
    before: dict[str, dict[str, int]] = field(default_factory=dict)
    after: dict[str, dict[str, int]] = field(default_factory=dict)
    removed: Counter[str] = field(default_factory=Counter)
    counters: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    words: bool = False  # count words per language (the config's `count_words`)

    def saw(self, doc: Document) -> int:
        """Counts a document coming in; returns its size in bytes (for `kept`)."""
        return _add(self.before, doc, self.words)

    def kept(self, doc: Document, size: int | None = None) -> None:
        """Counts a document going out; `size`: its bytes from `saw`, where the stage did not
        change its text (so a long non-ASCII text is not encoded twice)."""
        _add(self.after, doc, self.words, size)

    def to_json(self) -> dict[str, Any]:
        return {
            "before": self.before,
            "after": self.after,
            "removed": dict(self.removed),
            "counters": dict(self.counters),
            "seconds": round(self.seconds, 4),
        }


def merge_stats(items: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """Sum per-shard stage stats ({stage: StageStats.to_json()}) into one run total."""
    total: dict[str, Any] = {}
    for item in items:
        for stage, data in item.items():
            into = total.setdefault(
                stage, {"before": {}, "after": {}, "removed": {}, "counters": {}, "seconds": 0.0}
            )
            for side in ("before", "after"):
                for lang, row in data[side].items():
                    dest = into[side].setdefault(lang, {"docs": 0, "words": 0, "bytes": 0})
                    for key, value in row.items():
                        dest[key] += value
            for key in ("removed", "counters"):
                for name, value in data[key].items():
                    into[key][name] = into[key].get(name, 0) + value
            into["seconds"] += data["seconds"]
    return total
