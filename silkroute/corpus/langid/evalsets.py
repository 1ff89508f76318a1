"""Labelled language-ID evaluation sets.

- `udhr_held_out`: the second half of each UDHR text in shared/data. IN-DOMAIN: the trigram
  profiles are trained on the first half of the same documents, so it flatters our detector.
- `authored`: `eval_authored.txt`, everyday sentences written by hand for this project (20 per
  language); not from UDHR and not used to build any profile or marker weight.
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


def udhr_held_out(data_dir: Path, labels: list[str] | None = None) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    for label in labels or list(UDHR_FILES):
        _, test = split_train_test(udhr_lines(data_dir, UDHR_FILES[label]))
        rows.extend((label, line) for line in test if len(line) >= MIN_CHARS)
    return rows
