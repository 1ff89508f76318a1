"""Labelled language-ID evaluation sets.

- `udhr_held_out`: the second half of each UDHR text in shared/data. IN-DOMAIN: the trigram
  profiles are trained on the first half of the same documents, so it flatters our detector.
- `authored`: `eval_authored.txt`, everyday sentences written by hand for this project (20 per
  language); not from UDHR and not used to build any profile or marker weight.
- `spacy_examples`: the example sentences spaCy's wheel ships per language
  (`spacy.lang.<code>.examples`, written by spaCy's contributors: news-like, with names), where
  spaCy is installed (the `bench` extra). Out of domain and not ours, but tiny (7-8 a language):
  a smoke test, not a benchmark. Never used for tuning.
"""

from __future__ import annotations

from pathlib import Path

from silkroute.corpus.langid.udhr import UDHR_FILES, split_train_test, udhr_lines

AUTHORED_PATH = Path(__file__).with_name("eval_authored.txt")
MIN_CHARS = 20


def authored() -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for raw in AUTHORED_PATH.read_text(encoding="utf-8").splitlines():
        if raw.strip() and not raw.startswith("#"):
            label, text = raw.split("\t", 1)
            rows.append((label, text.strip()))
    return rows


SPACY_LABELS = {"id": "ind_Latn", "ms": "zsm_Latn", "vi": "vie_Latn", "en": "eng_Latn"}


def spacy_examples() -> list[tuple[str, str]]:
    """(label, sentence) from spaCy's shipped examples; empty where spaCy is not installed."""
    import importlib

    rows: list[tuple[str, str]] = []
    for code, label in SPACY_LABELS.items():
        try:
            module = importlib.import_module(f"spacy.lang.{code}.examples")
        except ImportError:
            return []
        rows.extend((label, str(text)) for text in module.sentences if len(text) >= MIN_CHARS)
    return rows


def udhr_held_out(data_dir: Path, labels: list[str] | None = None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for label in labels or list(UDHR_FILES):
        _, test = split_train_test(udhr_lines(data_dir, UDHR_FILES[label]))
        rows.extend((label, line) for line in test if len(line) >= MIN_CHARS)
    return rows
