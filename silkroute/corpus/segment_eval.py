"""Compare word segmenters on the authored gold sentences in `segment_gold.txt`.

Scores are word-level F1 over character spans (a predicted word counts only when both of its
boundaries match gold) and the share of sentences segmented exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from silkroute.corpus import segment

GOLD_PATH = Path(__file__).with_name("segment_gold.txt")


def gold_sentences(path: Path = GOLD_PATH) -> dict[str, list[list[str]]]:
    out: dict[str, list[list[str]]] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            script, words = raw.split("\t", 1)
            out.setdefault(script, []).append(words.strip().split("|"))
    return out


def spans(words: list[str]) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    pos = 0
    for word in words:
        out.add((pos, pos + len(word)))
        pos += len(word)
    return out


def score(segmenter: Callable[[str], list[str]], sentences: list[list[str]]) -> dict[str, float]:
    tp = n_pred = n_gold = exact = 0
    for gold in sentences:
        predicted = [w for w in (x.strip() for x in segmenter("".join(gold))) if w]
        g, p = spans(gold), spans(predicted)
        tp += len(g & p)
        n_pred += len(p)
        n_gold += len(g)
        exact += g == p
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return {
        "precision": round(precision, 3),
        "recall": round(recall, 3),
        "f1": round(f1, 3),
        "exact": round(exact / len(sentences), 3),
        "sentences": len(sentences),
    }


def compare_segmenters() -> dict[str, dict[str, dict[str, float]]]:
    """Per script: ICU, each installed library segmenter, and the one `segment.words` picks."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for script, sentences in gold_sentences().items():
        locale = segment.SCRIPT_LOCALE[script]
        candidates: dict[str, Callable[[str], list[str]]] = {
            "icu": lambda t, loc=locale: segment.icu_words(t, loc)  # type: ignore[misc]
        }
        for name, library in segment.library_segmenters(script).items():
            candidates[name] = library
        candidates["silkroute (words)"] = lambda t, s=script: segment.words(t, s)  # type: ignore[misc]
        results[script] = {name: score(fn, sentences) for name, fn in candidates.items()}
    return results


def main() -> None:
    for script, results in compare_segmenters().items():
        for name, result in results.items():
            print(f"{script}\t{name}\t{json.dumps(result)}")


if __name__ == "__main__":
    main()
